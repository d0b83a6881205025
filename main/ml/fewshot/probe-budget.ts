import { deriveSeed, Rng } from '../augment/rng.js';
import { augmentLabel, augmentPair, type AugmentedPair } from './augment.js';
import type { FewShotConfig } from './config.js';
import type { LabeledSlice } from './data.js';

/**
 * What the linear probe's feature cache (probe.ts) holds and how many copies of the training slices fit it.
 * The cache keeps, of each training item, only the pixels the fit uses (every foreground pixel and one
 * background pixel in BACKGROUND_STRIDE: about 40% of an ACDC slice at 128²), so the budget counts those pixels,
 * exactly, from the labels, before any feature is computed: the copies' labels come from the same spatial
 * draws as their images, without the image work.
 */

/** Memory the cached features may take (wasm heap: 4 GB per instance, shared with the backbone). */
export const FEATURE_CACHE_BYTES = 768 * 2 ** 20;
/** Copies of each training slice: the slice itself plus augmented draws. */
export const MAX_PROBE_COPIES = 4;

/**
 * Background pixels kept of the training features: one in BACKGROUND_STRIDE (a fixed raster pattern shifted per
 * item), each weighing that many times more. The head has D·K parameters and the background is most of every
 * slice (about 80% of an ACDC slice at 128²): a quarter of it is plenty for the fit, and a step then handles
 * about 40% of the pixels (measured on ACDC: the same readout to the third decimal).
 */
export const BACKGROUND_STRIDE = 4;

const STREAM = { copy: 21 } as const;

/**
 * Item `item` of the cache, in cache order: copy ⌊item / T⌋ of training slice item mod T (copy 0 is the slice as
 * it is; copy c ≥ 1 an augmented draw seeded by copy and slice, so a copy does not depend on how many are cached).
 */
export function probeItem(train: readonly LabeledSlice[], cfg: FewShotConfig, item: number): AugmentedPair {
  const { copy, slice } = where(train, item);
  if (copy === 0) return { image: slice.image, label: slice.label };
  return augmentPair(copyRng(cfg, item, train.length), cfg.augment, slice.image, slice.label, cfg.preprocess.size);
}

/** The label of probeItem(train, cfg, item), from the same draw, without its image. */
export function probeItemLabel(train: readonly LabeledSlice[], cfg: FewShotConfig, item: number): Uint8Array {
  const { copy, slice } = where(train, item);
  if (copy === 0) return slice.label;
  return augmentLabel(copyRng(cfg, item, train.length), cfg.augment, slice.label, cfg.preprocess.size);
}

function where(train: readonly LabeledSlice[], item: number): { copy: number; slice: LabeledSlice } {
  return { copy: Math.floor(item / train.length), slice: train[item % train.length]! };
}

function copyRng(cfg: FewShotConfig, item: number, slices: number): Rng {
  const c = Math.floor(item / slices);
  return new Rng(deriveSeed(cfg.seed, STREAM.copy, c * 1_000_003 + (item % slices)));
}

/** The pixels the fit keeps of item `item`: every foreground pixel, and the background where (p + item) mod BACKGROUND_STRIDE is 0. */
export function keptPixels(label: Uint8Array, item: number): Int32Array {
  let count = 0;
  for (let p = 0; p < label.length; p++) if (label[p] !== 0 || (p + item) % BACKGROUND_STRIDE === 0) count += 1;
  const rows = new Int32Array(count);
  let at = 0;
  for (let p = 0; p < label.length; p++) if (label[p] !== 0 || (p + item) % BACKGROUND_STRIDE === 0) rows[at++] = p;
  return rows;
}

/**
 * Bytes of the cached features (float32): the kept training pixels in two layouts (pixels × channels for the
 * logits, channels × pixels for the gradient: tfjs-wasm multiplies a transposed operand about six times slower)
 * and the validation slices whole (they are scored on every pixel). Not counted: the targets and pixel weights
 * (K + 1 floats per kept pixel against 2·D) and one batch of whole features while it is being sampled, which
 * is the backbone's working memory like its activations.
 */
export function featureCacheBytes(keptPixels: number, validationSlices: number, size: number, embedding: number): number {
  return 4 * embedding * (2 * keptPixels + validationSlices * size * size);
}

/**
 * How many copies fit: the longest prefix of `keptPerCopy` (kept training pixels of copy 0, 1, …) whose
 * features fit `limitBytes` next to the validation features, at most MAX_PROBE_COPIES. 0: not even the slices
 * themselves fit, and the caller trains the probe by streaming the backbone instead.
 */
export function probeCopies(keptPerCopy: readonly number[], validationSlices: number, size: number, embedding: number, limitBytes: number = FEATURE_CACHE_BYTES): number {
  let kept = 0;
  let copies = 0;
  for (const k of keptPerCopy.slice(0, MAX_PROBE_COPIES)) {
    kept += k;
    if (featureCacheBytes(kept, validationSlices, size, embedding) > limitBytes) break;
    copies += 1;
  }
  return copies;
}

export interface ProbePlan {
  /** Copies of every training slice to cache (0: stream the backbone). */
  copies: number;
  /** Training pixels those copies keep, and the bytes of the cache with the validation slices. */
  keptPixels: number;
  bytes: number;
}

/**
 * The cache of a run: copies counted from their labels, one copy at a time, stopping at the first that does
 * not fit (a label costs about 3 ms at 128², its image about 40). FeatureProbe.build holds the cache to
 * `limitBytes` as it fills it.
 */
export function planProbe(train: readonly LabeledSlice[], validationSlices: number, cfg: FewShotConfig, limitBytes: number = FEATURE_CACHE_BYTES): ProbePlan {
  const size = cfg.preprocess.size;
  const embedding = cfg.model.unet.embedding;
  const keptPerCopy: number[] = [];
  for (let c = 0; c < MAX_PROBE_COPIES; c++) {
    let kept = 0;
    for (let i = 0; i < train.length; i++) {
      const item = c * train.length + i;
      kept += keptPixels(probeItemLabel(train, cfg, item), item).length;
    }
    keptPerCopy.push(kept);
    if (probeCopies(keptPerCopy, validationSlices, size, embedding, limitBytes) <= c) break;
  }
  const copies = probeCopies(keptPerCopy, validationSlices, size, embedding, limitBytes);
  const kept = keptPerCopy.slice(0, copies).reduce((a, b) => a + b, 0);
  return { copies, keptPixels: kept, bytes: featureCacheBytes(kept, validationSlices, size, embedding) };
}
