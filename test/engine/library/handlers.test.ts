import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNifti, writeNifti } from '../../../main/io/nifti.js';
import { frameData } from '../../../main/io/volume.js';
import { createEngine } from '../../../main/engine/create.js';
import { tempDir, tinyLabels, tinyVolume } from './helpers.js';

describe('library contract handlers', () => {
  it('import emits progress and library.changed, then list, readVolume and export answer from the workspace', async () => {
    const src = tempDir('src');
    const cine = tinyVolume({ frames: 3, seed: 4 });
    await writeNifti(join(src, 'cine.nii.gz'), cine);
    await writeNifti(join(src, 'cine_gt.nii.gz'), tinyLabels(cine, [2]));
    const ws = tempDir('ws');
    const engine = createEngine({ workspace: ws });
    const events: Array<[string, unknown]> = [];
    engine.onEvent((e, d) => events.push([e, d]));

    const report = await engine.call('library.import', { paths: [src, join(src, 'missing.nii')] });
    expect(report).toMatchObject({ volumesAdded: 1, annotationsAdded: 1, skipped: [{ path: join(src, 'missing.nii'), reason: 'no such file or folder' }] });
    expect(events.filter(([e]) => e === 'library.changed')).toEqual([['library.changed', { reason: 'import' }]]);
    const prog = events.filter(([e, d]) => e === 'request.progress' && (d as { stage: string }).stage === 'import').map(([, d]) => d as { done: number; total: number });
    expect(prog.at(-1)).toMatchObject({ done: 2, total: 2 });

    const { studies } = await engine.call('library.listStudies', {});
    const vol = studies[0]!.series[0]!.volumes[0]!;
    expect([vol.name, vol.frames, vol.dims]).toEqual(['cine', 3, [6, 5, 4]]);
    expect(vol.annotations[0]).toMatchObject({ source: 'imported', annotatedSlices: 3 });

    const f2 = await engine.call('library.readVolume', { volumeId: vol.id, frame: 2 });
    expect(f2.dtype).toBe('int16');
    const buf = Buffer.from(f2.data, 'base64');
    const voxels = new Int16Array(buf.buffer, buf.byteOffset, buf.byteLength / 2);
    expect(Array.from(voxels)).toEqual(Array.from(frameData(cine, 2)));
    expect(f2.origin).toEqual(cine.origin);

    const out = join(tempDir('out'), 'nested');
    const { files } = await engine.call('library.export', { target: vol.id, out });
    expect(files).toEqual([{ annotationId: vol.annotations[0]!.id, volumeId: vol.id, path: join(out, 'cine_gt.nii.gz') }]);
    const back = await readNifti(files[0]!.path);
    expect(Array.from(back.data)).toEqual(Array.from(tinyLabels(cine, [2]).data));
    expect(existsSync(join(ws, 'catalog.sqlite'))).toBe(true);
  });

  it('answers typed errors for missing records and bad frames', async () => {
    const src = tempDir('src');
    await writeNifti(join(src, 'one.nii'), tinyVolume());
    const engine = createEngine({ workspace: tempDir('ws') });
    await engine.call('library.import', { paths: [src] });
    const { studies } = await engine.call('library.listStudies');
    const id = studies[0]!.series[0]!.volumes[0]!.id;
    await expect(engine.call('library.readVolume', { volumeId: 'vol-nope', frame: 0 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(engine.call('library.readVolume', { volumeId: id, frame: 1 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(engine.call('library.export', { target: 'nobody', out: tempDir('o') })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const bad = await engine.handle({ id: 1, method: 'library.import', params: { paths: [] } });
    expect(bad).toMatchObject({ ok: false, error: { code: 'INVALID_PARAMS' } });
  });

  it('engine.cancel stops a running import', async () => {
    const src = tempDir('src');
    for (let i = 0; i < 6; i++) await writeNifti(join(src, `v${i}.nii.gz`), tinyVolume({ seed: i + 10, dims: [40, 40, 10] }));
    const engine = createEngine({ workspace: tempDir('ws') });
    engine.onEvent((e, d) => {
      const p = d as { requestId: string | number; stage: string; done: number };
      if (e === 'request.progress' && p.stage === 'import' && p.done === 2) void engine.handle({ id: 'c', method: 'engine.cancel', params: { requestId: 'imp' } });
    });
    const res = await engine.handle({ id: 'imp', method: 'library.import', params: { paths: [src] } });
    expect(res).toMatchObject({ ok: false, error: { code: 'CANCELLED' } });
    const { studies } = await engine.call('library.listStudies');
    const n = studies.flatMap((s) => s.series).flatMap((s) => s.volumes).length;
    expect(n).toBeGreaterThanOrEqual(2);
    expect(n).toBeLessThan(6);
  });
});
