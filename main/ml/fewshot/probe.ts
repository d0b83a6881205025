import { tf } from '../tf.js';
import { deriveSeed, Rng } from '../augment/rng.js';
import type { Adam } from '../pretrain/adam.js';
import { augmentPair } from './augment.js';
import type { FewShotConfig } from './config.js';
import type { LabeledSlice } from './data.js';
import { backboneFeatures, headLogits, type Segmenter } from './segmenter.js';
import type { Stepper } from './stepper.js';
import { meanForegroundDice } from './dice.js';

/**
 * The linear probe on cached features. A frozen backbone maps a slice to the same features at every step, so
 * the probe computes them once (the training slices as they are plus a few augmented copies, and the
 * validation slices) and then fits only the 1×1 head on them.
 *
 * The fit is built to measure the features rather than the optimiser (issue 10): each step is one Adam update
 * on all cached training pixels at once (every foreground pixel and a fixed quarter of the background; no batch
 * order, so two runs on the same features agree exactly), on
 * standardised features (per-channel mean and spread of the training pixels, folded back into the head after
 * every step, so the segmenter keeps a plain 1×1 conv), with class-balanced cross-entropy (each class weighs as
 * much as the background, otherwise a small structure is cheapest to ignore). The objective is convex in the
 * head. Measured on an ACDC v1 backbone (900 pretraining steps, docs/EVALUATION.md): the earlier probe
 * (mini-batches of 8, soft Dice + cross-entropy, raw features) reached a mean Dice of 0.08 on its own
 * training slices; this fit reaches 0.30 there and 0.17 on unseen patients.
 */

/** Memory the cached features may take (wasm heap: 4 GB per instance, shared with the backbone). */
export const FEATURE_CACHE_BYTES = 768 * 2 ** 20;
/** Copies of each training slice: the slice itself plus augmented draws. */
export const MAX_PROBE_COPIES = 4;

const STREAM = { copy: 21 } as const;

/**
 * Background pixels kept of the training features: one in BACKGROUND_STRIDE (a fixed raster pattern shifted per
 * item), each weighing that many times more. The head has D·K parameters and the background is most of every
 * slice (about 80% of an ACDC slice at 128²): a quarter of it is plenty for the fit, and a step then handles
 * about 40% of the pixels (measured on ACDC: the same readout to the third decimal).
 */
export const BACKGROUND_STRIDE = 4;

/**
 * How many copies of each training slice fit the cache next to the validation features (0: not even one copy:
 * the caller trains the probe by streaming the backbone instead). Training features are held in two layouts
 * (pixels × channels for the logits, channels × pixels for the gradient: tfjs-wasm multiplies a transposed
 * operand about six times slower), counted in full, as if every pixel were foreground.
 */
export function probeCopies(trainSlices: number, validationSlices: number, size: number, embedding: number, limitBytes: number = FEATURE_CACHE_BYTES): number {
  const perSlice = size * size * embedding * 4;
  const room = Math.floor((limitBytes - validationSlices * perSlice) / Math.max(1, 2 * trainSlices * perSlice));
  return Math.max(0, Math.min(MAX_PROBE_COPIES, room));
}

/**
 * Class weights of the balanced cross-entropy from pixel counts per class: 1 / (present classes × share), so
 * every class present contributes the same total weight; a class with no pixel gets 0.
 */
export function balancedClassWeights(counts: readonly number[]): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  const present = counts.filter((c) => c > 0).length;
  return counts.map((c) => (c > 0 ? total / (present * c) : 0));
}

/**
 * The head on raw features equivalent to a head on standardised ones: with z = (f − mean) / sd,
 * z·W + b = f·(W / sd) + (b − Σ_d mean_d / sd_d · W_d). W is [D, K] row-major; returns the same layout.
 */
export function foldStandardization(w: Float32Array, b: Float32Array, mean: Float32Array, sd: Float32Array): { w: Float32Array; b: Float32Array } {
  const d = mean.length;
  const k = b.length;
  const fw = new Float32Array(d * k);
  const fb = Float32Array.from(b);
  for (let i = 0; i < d; i++) {
    for (let c = 0; c < k; c++) {
      fw[i * k + c] = w[i * k + c]! / sd[i]!;
      fb[c]! -= (mean[i]! / sd[i]!) * w[i * k + c]!;
    }
  }
  return { w: fw, b: fb };
}

/**
 * Train pixels ready for full-batch steps: standardised features [M, D] and the same transposed [D, M], one-hot
 * targets, pixel weights summing to 1.
 */
interface TrainPixels {
  z: tf.Tensor2D;
  zt: tf.Tensor2D;
  target: tf.Tensor2D;
  weight: tf.Tensor1D;
  mean: Float32Array;
  sd: Float32Array;
  items: number;
}

export class FeatureProbe implements Stepper {
  /** The head in standardised space, shaped like the segmenter's head so the caller's Adam fits it. */
  private readonly wz: tf.Variable;
  private readonly bz: tf.Variable;

  private constructor(
    private readonly s: Segmenter,
    private readonly train: TrainPixels,
    private readonly validation: Array<{ features: tf.Tensor4D; label: Uint8Array }>,
    private readonly adam: Adam,
  ) {
    const d = s.head.w.shape[2]!;
    const k = s.head.w.shape[3]!;
    // A zero head predicts every class equally: the fit starts from no opinion, whatever the segmenter's seed.
    this.wz = tf.variable(tf.zeros([1, 1, d, k]), true, `${s.head.w.name}/probe-z`);
    this.bz = tf.variable(tf.zeros([k]), true, `${s.head.b.name}/probe-z`);
    this.fold();
  }

  /**
   * Features of the training copies and of the validation slices, batch by batch. Null when `signal` aborts
   * meanwhile: the training loop then reports the run as cancelled, as it does between steps.
   */
  static async build(o: { segmenter: Segmenter; train: LabeledSlice[]; validation: LabeledSlice[]; cfg: FewShotConfig; copies: number; adam: Adam; signal?: AbortSignal }): Promise<FeatureProbe | null> {
    const size = o.cfg.preprocess.size;
    const n = size * size;
    const items: Array<{ image: Float32Array; label: Uint8Array }> = [];
    for (let c = 0; c < o.copies; c++) {
      o.train.forEach((sl, i) => {
        if (c === 0) items.push({ image: sl.image, label: sl.label });
        else items.push(augmentPair(new Rng(deriveSeed(o.cfg.seed, STREAM.copy, c * 1_000_003 + i)), o.cfg.augment, sl.image, sl.label, size));
      });
    }
    const extract = async (list: Array<{ image: Float32Array; label: Uint8Array }>, into: Array<{ features: tf.Tensor4D; label: Uint8Array }>): Promise<boolean> => {
      for (let i = 0; i < list.length; i += o.cfg.batch) {
        if (o.signal) await new Promise<void>((r) => setImmediate(r));
        if (o.signal?.aborted) return false;
        const part = list.slice(i, i + o.cfg.batch);
        const x = new Float32Array(part.length * n);
        part.forEach((p, b) => x.set(p.image, b * n));
        const f = backboneFeatures(o.segmenter, x, part.length, size);
        const per = tf.split(f, part.length, 0) as tf.Tensor4D[];
        f.dispose();
        per.forEach((t, b) => into.push({ features: t, label: part[b]!.label }));
      }
      return true;
    };
    const train: Array<{ features: tf.Tensor4D; label: Uint8Array }> = [];
    const validation: Array<{ features: tf.Tensor4D; label: Uint8Array }> = [];
    let complete = false;
    try {
      complete = (await extract(items, train)) && (await extract(o.validation, validation));
      if (!complete) return null;
      return new FeatureProbe(o.segmenter, trainPixels(train, o.segmenter.classes.length + 1), validation, o.adam);
    } finally {
      for (const c of train) c.features.dispose();
      if (!complete) for (const c of validation) c.features.dispose();
    }
  }

  /** Cached training items (slices × copies). */
  get cachedSlices(): number {
    return this.train.items;
  }

  async step(step: number): Promise<{ loss: number }> {
    // Balanced cross-entropy and its gradient in closed form: with P = softmax(Z·W + b) and G = weight ⊙ (P − Y),
    // ∂/∂W = Zᵀ·G and ∂/∂b = Σ G (one multiplication of the stored transposed matrix instead of autodiff's
    // transposed operand).
    const k = this.bz.shape[0]!;
    const { loss, gw, gb } = tf.tidy(() => {
      const logp = tf.logSoftmax(tf.add(tf.matMul(this.train.z, tf.reshape(this.wz, [-1, k])), this.bz));
      const value = tf.neg(tf.sum(tf.mul(tf.sum(tf.mul(logp, this.train.target), 1), this.train.weight)));
      const g = tf.mul(tf.sub(tf.exp(logp), this.train.target), tf.expandDims(this.train.weight, 1));
      return { loss: value, gw: tf.reshape(tf.matMul(this.train.zt, g), this.wz.shape), gb: tf.sum(g, 0) };
    });
    try {
      const value = loss.dataSync()[0]!;
      if (!Number.isFinite(value)) throw new Error(`training loss is ${value} at step ${step + 1}`);
      this.adam.apply({ 'seg.w': this.wz, 'seg.b': this.bz }, { 'seg.w': gw, 'seg.b': gb });
      this.fold();
      return { loss: value };
    } finally {
      tf.dispose([loss, gw, gb]);
    }
  }

  /** The segmenter's head ← the standardised head folded onto raw features (what the model file stores). */
  private fold(): void {
    const { w, b } = foldStandardization(this.wz.dataSync() as Float32Array, this.bz.dataSync() as Float32Array, this.train.mean, this.train.sd);
    const tw = tf.tensor(w, this.s.head.w.shape, 'float32');
    const tb = tf.tensor(b, this.s.head.b.shape, 'float32');
    this.s.head.w.assign(tw);
    this.s.head.b.assign(tb);
    tw.dispose();
    tb.dispose();
  }

  validationDice(): number | null {
    if (this.validation.length === 0) return null;
    const n = this.validation[0]!.label.length;
    const pred = new Uint8Array(this.validation.length * n);
    const ref = new Uint8Array(this.validation.length * n);
    const batch = 8;
    for (let i = 0; i < this.validation.length; i += batch) {
      const part = this.validation.slice(i, i + batch);
      part.forEach((c, b) => ref.set(c.label, (i + b) * n));
      const cls = tf.tidy(() => tf.argMax(headLogits(this.s, tf.concat(part.map((c) => c.features), 0)), 3).dataSync());
      pred.set(cls, i * n);
    }
    return meanForegroundDice(pred, ref, this.s.classes.length + 1);
  }

  dispose(): void {
    for (const c of this.validation) c.features.dispose();
    tf.dispose([this.train.z, this.train.zt, this.train.target, this.train.weight, this.wz, this.bz]);
  }
}

/**
 * The training pixels as one standardised matrix (every foreground pixel, one background pixel in
 * BACKGROUND_STRIDE), their one-hot classes and balanced weights (class counts over all pixels, so the
 * balance is the data's, not the sample's).
 */
function trainPixels(train: Array<{ features: tf.Tensor4D; label: Uint8Array }>, classes: number): TrainPixels {
  const d = train[0]!.features.shape[3];
  const n = train[0]!.label.length;
  const counts = new Array<number>(classes).fill(0);
  const kept: number[][] = train.map((c, item) => {
    const rows: number[] = [];
    for (let p = 0; p < n; p++) {
      const v = c.label[p]!;
      counts[v]! += 1;
      if (v !== 0 || (p + item) % BACKGROUND_STRIDE === 0) rows.push(p);
    }
    return rows;
  });
  const cw = balancedClassWeights(counts);
  const total = kept.reduce((a, r) => a + r.length, 0);
  const labels = new Int32Array(total);
  const weight = new Float32Array(total);
  let at = 0;
  let sum = 0;
  train.forEach((c, item) => {
    for (const p of kept[item]!) {
      const v = c.label[p]!;
      labels[at] = v;
      weight[at] = cw[v]! * (v === 0 ? BACKGROUND_STRIDE : 1);
      sum += weight[at]!;
      at += 1;
    }
  });
  // Normalised to sum exactly 1: the raster keeps about, not exactly, one background pixel in BACKGROUND_STRIDE.
  for (let i = 0; i < total; i++) weight[i]! /= sum;
  const { z, mean, sd } = tf.tidy(() => {
    const rows = train.map((c, item) => tf.gather(tf.reshape(c.features, [n, d]), tf.tensor1d(kept[item]!, 'int32')));
    const f = tf.concat(rows, 0) as tf.Tensor2D;
    const m = tf.moments(f, 0);
    // A channel constant over the training pixels carries nothing: a unit spread keeps it finite.
    const spread = tf.where(tf.greater(m.variance, 1e-12), tf.sqrt(m.variance), tf.onesLike(m.variance));
    return { z: tf.div(tf.sub(f, m.mean), spread) as tf.Tensor2D, mean: m.mean, sd: spread };
  });
  const stats = { mean: mean.dataSync() as Float32Array, sd: sd.dataSync() as Float32Array };
  tf.dispose([mean, sd]);
  const target = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), classes), 'float32')) as tf.Tensor2D;
  return { z, zt: tf.transpose(z), target, weight: tf.tensor1d(weight), ...stats, items: train.length };
}
