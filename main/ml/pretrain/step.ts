import { tf } from '../tf.js';
import type { AugmentConfig, LossConfig } from '../config.js';
import { makeViews, type ViewPair } from '../augment/index.js';
import { Rng } from '../augment/rng.js';
import { barlowTwinsLoss, ntXentLoss } from '../losses.js';
import { gradsByParam, headForward, unetForward, type Net } from '../unet.js';
import { blendTaps, gatherPixels, gatherTaps } from '../warp.js';
import type { Adam } from './adam.js';
import { accumulateGrads } from '../accumulate.js';
import { splitBatch } from '../parallel/shard.js';
import { explainAbort } from '../memory.js';

/**
 * One Pix2Rep step: views → both branches → K valid pixel pairs → loss. Branch A = g(f(t(x))),
 * branch B = g(f(t'(φ(x)))); A's map is read at φ's source positions (bilinear), B's at the pixel itself,
 * so pair i shows the same anatomy in both. g is applied to the sampled pixels only (and to the four
 * neighbours in branch A): g is per-pixel, so this equals warping the whole projected map up to the batch
 * statistics of g's BatchNorm, and saves ~40% of a step (measured on the reference implementation).
 */

export interface BatchViews {
  size: number;
  /** B · size² pixels each, image-major. */
  inputA: Float32Array;
  inputB: Float32Array;
  grids: Float32Array[];
  valid: Uint8Array[];
}

export function prepareBatch(images: Float32Array[], size: number, cfg: AugmentConfig, rng: Rng): BatchViews {
  const n = size * size;
  const inputA = new Float32Array(images.length * n);
  const inputB = new Float32Array(images.length * n);
  const grids: Float32Array[] = [];
  const valid: Uint8Array[] = [];
  images.forEach((img, b) => {
    const v: ViewPair = makeViews(rng, cfg, img, size, size);
    inputA.set(v.viewA, b * n);
    inputB.set(v.viewB, b * n);
    grids.push(v.grid);
    valid.push(v.valid);
  });
  return { size, inputA, inputB, grids, valid };
}

export interface PixelPairs {
  /** Image of the batch, pixel (x, y) in view B, and its source position in view A / x. */
  batch: Int32Array;
  xs: Int32Array;
  ys: Int32Array;
  src: Float32Array;
}

/** Up to K distinct valid locations drawn uniformly over the batch (all of them when fewer are valid). */
export function samplePixelPairs(views: BatchViews, k: number, rng: Rng): PixelPairs {
  const n = views.size * views.size;
  const pool: number[] = [];
  views.valid.forEach((v, b) => {
    for (let p = 0; p < n; p++) if (v[p]) pool.push(b * n + p);
  });
  const m = Math.min(k, pool.length);
  // Partial Fisher-Yates: the first m entries become a uniform sample without replacement.
  for (let i = 0; i < m; i++) {
    const j = i + rng.int(pool.length - i);
    const t = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = t;
  }
  const out: PixelPairs = { batch: new Int32Array(m), xs: new Int32Array(m), ys: new Int32Array(m), src: new Float32Array(2 * m) };
  for (let i = 0; i < m; i++) {
    const q = pool[i]!;
    const b = Math.floor(q / n);
    const p = q - b * n;
    out.batch[i] = b;
    out.xs[i] = p % views.size;
    out.ys[i] = Math.floor(p / views.size);
    out.src[2 * i] = views.grids[b]![2 * p]!;
    out.src[2 * i + 1] = views.grids[b]![2 * p + 1]!;
  }
  return out;
}

export type Backbone = (x: tf.Tensor4D) => tf.Tensor4D;
export type Head = (h: tf.Tensor2D) => tf.Tensor2D;

/** The paired vectors (zA[i], zB[i]) of both branches at the sampled locations. */
export function embedPairs(f: Backbone, g: Head, views: BatchViews, pairs: PixelPairs): { zA: tf.Tensor2D; zB: tf.Tensor2D } {
  const b = views.grids.length;
  const s = views.size;
  const fA = f(tf.tensor4d(views.inputA, [b, s, s, 1]));
  const fB = f(tf.tensor4d(views.inputB, [b, s, s, 1]));
  // g is applied at the four neighbours of each source position, then blended: exactly the projected map
  // g(f(·)) warped by φ, which interpolating f before g would not be (g is non-linear).
  const tapsA = gatherTaps(fA, pairs.batch, pairs.src);
  const zA = blendTaps(g(tapsA.rows), tapsA.weight);
  const zB = g(gatherPixels(fB, pairs.batch, pairs.xs, pairs.ys));
  return { zA, zB };
}

export function pairLoss(zA: tf.Tensor2D, zB: tf.Tensor2D, cfg: LossConfig): tf.Scalar {
  return cfg.method === 'pix2rep-v2' ? barlowTwinsLoss(zA, zB, cfg.lambda) : ntXentLoss(zA, zB, cfg.temperature);
}

export function netFunctions(net: Net, training: boolean): { f: Backbone; g: Head } {
  return { f: (x) => unetForward(net, x, { training }), g: (h) => headForward(net, h, { training }) };
}

/** Loss of a batch without updating anything but (in training mode) BatchNorm statistics. */
export function batchLoss(net: Net, views: BatchViews, pairs: PixelPairs, cfg: LossConfig, training: boolean): tf.Scalar {
  const { f, g } = netFunctions(net, training);
  return tf.tidy(() => {
    const { zA, zB } = embedPairs(f, g, views, pairs);
    return pairLoss(zA, zB, cfg);
  });
}

export interface BatchGrads {
  /** The batch loss (pair-weighted mean of the micro-batches' losses). */
  loss: number;
  /** Its gradient by parameter name. */
  grads: Record<string, tf.Tensor>;
}

/**
 * Loss and gradients of a batch in training mode, computed over `parts` micro-batches of contiguous images
 * (gradient accumulation, for batches larger than one engine's memory). One part is the plain full-batch pass.
 * Several parts are the data-parallel sharded objective (parallel/trainer.ts) computed in turn on one engine:
 * each part's loss sees only its own pixels as negatives and normalises with its own BatchNorm statistics;
 * the loss is the pair-weighted mean of the parts'; every part starts from the same running statistics, which
 * end as the parts' average (as the data-parallel workers' do).
 */
export function microBatchGrads(net: Net, views: BatchViews, pairs: PixelPairs, cfg: LossConfig, parts = 1): BatchGrads {
  try {
    return microBatchGradsUnchecked(net, views, pairs, cfg, parts);
  } catch (err) {
    throw explainAbort(err, Math.ceil(views.grids.length / Math.max(1, parts)), views.size);
  }
}

function microBatchGradsUnchecked(net: Net, views: BatchViews, pairs: PixelPairs, cfg: LossConfig, parts: number): BatchGrads {
  if (parts <= 1) {
    const { value, grads } = tf.variableGrads(() => batchLoss(net, views, pairs, cfg, true), Object.values(net.params));
    const loss = value.dataSync()[0]!;
    value.dispose();
    return { loss, grads: gradsByParam(net, grads) };
  }
  const shards = splitBatch(views, pairs, parts);
  if (shards.some((s) => s.pairs.batch.length < 2)) throw new Error(`a micro-batch has fewer than 2 valid pixel pairs: cannot form a contrastive loss (batch of ${views.grids.length} images in ${parts} micro-batches)`);
  const total = pairs.batch.length;
  const start = Object.fromEntries(Object.entries(net.stats).map(([n, v]) => [n, tf.clone(v)]));
  // Averaged in JavaScript as parallel/trainer.ts averages its workers' statistics (the same bits).
  const sum: Record<string, Float32Array> = {};
  try {
    const acc = accumulateGrads(
      shards.map((s) => ({ weight: s.pairs.batch.length / total, loss: () => batchLoss(net, s.views, s.pairs, cfg, true) })),
      Object.values(net.params),
      () => {
        for (const [n, v] of Object.entries(net.stats)) v.assign(start[n]!);
      },
      () => {
        for (const [n, v] of Object.entries(net.stats)) {
          const d = v.dataSync();
          const a = (sum[n] ??= new Float32Array(d.length));
          for (let j = 0; j < d.length; j++) a[j]! += d[j]! / parts;
        }
      },
    );
    for (const [n, v] of Object.entries(net.stats)) {
      const mean = tf.tensor(sum[n]!, v.shape, 'float32');
      v.assign(mean);
      mean.dispose();
    }
    return { loss: acc.value, grads: gradsByParam(net, acc.grads) };
  } finally {
    tf.dispose(Object.values(start));
  }
}

/**
 * One optimisation step; returns the loss before the update. Throws when the loss is not finite.
 * `microBatches` > 1 accumulates gradients over that many parts of the batch (see microBatchGrads).
 */
export function trainStep(net: Net, adam: Adam, views: BatchViews, pairs: PixelPairs, cfg: LossConfig, microBatches = 1): number {
  if (pairs.batch.length < 2) throw new Error('fewer than 2 valid pixel pairs in the batch: cannot form a contrastive loss');
  const { loss, grads } = microBatchGrads(net, views, pairs, cfg, microBatches);
  try {
    if (!Number.isFinite(loss)) throw new Error(`pretraining loss is ${loss} at step ${adam.step + 1}`);
    adam.apply(net.params, grads);
    return loss;
  } finally {
    tf.dispose(Object.values(grads));
  }
}
