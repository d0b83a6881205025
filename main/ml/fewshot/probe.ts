import { tf } from '../tf.js';
import { deriveSeed, Rng } from '../augment/rng.js';
import { diceCrossEntropyLoss } from '../losses.js';
import type { Adam } from '../pretrain/adam.js';
import { augmentPair } from './augment.js';
import type { FewShotConfig } from './config.js';
import type { LabeledSlice } from './data.js';
import { backboneFeatures, headLogits, type Segmenter } from './segmenter.js';
import { EpochOrder, type Stepper } from './stepper.js';
import { meanForegroundDice } from './dice.js';

/**
 * The linear probe on cached features. A frozen backbone maps a slice to the same features at every step, so
 * the probe computes them once (the training slices as they are plus a few augmented copies, and the
 * validation slices) and then trains only the 1×1 head on them. A head step is then a matter of milliseconds
 * instead of a full U-Net forward pass, which lets the probe train to convergence: at 60–120 streaming steps
 * the head had not left its initial near-uniform prediction, and the probe measured the step count rather than
 * the representation (issue 10).
 */

/** Memory the cached features may take (wasm heap: 4 GB per instance, shared with the backbone). */
export const FEATURE_CACHE_BYTES = 768 * 2 ** 20;
/** Copies of each training slice: the slice itself plus augmented draws. */
export const MAX_PROBE_COPIES = 4;

const STREAM = { copy: 21 } as const;

/**
 * How many copies of each training slice fit the cache next to the validation features (0: not even one copy:
 * the caller trains the probe by streaming the backbone instead).
 */
export function probeCopies(trainSlices: number, validationSlices: number, size: number, embedding: number, limitBytes: number = FEATURE_CACHE_BYTES): number {
  const perSlice = size * size * embedding * 4;
  const room = Math.floor((limitBytes - validationSlices * perSlice) / Math.max(1, trainSlices * perSlice));
  return Math.max(0, Math.min(MAX_PROBE_COPIES, room));
}

interface Cached {
  features: tf.Tensor4D;
  label: Uint8Array;
}

export class FeatureProbe implements Stepper {
  private readonly order: EpochOrder;

  private constructor(
    private readonly s: Segmenter,
    private readonly train: Cached[],
    private readonly validation: Cached[],
    private readonly cfg: FewShotConfig,
    private readonly adam: Adam,
  ) {
    // The streaming stepper's order: with one copy and no augmentation both probes take the same steps.
    this.order = new EpochOrder(cfg.seed, train.length, cfg.batch);
  }

  /**
   * Features of the training copies and of the validation slices, batch by batch. Null when `signal` aborts
   * meanwhile: the training loop then reports the run as cancelled, as it does between steps.
   */
  static async build(o: { segmenter: Segmenter; train: LabeledSlice[]; validation: LabeledSlice[]; cfg: FewShotConfig; copies: number; adam: Adam; signal?: AbortSignal }): Promise<FeatureProbe | null> {
    const size = o.cfg.preprocess.size;
    const items: Array<{ image: Float32Array; label: Uint8Array }> = [];
    for (let c = 0; c < o.copies; c++) {
      o.train.forEach((sl, i) => {
        if (c === 0) items.push({ image: sl.image, label: sl.label });
        else items.push(augmentPair(new Rng(deriveSeed(o.cfg.seed, STREAM.copy, c * 1_000_003 + i)), o.cfg.augment, sl.image, sl.label, size));
      });
    }
    const extract = async (list: Array<{ image: Float32Array; label: Uint8Array }>, into: Cached[]): Promise<boolean> => {
      const n = size * size;
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
    const train: Cached[] = [];
    const validation: Cached[] = [];
    let complete = false;
    try {
      complete = (await extract(items, train)) && (await extract(o.validation, validation));
    } finally {
      if (!complete) for (const c of [...train, ...validation]) c.features.dispose();
    }
    return complete ? new FeatureProbe(o.segmenter, train, validation, o.cfg, o.adam) : null;
  }

  /** Cached training items (slices × copies). */
  get cachedSlices(): number {
    return this.train.length;
  }

  async step(step: number): Promise<{ loss: number }> {
    const picked = Array.from(this.order.indices(step), (i) => this.train[i]!);
    const batch = picked.length;
    const size = this.cfg.preprocess.size;
    const n = size * size;
    const y = new Int32Array(batch * n);
    picked.forEach((c, b) => y.set(c.label, b * n));
    const k = this.s.classes.length + 1;
    const vars = [this.s.head.w, this.s.head.b];
    const { value, grads } = tf.variableGrads(() => {
      const logits = headLogits(this.s, tf.concat(picked.map((c) => c.features), 0));
      const target = tf.reshape(tf.oneHot(tf.tensor1d(y, 'int32'), k), [batch, size, size, k]) as tf.Tensor4D;
      return diceCrossEntropyLoss(logits, target);
    }, vars);
    try {
      const loss = value.dataSync()[0]!;
      if (!Number.isFinite(loss)) throw new Error(`training loss is ${loss} at step ${step + 1}`);
      this.adam.apply({ 'seg.w': this.s.head.w, 'seg.b': this.s.head.b }, { 'seg.w': grads[this.s.head.w.name]!, 'seg.b': grads[this.s.head.b.name]! });
      return { loss };
    } finally {
      value.dispose();
      tf.dispose(grads);
    }
  }

  validationDice(): number | null {
    if (this.validation.length === 0) return null;
    const size = this.cfg.preprocess.size;
    const n = size * size;
    const pred = new Uint8Array(this.validation.length * n);
    const ref = new Uint8Array(this.validation.length * n);
    const batch = Math.max(1, this.cfg.batch);
    for (let i = 0; i < this.validation.length; i += batch) {
      const part = this.validation.slice(i, i + batch);
      part.forEach((c, b) => ref.set(c.label, (i + b) * n));
      const cls = tf.tidy(() => tf.argMax(headLogits(this.s, tf.concat(part.map((c) => c.features), 0)), 3).dataSync());
      pred.set(cls, i * n);
    }
    return meanForegroundDice(pred, ref, this.s.classes.length + 1);
  }

  dispose(): void {
    for (const c of [...this.train, ...this.validation]) c.features.dispose();
  }
}
