import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEngine } from '../../main/engine/create.js';
import type { Engine } from '../../main/engine/engine.js';
import { readNifti, writeNifti } from '../../main/io/nifti.js';
import { openLibrary } from '../../main/library/library.js';
import { EngineClient, provideClient } from '../../renderer/api/index.js';
import { useAnnotationsStore } from '../../renderer/stores/annotations.js';
import { paintDisc } from '../../renderer/tools/paint.js';
import { LoopbackTransport } from './support/loopback.js';

// A real engine on a temp workspace behind the loopback transport: the store's saves go through contract
// validation and the real annotation handlers, and the test reads the NIfTI file they wrote.
let engine: Engine;
let workspace: string;
let src: string;
let volumeId: string;
const DIMS: [number, number, number] = [8, 6, 3];
const GRID = { nx: 8, ny: 6, sx: 0.8, sy: 1.6 };

beforeEach(async () => {
  src = mkdtempSync(join(tmpdir(), 'pix2rep-ann-src-'));
  workspace = mkdtempSync(join(tmpdir(), 'pix2rep-ann-ws-'));
  await writeNifti(join(src, 'tiny.nii.gz'), {
    dims: DIMS,
    frames: 2,
    spacing: [0.8, 1.6, 5],
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    data: Int16Array.from({ length: 8 * 6 * 3 * 2 }, (_, n) => n % 50),
  });
  engine = createEngine({ workspace });
  await engine.call('library.import', { paths: [src] });
  const { studies } = await engine.call('library.listStudies', {});
  volumeId = studies[0]!.series[0]!.volumes[0]!.id;
  provideClient(new EngineClient(new LoopbackTransport(engine)));
  setActivePinia(createPinia());
});

afterEach(() => {
  rmSync(src, { recursive: true, force: true });
  rmSync(workspace, { recursive: true, force: true });
});

async function storedLabels(): Promise<{ data: Uint8Array; slices: Array<[number, number]> }> {
  const lib = openLibrary(workspace);
  try {
    const ann = lib.catalog.annotationsOf(volumeId).find((a) => a.source === 'manual')!;
    const v = await readNifti(lib.abs(ann.storedPath));
    return { data: v.data as Uint8Array, slices: lib.catalog.annotatedSlices(ann.id) };
  } finally {
    lib.close();
  }
}

describe('annotations store', () => {
  it('paints, undoes, redoes, and saves exactly the slice as it stands into a new manual annotation', async () => {
    const s = useAnnotationsStore();
    await s.open(volumeId, DIMS, 2, null);
    expect(s.palette.map((l) => l.name)).toEqual(['RV', 'MYO', 'LV']);

    const edit = s.begin(0, 1, 'brush')!;
    paintDisc(edit, GRID, { i: 3, j: 2 }, 1.6, 2);
    s.end();
    const slice = s.sliceOf(0, 1)!;
    // 1.6 mm on 0.8 x 1.6 mm pixels: i = 1..5 on row 2, i = 3 on rows 1 and 3.
    const painted = Array.from(slice.keys()).filter((n) => slice[n]);
    expect(painted).toEqual([1 * 8 + 3, 2 * 8 + 1, 2 * 8 + 2, 2 * 8 + 3, 2 * 8 + 4, 2 * 8 + 5, 3 * 8 + 3]);
    expect(s.isAnnotated(0, 1)).toBe(true);
    expect(s.saveState).toBe('pending');

    s.undo();
    expect(slice.every((v) => v === 0)).toBe(true);
    expect(s.historySize).toEqual({ undo: 0, redo: 1 });
    // The mark the stroke made goes with it, and comes back with it.
    expect(s.isAnnotated(0, 1)).toBe(false);
    s.redo();
    expect(Array.from(slice.keys()).filter((n) => slice[n])).toEqual(painted);
    expect(s.isAnnotated(0, 1)).toBe(true);

    await s.flush();
    expect(s.saveState).toBe('saved');
    expect(s.annotationId).toMatch(/^ann-/);
    const stored = await storedLabels();
    expect(stored.data.length).toBe(8 * 6 * 3 * 2);
    const want = new Uint8Array(8 * 6 * 3 * 2);
    for (const n of painted) want[48 + n] = 2;
    expect(Array.from(stored.data)).toEqual(Array.from(want));
    expect(stored.slices).toEqual([[0, 1]]);

    // Undo after the save is saved too: the file goes back to empty.
    s.undo();
    await s.flush();
    expect((await storedLabels()).data.every((v) => v === 0)).toBe(true);
  });

  it('saves by itself shortly after an edit, and a reopened store shows the saved labels, marks and palette', async () => {
    const s = useAnnotationsStore();
    await s.open(volumeId, DIMS, 2, null);
    await s.ensureFrame(1);
    const e = s.begin(1, 2, 'fill')!;
    e.set(0, 3);
    e.set(47, 3);
    s.end();
    s.setAnnotated(0, 0, true);
    s.renameLabel(3, 'LV cavity');
    expect(s.saveState).toBe('pending');
    // No explicit flush: the debounced save fires by itself.
    await expect.poll(() => s.saveState, { timeout: 10_000, interval: 50 }).toBe('saved');
    const id = s.annotationId;

    setActivePinia(createPinia());
    const again = useAnnotationsStore();
    await again.open(volumeId, DIMS, 2, id);
    await again.ensureFrame(1);
    const k2 = again.sliceOf(1, 2)!;
    expect([k2[0], k2[47], k2.slice(1, 47).some((v) => v !== 0)]).toEqual([3, 3, false]);
    expect(again.isAnnotated(0, 0)).toBe(true);
    expect(again.isAnnotated(1, 2)).toBe(true);
    expect(again.palette.find((l) => l.value === 3)!.name).toBe('LV cavity');
  });

  it('never saves half a stroke: a save during a stroke writes its slice without it, the end saves it whole', async () => {
    const s = useAnnotationsStore();
    await s.open(volumeId, DIMS, 2, null);
    const first = s.begin(0, 1, 'brush')!;
    first.set(0, 1);
    s.end();
    // Stroke 2 on the same slice, still being drawn when a save goes out.
    const second = s.begin(0, 1, 'brush')!;
    second.set(0, 3);
    second.set(5, 3);
    s.changed();
    await s.flush();
    const mid = (await storedLabels()).data;
    const n = 8 * 6;
    expect(Array.from(mid.subarray(n, 2 * n)).filter((v) => v).length).toBe(1);
    expect([mid[n], mid[n + 5]]).toEqual([1, 0]);
    // The screen shows the stroke meanwhile.
    expect([s.sliceOf(0, 1)![0], s.sliceOf(0, 1)![5]]).toEqual([3, 3]);
    s.end();
    await s.flush();
    const done = (await storedLabels()).data;
    expect([done[n], done[n + 5]]).toEqual([3, 3]);
  });

  it('says why a save failed, and keeps the edit for the next attempt', async () => {
    const s = useAnnotationsStore();
    await s.open('vol-missing', DIMS, 1, null);
    const e = s.begin(0, 0, 'brush')!;
    e.set(5, 1);
    s.end();
    await s.flush();
    expect(s.saveState).toBe('error');
    expect(s.saveError).toMatch(/no volume vol-missing/);
    const sent = (await import('../../renderer/api/index.js')).useClient().transport as LoopbackTransport;
    const before = sent.sent.length;
    await s.flush();
    const retry = JSON.parse(sent.sent.at(-1)!) as { method: string; params: { slices: Array<{ k: number }> } };
    expect(sent.sent.length).toBe(before + 1);
    expect([retry.method, retry.params.slices.map((x) => x.k)]).toEqual(['library.saveAnnotation', [0]]);
  });

  it('adds labels with free values and colours, up to 255', () => {
    const s = useAnnotationsStore();
    expect(s.addLabel()).toBe(1);
    s.setPalette([{ value: 1, name: 'RV', color: '#ff0000' }, { value: 3, name: 'LV', color: '#0000ff' }]);
    expect(s.addLabel()).toBe(2);
    expect(s.activeLabel).toBe(2);
    expect(s.palette.map((l) => l.value)).toEqual([1, 3, 2]);
    s.toggleLabel(3);
    expect(s.labels[3]!.visible).toBe(false);
  });
});

describe('fill between slices', () => {
  it('interpolates the slices between two annotated ones as one undoable command, leaving them unmarked', async () => {
    const s = useAnnotationsStore();
    await s.open(volumeId, DIMS, 2, null);
    // Slice 0: label 1 on i = 2..3; slice 2: label 1 on i = 2..5; every row.
    for (const [k, to] of [[0, 3], [2, 5]] as const) {
      const e = s.begin(0, k, 'brush')!;
      for (let j = 0; j < 6; j++) for (let i = 2; i <= to; i++) e.set(i + j * 8, 1);
      s.end();
    }
    expect(s.annotated[0]).toEqual([0, 2]);
    expect(s.fillBetween(0, GRID)).toBe(1);
    const mid = s.sliceOf(0, 1)!;
    // Signed distances in mm (0.8 mm along i): the blend crosses zero at i = 4.5, so i = 2..4.
    expect(Array.from(mid.subarray(0, 8))).toEqual([0, 0, 1, 1, 1, 0, 0, 0]);
    expect(s.isAnnotated(0, 1)).toBe(false);
    s.undo();
    expect(mid.every((v) => v === 0)).toBe(true);
  });
});

describe('reference annotation', () => {
  it('shows an imported label map read-only, and copies a frame of it into the edited annotation as one undoable command', async () => {
    const labels = new Uint8Array(8 * 6 * 3 * 2);
    labels[1 * 48 + 5] = 2; // frame 0, slice 1
    labels[2 * 48 + 7] = 3; // frame 0, slice 2
    labels[144 + 0] = 1; // frame 1, slice 0
    await writeNifti(join(src, 'tiny_gt.nii.gz'), {
      dims: DIMS,
      frames: 2,
      spacing: [0.8, 1.6, 5],
      origin: [0, 0, 0],
      direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
      data: labels,
    });
    await engine.call('library.import', { paths: [src] });
    const { studies } = await engine.call('library.listStudies', {});
    const imported = studies[0]!.series[0]!.volumes[0]!.annotations.find((a) => a.source === 'imported')!;

    const s = useAnnotationsStore();
    await s.open(volumeId, DIMS, 2, null);
    await s.setReference({ id: imported.id, source: 'imported' }, 0);
    expect(Array.from(s.refMaps.get(0)!)).toEqual(Array.from(labels.subarray(0, 144)));
    expect(s.copyReference(0)).toBe(2);
    expect([s.sliceOf(0, 1)![5], s.sliceOf(0, 2)![7]]).toEqual([2, 3]);
    expect(s.annotated[0]).toEqual([1, 2]);
    s.undo();
    expect(s.maps.get(0)!.every((v) => v === 0)).toBe(true);
    expect(s.annotated[0]).toEqual([]);
    // The reference itself is never written.
    expect(Array.from(s.refMaps.get(0)!)).toEqual(Array.from(labels.subarray(0, 144)));
  });
});

describe('saving through an engine that fails for a while', () => {
  it('retries by itself after a transient failure, and the edit arrives', async () => {
    const { Engine } = await import('../../main/engine/engine.js');
    const { EngineFailure: EngineFailureCtor } = await import('../../main/engine/errors.js');
    const flaky = new Engine();
    const received: Array<{ slices: Array<{ k: number }> }> = [];
    let calls = 0;
    flaky.register({
      'library.saveAnnotation': (p) => {
        // Stores of earlier tests may still be saving through whichever client is installed now.
        if (p.volumeId !== 'vol-x') throw new EngineFailureCtor('NOT_FOUND', 'not this test');
        calls++;
        if (calls === 1) throw new Error('engine restarting');
        received.push(p);
        return { annotationId: 'ann-1', created: true, annotatedSlices: 1 };
      },
    });
    provideClient(new EngineClient(new LoopbackTransport(flaky)));
    const s = useAnnotationsStore();
    await s.open('vol-x', DIMS, 1, null);
    const e = s.begin(0, 2, 'brush')!;
    e.set(3, 1);
    s.end();
    await s.flush();
    expect([s.saveState, s.saveError]).toEqual(['error', 'Could not save the annotation: the engine failed (INTERNAL): engine restarting']);
    await expect.poll(() => s.saveState, { timeout: 10_000, interval: 50 }).toBe('saved');
    expect(calls).toBe(2);
    expect(received.map((p) => p.slices.map((x) => x.k))).toEqual([[2]]);
    expect(s.annotationId).toBe('ann-1');
  });
});
