import { tf } from '../tf.js';
import type { Adam } from '../pretrain/adam.js';
import type { FewShotConfig } from './config.js';
import type { LabeledSlice } from './data.js';
import { BACKGROUND_STRIDE, featureCacheBytes, keptPixels, probeItem } from './probe-budget.js';
import { backboneFeatures, headLogits, type Segmenter } from './segmenter.js';
import type { Stepper } from './stepper.js';
import { meanForegroundDice } from './dice.js';

/**
 * The linear probe on cached features. A frozen backbone maps a slice to the same features at every step, so
 * the probe computes them once (the training slices as they are plus a few augmented copies, and the
 * validation slices; as many copies as probe-budget.ts finds room for) and then fits only the 1×1 head on them.
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
    // Made in a tidy so the zeros they start from are released with them (a variable keeps its data).
    this.wz = tf.tidy(() => tf.variable(tf.zeros([1, 1, d, k]), true, `${s.head.w.name}/probe-z`));
    this.bz = tf.tidy(() => tf.variable(tf.zeros([k]), true, `${s.head.b.name}/probe-z`));
    this.fold();
  }

  /**
   * Caches the features of `copies` copies of the training slices (only the pixels the fit keeps) and of the
   * validation slices, batch by batch, and reports items done of all items after each batch (0 of them first).
   * The cache never outgrows `limitBytes`: each batch's kept pixels are counted from its labels before the
   * backbone runs on it, and a batch that would take the cache over the limit ends the run with an error
   * (planProbe chooses copies that fit, so this only fires if the plan and the cache ever disagree). Null when
   * `signal` aborts meanwhile: the training loop then reports the run as cancelled, as it does between steps.
   */
  static async build(o: {
    segmenter: Segmenter;
    train: LabeledSlice[];
    validation: LabeledSlice[];
    cfg: FewShotConfig;
    copies: number;
    limitBytes: number;
    adam: Adam;
    signal?: AbortSignal;
    onProgress?: (done: number, total: number) => void;
  }): Promise<FeatureProbe | null> {
    const size = o.cfg.preprocess.size;
    const n = size * size;
    const d = o.cfg.model.unet.embedding;
    const items = o.copies * o.train.length;
    const total = items + o.validation.length;
    const sample: TrainSample = { rows: [], labels: [], counts: new Array<number>(o.segmenter.classes.length + 1).fill(0), kept: 0, items };
    const validation: Array<{ features: tf.Tensor4D; label: Uint8Array }> = [];
    let done = 0;
    const features = (images: Float32Array[]): tf.Tensor4D => {
      const x = new Float32Array(images.length * n);
      images.forEach((im, b) => x.set(im, b * n));
      const f = backboneFeatures(o.segmenter, x, images.length, size);
      if (f.shape[3] !== d) {
        f.dispose();
        throw new Error(`the backbone gives ${f.shape[3]} channels, its configuration says ${d}`);
      }
      return f;
    };
    // A turn of the event loop per batch, so a stop request is seen while caching.
    const go = async (): Promise<boolean> => {
      if (o.signal) await new Promise<void>((r) => setImmediate(r));
      return !o.signal?.aborted;
    };
    let complete = false;
    try {
      o.onProgress?.(0, total);
      // Training copies in cache order, drawn batch by batch (a copy's draw does not depend on its batch).
      for (let i = 0; i < items; i += o.cfg.batch) {
        if (!(await go())) return null;
        const part = Array.from({ length: Math.min(o.cfg.batch, items - i) }, (_, b) => probeItem(o.train, o.cfg, i + b));
        const kept = part.map((p, b) => keptPixels(p.label, i + b));
        sample.kept += kept.reduce((a, r) => a + r.length, 0);
        const bytes = featureCacheBytes(sample.kept, o.validation.length, size, d);
        if (bytes > o.limitBytes) throw new Error(`the linear probe's feature cache would take ${mib(bytes)} MiB, over its limit of ${mib(o.limitBytes)} MiB`);
        const f = features(part.map((p) => p.image));
        sample.rows.push(keptRows(f, kept, n, d));
        f.dispose();
        part.forEach((p, b) => {
          const values = new Uint8Array(kept[b]!.length);
          kept[b]!.forEach((px, r) => (values[r] = p.label[px]!));
          sample.labels.push(values);
          for (const v of p.label) sample.counts[v]! += 1;
        });
        done += part.length;
        o.onProgress?.(done, total);
      }
      for (let i = 0; i < o.validation.length; i += o.cfg.batch) {
        if (!(await go())) return null;
        const part = o.validation.slice(i, i + o.cfg.batch);
        const f = features(part.map((p) => p.image));
        const per = tf.split(f, part.length, 0) as tf.Tensor4D[];
        f.dispose();
        per.forEach((t, b) => validation.push({ features: t, label: part[b]!.label }));
        done += part.length;
        o.onProgress?.(done, total);
      }
      const probe = new FeatureProbe(o.segmenter, trainPixels(sample), validation, o.adam);
      complete = true;
      return probe;
    } finally {
      tf.dispose(sample.rows);
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

/** The kept training pixels' features as they are cached, batch by batch, with what the fit needs of their labels. */
interface TrainSample {
  /** Features of the kept pixels [m, D], one matrix per batch, in cache order. */
  rows: tf.Tensor2D[];
  /** Class of each kept pixel, per item, in the same order. */
  labels: Uint8Array[];
  /** Pixels per class over every pixel of every item (the balance is the data's, not the sample's). */
  counts: number[];
  kept: number;
  items: number;
}

/** The rows `kept[b]` of item b of a batch's features [B, H, W, D], stacked in item order. */
function keptRows(f: tf.Tensor4D, kept: Int32Array[], n: number, d: number): tf.Tensor2D {
  const index = new Int32Array(kept.reduce((a, r) => a + r.length, 0));
  let at = 0;
  kept.forEach((rows, b) => {
    for (const p of rows) index[at++] = b * n + p;
  });
  return tf.tidy(() => tf.gather(tf.reshape(f, [kept.length * n, d]), tf.tensor1d(index, 'int32')));
}

const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);

/**
 * The training pixels as one standardised matrix (every foreground pixel, one background pixel in
 * BACKGROUND_STRIDE), their one-hot classes and balanced weights. Takes the sample's rows: each step disposes
 * what the next no longer needs, so at most two kept-pixel matrices exist at once, which is what the cache
 * holds at the end (two layouts) and what featureCacheBytes counts.
 */
function trainPixels(sample: TrainSample): TrainPixels {
  const classes = sample.counts.length;
  const cw = balancedClassWeights(sample.counts);
  const labels = new Int32Array(sample.kept);
  const weight = new Float32Array(sample.kept);
  let at = 0;
  let sum = 0;
  for (const values of sample.labels) {
    for (const v of values) {
      labels[at] = v;
      weight[at] = cw[v]! * (v === 0 ? BACKGROUND_STRIDE : 1);
      sum += weight[at]!;
      at += 1;
    }
  }
  // Normalised to sum exactly 1: the raster keeps about, not exactly, one background pixel in BACKGROUND_STRIDE.
  for (let i = 0; i < sample.kept; i++) weight[i]! /= sum;
  const f = tf.concat(sample.rows, 0) as tf.Tensor2D;
  tf.dispose(sample.rows);
  // tf.moments step by step (the same operations, so the same numbers), keeping the deviations for z.
  const mean = tf.mean(f, 0) as tf.Tensor1D;
  const dev = tf.sub(f, mean) as tf.Tensor2D;
  f.dispose();
  // A channel constant over the training pixels carries nothing: a unit spread keeps it finite.
  const sd = tf.tidy(() => {
    const variance = tf.mean(tf.square(dev), 0);
    return tf.where(tf.greater(variance, 1e-12), tf.sqrt(variance), tf.onesLike(variance));
  });
  const z = tf.div(dev, sd) as tf.Tensor2D;
  dev.dispose();
  const stats = { mean: mean.dataSync() as Float32Array, sd: sd.dataSync() as Float32Array };
  tf.dispose([mean, sd]);
  const target = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), classes), 'float32')) as tf.Tensor2D;
  return { z, zt: tf.transpose(z), target, weight: tf.tensor1d(weight), ...stats, items: sample.items };
}
