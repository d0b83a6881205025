import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEngine } from '../../main/engine/create.js';
import type { Engine } from '../../main/engine/engine.js';
import { writeNifti } from '../../main/io/nifti.js';
import { EngineClient, provideClient } from '../../renderer/api/index.js';
import { useViewerStore } from '../../renderer/stores/viewer.js';
import { LoopbackTransport } from './support/loopback.js';

let engine: Engine;
let dirs: string[] = [];
let volumeId: string;
// 4 x 3 x 2 voxels, 3 frames; voxel value = 100·frame + index within the frame.
const DIMS: [number, number, number] = [4, 3, 2];

beforeEach(async () => {
  const src = mkdtempSync(join(tmpdir(), 'pix2rep-view-src-'));
  const ws = mkdtempSync(join(tmpdir(), 'pix2rep-view-ws-'));
  dirs = [src, ws];
  await writeNifti(join(src, 'cine.nii.gz'), {
    dims: DIMS,
    frames: 3,
    spacing: [1.5, 2, 6],
    origin: [10, 20, 30],
    // i along -x (patient right), j along +y, k along +z.
    direction: [-1, 0, 0, 0, 1, 0, 0, 0, 1],
    data: Int16Array.from({ length: 24 * 3 }, (_, n) => 100 * Math.floor(n / 24) + (n % 24)),
  });
  engine = createEngine({ workspace: ws });
  await engine.call('library.import', { paths: [src] });
  volumeId = (await engine.call('library.listStudies', {})).studies[0]!.series[0]!.volumes[0]!.id;
  provideClient(new EngineClient(new LoopbackTransport(engine)));
  setActivePinia(createPinia());
});

afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('viewer store', () => {
  it('opens a volume on its middle slice with an auto window, reads voxels and LPS under the cursor, and loads frames on demand', async () => {
    const v = useViewerStore();
    await v.open(volumeId);
    expect(v.error).toBeNull();
    expect(v.geometry).toMatchObject({ dims: DIMS, frames: 3, spacing: [1.5, 2, 6], origin: [10, 20, 30] });
    expect([v.slice, v.frame, v.sliceCount, v.frameCount]).toEqual([1, 0, 2, 3]);
    // Frame 0 holds 0..23: the 1st and 99th percentiles are 0.23 and 22.77.
    expect(v.windowWidth).toBeCloseTo(22.54, 9);
    expect(v.windowLevel).toBeCloseTo(11.5, 9);

    v.pointAt(2.2, 0.9);
    expect(v.cursor).toEqual({ i: 2, j: 1, k: 1, value: 12 + 6, lps: [10 - 3, 20 + 2, 30 + 6] });
    v.pointAt(-1, 0);
    expect(v.cursor).toBeNull();

    await v.setFrame(2);
    expect(v.frame).toBe(2);
    v.pointAt(0, 0);
    expect(v.cursor!.value).toBe(200 + 12);
    // Frames wrap around (cine playback), slices clamp.
    await v.setFrame(3);
    expect(v.frame).toBe(0);
    v.setSlice(9);
    expect(v.slice).toBe(1);
    v.setSlice(-4);
    expect(v.slice).toBe(0);

    v.applyPreset('full');
    expect([v.windowWidth, v.windowLevel]).toEqual([23, 11.5]);
    v.zoomBy(100);
    expect(v.camera.zoom).toBe(40);
    v.resetCamera();
    expect(v.camera).toEqual({ zoom: 1, center: [2.25, 2] });
  });

  it('says in plain words when the volume cannot be read', async () => {
    const v = useViewerStore();
    await v.open('vol-gone');
    expect(v.geometry).toBeNull();
    expect(v.error).toMatch(/Could not open the volume.*no volume vol-gone/);
    expect(v.loading).toBe(false);
  });
});
