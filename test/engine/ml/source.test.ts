import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNifti } from '../../../main/io/nifti.js';
import { IDENTITY, type Volume } from '../../../main/io/volume.js';
import { DEFAULT_PREPROCESS } from '../../../main/ml/config.js';
import { arraySliceSource, findNiftiImages, locationFreeIds, niftiSliceSource, splitSlices } from '../../../main/ml/pretrain/source.js';

describe('slice sources', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'p2r-source-'));
    await mkdir(join(dir, 'a', 'b'), { recursive: true });
    // A cine: 8×8 in-plane at 1.5 mm, 2 slices, 3 frames; voxel value = 100·frame + 10·k + (i + j) % 2.
    const data = new Int16Array(8 * 8 * 2 * 3);
    for (let f = 0; f < 3; f++) for (let k = 0; k < 2; k++) for (let j = 0; j < 8; j++) for (let i = 0; i < 8; i++) {
      data[((f * 2 + k) * 8 + j) * 8 + i] = 100 * f + 10 * k + ((i + j) % 2);
    }
    const cine: Volume = { dims: [8, 8, 2], frames: 3, spacing: [1.5, 1.5, 8], origin: [0, 0, 0], direction: [...IDENTITY], data };
    await writeNifti(join(dir, 'a', 'cine.nii.gz'), cine);
    await writeNifti(join(dir, 'a', 'b', 'cine_gt.nii.gz'), { ...cine, data: new Uint8Array(data.length) });
    await writeFile(join(dir, 'a', 'notes.txt'), 'not an image');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds images recursively and skips label maps and other files', async () => {
    expect(await findNiftiImages(dir)).toEqual([join(dir, 'a', 'cine.nii.gz')]);
    await expect(findNiftiImages(join(dir, 'missing'))).rejects.toThrow(/cannot list/);
  });

  it('every frame of a cine is a slice; values are normalised per volume', async () => {
    const cfg = { ...DEFAULT_PREPROCESS, size: 8, clipPercentiles: [0, 100] as [number, number] };
    const src = await niftiSliceSource([join(dir, 'a', 'cine.nii.gz')], cfg);
    expect(src.slices.map((s) => [s.k, s.frame])).toEqual([[0, 0], [1, 0], [0, 1], [1, 1], [0, 2], [1, 2]]);
    expect(new Set(src.slices.map((s) => s.id)).size).toBe(6);
    // Min 0 (frame 0, k 0), max 211 (frame 2, k 1): frame 1, k 1 holds (110 + parity) / 211.
    const s = await src.load(3);
    expect(s[0]).toBeCloseTo(110 / 211, 5);
    expect(s[1]).toBeCloseTo(111 / 211, 5);
    const prov = src.provenance();
    expect(prov).toMatchObject({ kind: 'nifti', slices: 6 });
    expect(prov.volumes[0]).toMatchObject({ dims: [8, 8, 2], frames: 3, spacing: [1.5, 1.5, 8] });
    await expect(niftiSliceSource([], cfg)).rejects.toThrow(/no NIfTI images/);
  });

  it('names volumes by their parent folder and file, so a copy of the library elsewhere holds out the same slices', async () => {
    expect(locationFreeIds(['/data/acdc/patient001/patient001_frame01.nii.gz', '/srv/p/patient002/patient002_frame01.nii.gz'])).toEqual([
      'patient001/patient001_frame01.nii.gz',
      'patient002/patient002_frame01.nii.gz',
    ]);
    // Two files sharing folder and name get as many more parent folders as it takes to tell them apart.
    expect(locationFreeIds(['/a/x/p/img.nii.gz', '/b/y/p/img.nii.gz', '/c/q/img.nii.gz'])).toEqual(['x/p/img.nii.gz', 'y/p/img.nii.gz', 'q/img.nii.gz']);
    const cfg = { ...DEFAULT_PREPROCESS, size: 8 };
    const here = await niftiSliceSource([join(dir, 'a', 'cine.nii.gz')], cfg);
    const copy = await mkdtemp(join(tmpdir(), 'p2r-source-copy-'));
    try {
      await mkdir(join(copy, 'a'));
      await cp(join(dir, 'a', 'cine.nii.gz'), join(copy, 'a', 'cine.nii.gz'));
      const there = await niftiSliceSource([join(copy, 'a', 'cine.nii.gz')], cfg);
      expect(there.slices.map((s) => s.id)).toEqual(here.slices.map((s) => s.id));
      expect(here.slices[0]!.id).toBe('a/cine.nii.gz/k0/t0');
      expect(splitSlices(there.slices, 0.5, 3)).toEqual(splitSlices(here.slices, 0.5, 3));
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });

  it('in-memory source checks image sizes', () => {
    expect(() => arraySliceSource([new Float32Array(10)], 4)).toThrow(/10 pixels, expected 4×4/);
  });
});
