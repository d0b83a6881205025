import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readNifti, writeNifti } from '../../../main/io/nifti.js';
import { importPaths } from '../../../main/library/import/pipeline.js';
import type { ImportProgress } from '../../../main/library/import/types.js';
import { openLibrary } from '../../../main/library/library.js';
import { dataPath, hasData } from '../../support/data.js';
import { tempDir, tinyLabels, tinyVolume } from './helpers.js';

async function syntheticFolder(): Promise<string> {
  const d = tempDir('src');
  const a = tinyVolume({ seed: 1 });
  await writeNifti(join(d, 'caseA.nii.gz'), a);
  await writeNifti(join(d, 'caseA_gt.nii.gz'), tinyLabels(a, [1, 3]));
  const b = tinyVolume({ seed: 2, frames: 3 });
  await writeNifti(join(d, 'caseB.nii'), b);
  return d;
}

describe('import (synthetic files)', () => {
  it('imports images with their label maps, reports progress, and a second run adds nothing', async () => {
    const src = await syntheticFolder();
    const lib = openLibrary(tempDir());
    const progress: ImportProgress[] = [];
    const r1 = await importPaths(lib, { paths: [src], onProgress: (p) => progress.push(p) });
    expect(r1).toMatchObject({ studiesAdded: 1, seriesAdded: 2, volumesAdded: 2, annotationsAdded: 1, alreadyPresent: 0, skipped: [], filesScanned: 3 });
    const last = progress.filter((p) => p.stage === 'import').at(-1)!;
    expect([last.done, last.total]).toEqual([3, 3]);

    const [study] = lib.catalog.listStudies();
    const vols = study!.series.flatMap((s) => s.volumes);
    const a = vols.find((v) => v.name === 'caseA')!;
    expect(a.annotations).toEqual([{ id: expect.any(String), source: 'imported', modelId: null, annotatedSlices: 2 }]);
    expect(lib.catalog.annotatedSlices(a.annotations[0]!.id)).toEqual([[0, 1], [0, 3]]);
    expect(lib.catalog.annotation(a.annotations[0]!.id)!.labels.map((l) => l.name)).toEqual(['label 1', 'label 2', 'label 3']);
    expect(vols.find((v) => v.name === 'caseB')!.frames).toBe(3);

    const r2 = await importPaths(lib, { paths: [src] });
    expect(r2).toMatchObject({ studiesAdded: 0, seriesAdded: 0, volumesAdded: 0, annotationsAdded: 0, alreadyPresent: 2 });
    expect(lib.catalog.counts()).toEqual({ patients: 1, studies: 1, series: 2, volumes: 2, annotations: 1 });
    lib.close();
  });

  it('the library keeps the data when the source folder is gone', async () => {
    const src = await syntheticFolder();
    const lib = openLibrary(tempDir());
    await importPaths(lib, { paths: [src] });
    const before = await readNifti(join(src, 'caseB.nii'));
    const { rmSync } = await import('node:fs');
    rmSync(src, { recursive: true, force: true });
    const row = lib.catalog.listStudies()[0]!.series.flatMap((s) => s.volumes).find((v) => v.name === 'caseB')!;
    const stored = await readNifti(lib.abs(lib.catalog.volume(row.id)!.storedPath));
    expect(Array.from(stored.data)).toEqual(Array.from(before.data));
    lib.close();
  });

  it('a label map added later becomes an annotation of the volume already there', async () => {
    const src = tempDir('src');
    const a = tinyVolume({ seed: 5 });
    await writeNifti(join(src, 'x.nii.gz'), a);
    const lib = openLibrary(tempDir());
    await importPaths(lib, { paths: [src] });
    await writeNifti(join(src, 'x_mask.nii.gz'), tinyLabels(a, [0]));
    const r = await importPaths(lib, { paths: [src], labels: '*_mask.nii.gz' });
    expect(r).toMatchObject({ volumesAdded: 0, alreadyPresent: 1, annotationsAdded: 1, skipped: [] });
    lib.close();
  });

  it('bad files get a per-file reason and the rest is imported', async () => {
    const src = await syntheticFolder();
    const good = readFileSync(join(src, 'caseA.nii.gz'));
    writeFileSync(join(src, 'zero.nii.gz'), '');
    writeFileSync(join(src, 'truncated.nii.gz'), good.subarray(0, Math.floor(good.length / 2)));
    // A header that claims more voxels than the file holds.
    const plain = readFileSync(join(src, 'caseB.nii'));
    const liar = Buffer.from(plain);
    liar.writeInt16LE(60, 42); // dim[1] 6 → 60
    writeFileSync(join(src, 'liar.nii'), liar);
    // A label map of the wrong size for its image.
    const c = tinyVolume({ seed: 9 });
    await writeNifti(join(src, 'caseC.nii.gz'), c);
    await writeNifti(join(src, 'caseC_gt.nii.gz'), tinyLabels(tinyVolume({ dims: [6, 5, 3] }), [0]));
    writeFileSync(join(src, 'readme.txt'), 'notes');

    const lib = openLibrary(tempDir());
    const r = await importPaths(lib, { paths: [src] });
    const reasons = Object.fromEntries(r.skipped.map((s) => [s.path.slice(src.length + 1), s.reason]));
    expect(Object.keys(reasons).sort()).toEqual(['caseC_gt.nii.gz', 'liar.nii', 'readme.txt', 'truncated.nii.gz', 'zero.nii.gz']);
    expect(reasons['zero.nii.gz']).toBe('empty file (0 bytes)');
    expect(reasons['caseC_gt.nii.gz']).toMatch(/^label map geometry does not match image caseC\.nii\.gz/);
    expect(reasons['truncated.nii.gz']).toMatch(/truncat|unexpected end|incomplete|short/i);
    expect(reasons['liar.nii']).toMatch(/\d+ bytes/);
    expect(r.volumesAdded).toBe(3); // caseA, caseB, caseC (without its label map)
    expect(r.annotationsAdded).toBe(1);
    lib.close();
  });

  it('a store failure (here: volumes/ replaced by a file) fails those files with a reason, not the import', async () => {
    const src = await syntheticFolder();
    const lib = openLibrary(tempDir());
    rmSync(lib.layout.volumes, { recursive: true });
    writeFileSync(lib.layout.volumes, 'not a folder');
    const r = await importPaths(lib, { paths: [src] });
    expect(r.volumesAdded).toBe(0);
    expect(r.skipped.map((s) => s.path.slice(src.length + 1)).sort()).toEqual(['caseA.nii.gz', 'caseA_gt.nii.gz', 'caseB.nii']);
    for (const s of r.skipped) expect(s.reason).toMatch(/^could not be stored in the library: .*ENOTDIR/);
    expect(lib.catalog.counts().studies).toBe(0);
    lib.close();
  });

  it('stops at the next file when aborted and keeps what it committed', async () => {
    const src = await syntheticFolder();
    const lib = openLibrary(tempDir());
    const ctl = new AbortController();
    const run = importPaths(lib, {
      paths: [src],
      signal: ctl.signal,
      onProgress: (p) => {
        if (p.stage === 'import' && p.done >= 2) ctl.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(lib.catalog.counts().volumes).toBe(1);
    lib.close();
  });
});

describe.skipIf(!hasData('acdc'))('import: ACDC label map with mismatched geometry', () => {
  it(`rejects a cropped _gt with a reason and imports its image`, async () => {
    const d = join(tempDir('acdc'), 'patient001');
    mkdirSync(d);
    const srcDir = dataPath('acdc/training/patient001');
    copyFileSync(join(srcDir, 'patient001_frame01.nii.gz'), join(d, 'patient001_frame01.nii.gz'));
    copyFileSync(join(srcDir, 'Info.cfg'), join(d, 'Info.cfg'));
    const gt = await readNifti(join(srcDir, 'patient001_frame01_gt.nii.gz'));
    const [ni, nj] = gt.dims;
    const cropped = { ...gt, dims: [ni, nj, 8] as [number, number, number], data: gt.data.slice(0, ni * nj * 8) };
    await writeNifti(join(d, 'patient001_frame01_gt.nii.gz'), cropped);
    writeFileSync(join(d, 'junk.nii.gz'), gzipSync(Buffer.from('not nifti at all')));
    const lib = openLibrary(tempDir());
    const r = await importPaths(lib, { paths: [d] });
    expect(r.volumesAdded).toBe(1);
    expect(r.annotationsAdded).toBe(0);
    expect(r.skipped).toEqual([
      { path: join(d, 'junk.nii.gz'), reason: 'too short for a NIfTI header: 16 bytes after decompression' },
      {
        path: join(d, 'patient001_frame01_gt.nii.gz'),
        reason: 'label map geometry does not match image patient001_frame01.nii.gz (patient001_frame01_gt.nii.gz: dims 216x256x8 vs 216x256x10)',
      },
    ]);
    lib.close();
  });
});
