import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../../main/engine/create.js';
import { readNifti, writeNifti } from '../../../main/io/nifti.js';
import { openLibrary } from '../../../main/library/library.js';
import { tempDir, tinyLabels, tinyVolume } from './helpers.js';

const b64 = (a: Uint8Array) => Buffer.from(a).toString('base64');

/** A workspace holding one 6x5x4 cine of 2 frames with an imported label map on slice 1. */
async function setup() {
  const src = tempDir('src');
  const cine = tinyVolume({ frames: 2, seed: 3 });
  await writeNifti(join(src, 'cine.nii.gz'), cine);
  await writeNifti(join(src, 'cine_gt.nii.gz'), tinyLabels(cine, [1]));
  const ws = tempDir('ws');
  const engine = createEngine({ workspace: ws });
  await engine.call('library.import', { paths: [src] });
  const { studies } = await engine.call('library.listStudies', {});
  const vol = studies[0]!.series[0]!.volumes[0]!;
  return { engine, ws, cine, vol, imported: vol.annotations[0]!.id };
}

describe('annotation save and read (slice edits)', () => {
  it('creates a manual annotation on first save, updates it atomically, and the NIfTI file holds exactly the slices', async () => {
    const { engine, ws, cine, vol } = await setup();
    const events: string[] = [];
    engine.onEvent((e, d) => e === 'library.changed' && events.push((d as { reason: string }).reason));
    const s2 = Uint8Array.from({ length: 30 }, (_, n) => (n % 7 === 0 ? 3 : n % 5 === 0 ? 1 : 0));
    const first = await engine.call('library.saveAnnotation', {
      volumeId: vol.id,
      frame: 1,
      slices: [{ k: 2, data: b64(s2) }],
      annotatedSlices: [2],
      labels: [{ value: 1, name: 'RV', color: '#ff0000' }, { value: 3, name: 'LV', color: '#0000ff' }],
    });
    expect(first).toMatchObject({ created: true, annotatedSlices: 1 });
    expect(events).toEqual(['annotation']);

    const lib = openLibrary(ws);
    const row = lib.catalog.annotation(first.annotationId)!;
    expect(row.source).toBe('manual');
    const file = await readNifti(lib.abs(row.storedPath));
    // The label map lives in the volume's geometry, all frames, zeros except the saved slice.
    expect([file.dims, file.frames, file.spacing, file.origin]).toEqual([cine.dims, 2, cine.spacing, cine.origin]);
    const expected = new Uint8Array(6 * 5 * 4 * 2);
    expected.set(s2, 6 * 5 * 4 + 2 * 30);
    expect(Array.from(file.data)).toEqual(Array.from(expected));

    // A second save patches another slice of frame 0 and leaves the first one alone; the old file goes.
    const s0 = new Uint8Array(30).fill(2);
    const second = await engine.call('library.saveAnnotation', {
      volumeId: vol.id,
      annotationId: first.annotationId,
      frame: 0,
      slices: [{ k: 0, data: b64(s0) }],
      annotatedSlices: [0, 3],
    });
    expect(second).toMatchObject({ annotationId: first.annotationId, created: false, annotatedSlices: 3 });
    const row2 = lib.catalog.annotation(first.annotationId)!;
    expect(row2.storedPath).not.toBe(row.storedPath);
    expect(existsSync(lib.abs(row.storedPath))).toBe(false);
    expect(readdirSync(join(ws, 'annotations')).filter((n) => n.startsWith(first.annotationId))).toHaveLength(1);
    expect(lib.catalog.annotatedSlices(first.annotationId)).toEqual([[0, 0], [0, 3], [1, 2]]);
    expect(row2.labels.map((l) => l.name)).toEqual(['RV', 'LV']);

    const f0 = await engine.call('library.readAnnotation', { annotationId: first.annotationId, frame: 0 });
    const back0 = Buffer.from(f0.data, 'base64');
    expect(back0.length).toBe(120);
    expect(Array.from(back0.subarray(0, 30))).toEqual(Array.from(s0));
    expect(back0.subarray(30).every((x) => x === 0)).toBe(true);
    const f1 = await engine.call('library.readAnnotation', { annotationId: first.annotationId, frame: 1 });
    expect(Array.from(Buffer.from(f1.data, 'base64').subarray(60, 90))).toEqual(Array.from(s2));
    expect(f1.annotatedSlices).toEqual([[0, 0], [0, 3], [1, 2]]);
    expect(f1.labels).toEqual([{ value: 1, name: 'RV', color: '#ff0000' }, { value: 3, name: 'LV', color: '#0000ff' }]);

    const { studies } = await engine.call('library.listStudies', {});
    const anns = studies[0]!.series[0]!.volumes[0]!.annotations;
    expect(anns.map((a) => [a.source, a.annotatedSlices])).toEqual([['imported', 2], ['manual', 3]]);
    lib.close();
  });

  it('reads an imported annotation frame as uint8 labels', async () => {
    const { engine, cine, imported } = await setup();
    const r = await engine.call('library.readAnnotation', { annotationId: imported, frame: 1 });
    const want = tinyLabels(cine, [1]).data.subarray(120, 240);
    expect(Array.from(Buffer.from(r.data, 'base64'))).toEqual(Array.from(want));
    expect(r.source).toBe('imported');
  });

  it('refuses bad saves with the reason, and writes nothing', async () => {
    const { engine, ws, vol, imported } = await setup();
    const ok = b64(new Uint8Array(30));
    const attempt = (p: Record<string, unknown>) =>
      engine.call('library.saveAnnotation', { volumeId: vol.id, frame: 0, slices: [{ k: 0, data: ok }], ...p } as never);
    await expect(attempt({ slices: [{ k: 0, data: b64(new Uint8Array(29)) }] })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringContaining('slice 0 holds 29 bytes'),
    });
    await expect(attempt({ slices: [{ k: 4, data: ok }] })).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('slice 4 outside') });
    await expect(attempt({ frame: 2 })).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('frame 2 does not exist') });
    await expect(attempt({ annotationId: imported })).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('is imported') });
    await expect(attempt({ volumeId: 'vol-nope' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(attempt({ annotationId: 'ann-nope' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(engine.call('library.readAnnotation', { annotationId: imported, frame: 5 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    expect(readdirSync(join(ws, 'annotations'))).toHaveLength(1);
  });

  it('two saves racing without an id end in one manual annotation holding both slices', async () => {
    const { engine, vol } = await setup();
    const one = new Uint8Array(30).fill(1);
    const a = engine.call('library.saveAnnotation', { volumeId: vol.id, frame: 0, slices: [{ k: 0, data: b64(one) }] });
    const b = engine.call('library.saveAnnotation', { volumeId: vol.id, frame: 0, slices: [{ k: 3, data: b64(one) }] });
    const [ra, rb] = await Promise.all([a, b]);
    expect([ra.created, rb.created]).toEqual([true, false]);
    expect(rb.annotationId).toBe(ra.annotationId);
    const r = Buffer.from((await engine.call('library.readAnnotation', { annotationId: ra.annotationId, frame: 0 })).data, 'base64');
    expect([r[0], r[29], r[30], r[89], r[90], r[119]]).toEqual([1, 1, 0, 0, 1, 1]);
  });
});
