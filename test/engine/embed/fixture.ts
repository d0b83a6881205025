import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pretrainConfig } from '../../../main/ml/config.js';
import { buildCheckpoint, writeCheckpoint } from '../../../main/ml/pretrain/checkpoint.js';
import { runPretraining } from '../../../main/ml/pretrain/loop.js';
import { createNet, disposeNet } from '../../../main/ml/unet.js';
import { arraySliceSource } from '../../../main/ml/pretrain/source.js';
import { IDENTITY, type Volume } from '../../../main/io/volume.js';
import { phantomSlices } from '../ml/phantoms.js';

/** Side of the tiny test images and of the tiny backbone's training grid. */
export const S = 32;
/** The tiny backbone's spacing: volumes built at this spacing reach the network unresampled. */
export const SPACING = 1.5;

/**
 * A backbone pretrained briefly (Pix2Rep v1 on synthetic disc-in-ring phantoms, rotation/flip/zoom views as
 * configured by default) into `dir`; returns the last checkpoint's path.
 */
export async function pretrainTiny(dir: string, steps: number, seed = 3, lr = 3e-3): Promise<string> {
  const config = pretrainConfig('compact', {
    model: { unet: { levels: 3, base: 8, embedding: 16 }, head: { hidden: 16, out: 16 } },
    preprocess: { size: S, spacingMm: SPACING },
    loss: { samples: 128 },
    train: { batch: 4, seed, validationFraction: 0 },
    optimizer: { lr },
  });
  const source = arraySliceSource(phantomSlices(12, S, seed), S);
  const r = await runPretraining({ config, source, outDir: dir, steps });
  return r.lastCheckpoint;
}

export interface UntrainedBackbone {
  /** Network side and spacing the backbone was "trained" at (embedding resamples slices to this spacing). */
  size: number;
  spacingMm: number;
  /** Weight initialisation seed. */
  seed: number;
  /** Head size (default: the preset's head for an 8-dim embedding). */
  head?: { hidden: number; out: number };
  /** Folder name under models/ (default tiny). */
  name?: string;
}

/**
 * An untrained tiny backbone (2-level base-4 U-Net, 8-dim embeddings, weights from `seed`) saved as
 * `workspace/models/<name>/last.p2r`, which embed.models lists as a folder model. Untrained is enough where
 * what is tested is the plumbing (jobs, stores, panels), not what the network learned.
 */
export async function saveUntrainedBackbone(workspace: string, o: UntrainedBackbone): Promise<string> {
  const config = pretrainConfig('compact', {
    model: { unet: { levels: 2, base: 4, embedding: 8 }, ...(o.head ? { head: o.head } : {}) },
    preprocess: { size: o.size, spacingMm: o.spacingMm },
  });
  const net = createNet(config.model, o.seed, false);
  const ck = buildCheckpoint(net, null, {
    backend: 'cpu',
    step: 0,
    epoch: 0,
    rng: { seed: o.seed, scheme: 'mulberry32(deriveSeed(seed, stream, index))' },
    config,
    provenance: { kind: 'memory', volumes: [], slices: 0 },
    split: { train: 0, validation: 0 },
    history: [],
    validation: [],
    bestValidationLoss: null,
  });
  disposeNet(net);
  const dir = join(workspace, 'models', o.name ?? 'tiny');
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'last.p2r');
  await writeCheckpoint(path, ck);
  return path;
}

/** A volume of the given slices (each S×S, i fastest) at the tiny backbone's spacing. */
export function volumeOf(slices: Float32Array[], size = S): Volume {
  const data = new Float32Array(size * size * slices.length);
  slices.forEach((s, k) => data.set(s, k * size * size));
  return { dims: [size, size, slices.length], frames: 1, spacing: [SPACING, SPACING, 8], origin: [10, -20, 30], direction: IDENTITY, data };
}

/** Rotates an S×S image by 90°: out(i, j) = in(j, S-1-i). */
export function rot90(img: ArrayLike<number>, size = S): Float32Array {
  const out = new Float32Array(size * size);
  for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) out[j * size + i] = img[(size - 1 - i) * size + j]!;
  return out;
}

/** Where pixel (i, j) goes under rot90. */
export function rot90At([i, j]: [number, number], size = S): [number, number] {
  // out(i', j') = in(j', S-1-i')  ⇒ in(i, j) lands at i' = S-1-j, j' = i.
  return [size - 1 - j, i];
}

/** Pearson correlation of two equally long arrays. */
export function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ma = 0;
  let mb = 0;
  for (let n = 0; n < a.length; n++) {
    ma += a[n]!;
    mb += b[n]!;
  }
  ma /= a.length;
  mb /= b.length;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let n = 0; n < a.length; n++) {
    ab += (a[n]! - ma) * (b[n]! - mb);
    aa += (a[n]! - ma) ** 2;
    bb += (b[n]! - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}
