import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { Mat3, Vec3, Volume, VoxelArray } from '../../../main/io/volume.js';

const made: string[] = [];

/** A fresh temp folder removed after the test. */
export function tempDir(tag = 'lib'): string {
  const d = mkdtempSync(join(tmpdir(), `pix2rep-${tag}-`));
  made.push(d);
  return d;
}

afterEach(() => {
  while (made.length) rmSync(made.pop()!, { recursive: true, force: true });
});

/** A small synthetic volume with a deterministic voxel pattern. */
export function tinyVolume(opts: Partial<Pick<Volume, 'dims' | 'frames' | 'spacing' | 'origin' | 'direction'>> & { data?: VoxelArray; seed?: number } = {}): Volume {
  const dims: Vec3 = opts.dims ?? [6, 5, 4];
  const frames = opts.frames ?? 1;
  const n = dims[0] * dims[1] * dims[2] * frames;
  const seed = opts.seed ?? 1;
  const data = opts.data ?? Int16Array.from({ length: n }, (_, i) => ((i * 37 + seed * 101) % 500) - 20);
  return {
    dims,
    frames,
    spacing: opts.spacing ?? [1.5, 1.25, 5],
    origin: opts.origin ?? [-10, 20.5, 3],
    direction: opts.direction ?? ([1, 0, 0, 0, 1, 0, 0, 0, 1] as Mat3),
    data,
  };
}

/** A label map for `image`: label 1..3 in a box on slices `slices` only. */
export function tinyLabels(image: Volume, slices: number[]): Volume {
  const [ni, nj, nk] = image.dims;
  const data = new Uint8Array(ni * nj * nk * image.frames);
  for (let f = 0; f < image.frames; f++)
    for (const k of slices) for (let j = 1; j < nj - 1; j++) for (let i = 1; i < ni - 1; i++) data[f * ni * nj * nk + k * ni * nj + j * ni + i] = 1 + ((i + j) % 3);
  return { ...image, data };
}
