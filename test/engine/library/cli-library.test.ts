import Database from 'better-sqlite3';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeNifti } from '../../../main/io/nifti.js';
import { openLibrary } from '../../../main/library/library.js';
import { importPaths } from '../../../main/library/import/pipeline.js';
import { UsageError } from '../../../main/cli/command.js';
import { exportCommand } from '../../../main/cli/commands/export.js';
import { importCommand } from '../../../main/cli/commands/import.js';
import { runCli, spawnCli } from '../../support/cli.js';
import { dataPath, hasData } from '../../support/data.js';
import { tempDir, tinyLabels, tinyVolume } from './helpers.js';

describe('pix2rep import / studies / export', () => {
  it('imports with a summary, lists the library, exports a study', async () => {
    const src = tempDir('src');
    const v = tinyVolume();
    await writeNifti(join(src, 'scan.nii.gz'), v);
    await writeNifti(join(src, 'scan_seg.nii.gz'), tinyLabels(v, [0, 1]));
    const ws = tempDir('ws');
    const r = runCli(['import', src, '--labels', '*_seg.nii.gz', '--workspace', ws, '--json']);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ workspace: ws, volumesAdded: 1, annotationsAdded: 1, alreadyPresent: 0, skipped: [] });

    const again = runCli(['import', src, '--labels', '*_seg.nii.gz', '--workspace', ws]);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/Added\s+0 studies, 0 series, 0 volumes, 0 annotations/);
    expect(again.stdout).toMatch(/Already there\s+1 volumes/);

    const list = JSON.parse(runCli(['studies', '--workspace', ws, '--json']).stdout);
    expect(list.studies).toHaveLength(1);
    const study = list.studies[0];
    const text = runCli(['studies', '--workspace', ws]).stdout;
    expect(text).toContain('scan  6x5x4  1.5x1.25x5 mm  imported: 2 slices');

    const out = tempDir('out');
    const ex = runCli(['export', study.id, '--out', out, '--workspace', ws]);
    expect(ex.status).toBe(0);
    expect(readdirSync(out)).toEqual(['scan_gt.nii.gz']);
    // (Unknown targets and missing --out are the engine's NOT_FOUND and a UsageError: tested without spawning.)
  });

  it('usage errors: export needs one target and --out, import needs a path', async () => {
    await expect(exportCommand.run(['study-x'])).rejects.toThrow(UsageError);
    await expect(exportCommand.run(['a', 'b', '--out', 'o'])).rejects.toThrow(UsageError);
    await expect(importCommand.run([])).rejects.toThrow(UsageError);
  });

  it('reports every skipped file with its reason', () => {
    const ws = tempDir('ws');
    const r = runCli(['import', join(tempDir('empty'), 'nothing-here'), '--workspace', ws]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Skipped\s+1 files:\n\s+.*nothing-here: no such file or folder/);
  });
});

describe.skipIf(!hasData('acdc'))('an import killed midway', () => {
  it('leaves a consistent catalogue, and a re-import completes it', async () => {
    const ws = tempDir('ws');
    const ids = ['001', '002', '003', '004', '005', '006', '007', '008', '009', '010', '021', '022', '023', '024', '025', '026'];
    const patients = ids.map((n) => dataPath(`acdc/training/patient${n}`));
    const child = spawnCli(['import', ...patients, '--workspace', ws]);
    const exited = new Promise((r) => child.once('exit', r));
    // Watch the catalogue itself (not the child's buffered output) and kill once a few volumes are in.
    const catalog = join(ws, 'catalog.sqlite');
    let killed = false;
    while (!killed && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 25));
      if (!existsSync(catalog)) continue;
      try {
        const db = new Database(catalog, { readonly: true, fileMustExist: true });
        const n = (db.prepare('SELECT COUNT(*) AS n FROM volumes').get() as { n: number }).n;
        db.close();
        if (n >= 3) killed = child.kill('SIGKILL');
      } catch {
        // schema not created yet, or the catalogue is busy: look again
      }
    }
    await exited;
    expect(child.signalCode).toBe('SIGKILL');

    const lib = openLibrary(ws, { orphanMinAgeMs: 0 });
    const n = lib.catalog.counts();
    expect(n.volumes).toBeGreaterThan(0);
    expect(n.volumes).toBeLessThan(32);
    const emptyStudies = lib.db.prepare(
      'SELECT COUNT(*) AS n FROM studies st WHERE NOT EXISTS (SELECT 1 FROM series se JOIN volumes v ON v.series_id = se.id WHERE se.study_id = st.id)',
    ).get() as { n: number };
    expect(emptyStudies.n).toBe(0);
    for (const p of lib.catalog.storedPaths()) expect(existsSync(lib.abs(p))).toBe(true);
    // After cleanup no temp file and no unreferenced file remains.
    const referenced = new Set(lib.catalog.storedPaths().map((p) => lib.abs(p)));
    for (const d of [lib.layout.volumes, lib.layout.annotations]) for (const f of readdirSync(d)) expect(referenced.has(join(d, f))).toBe(true);
    expect(lib.db.pragma('integrity_check', { simple: true })).toBe('ok');

    const r = await importPaths(lib, { paths: patients });
    expect(r.volumesAdded + r.alreadyPresent).toBe(32);
    expect(lib.catalog.counts()).toEqual({ patients: 16, studies: 16, series: 16, volumes: 32, annotations: 32 });
    lib.close();
  });
});
