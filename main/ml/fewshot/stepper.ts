import { tf } from '../tf.js';
import { deriveSeed, Rng } from '../augment/rng.js';
import { diceCrossEntropyLoss } from '../losses.js';
import type { Adam } from '../pretrain/adam.js';
import type { SliceSource } from '../pretrain/source.js';
import { augmentPair, consistencyViews } from './augment.js';
import type { FewShotConfig } from './config.js';
import type { LabeledSlice } from './data.js';
import { meanForegroundDice } from './dice.js';
import { emaUpdate, parameterGroups, predictClasses, segLogits, type Segmenter } from './segmenter.js';

/**
 * One optimisation step and the validation score of a downstream training. The loop (train.ts) owns
 * everything else — steps, progress, model selection, early stopping — so the two ways of taking a step (the
 * whole network on freshly augmented slices, or the head alone on cached features: probe.ts) behave
 * identically around it.
 */
export interface Stepper {
  step(step: number): Promise<{ loss: number; consistency?: number }>;
  /** Mean foreground Dice on the validation slices, null without any. */
  validationDice(): number | null;
  dispose(): void;
}

const STREAM = { order: 1, step: 2, unlabeled: 3 } as const;

/**
 * Which items a step trains on: a fresh permutation of the items every epoch (a function of the seed and the
 * epoch only), taken batch by batch; an epoch is floor(items / batch) steps.
 */
export class EpochOrder {
  private epoch = -1;
  private order: Int32Array = new Int32Array(0);
  readonly batch: number;
  constructor(
    private readonly seed: number,
    private readonly items: number,
    batch: number,
  ) {
    this.batch = Math.min(batch, items);
  }

  indices(step: number): Int32Array {
    const perEpoch = Math.max(1, Math.floor(this.items / this.batch));
    const epoch = Math.floor(step / perEpoch);
    if (epoch !== this.epoch) {
      this.order = new Rng(deriveSeed(this.seed, STREAM.order, epoch)).permutation(this.items);
      this.epoch = epoch;
    }
    const pos = (step % perEpoch) * this.batch;
    return this.order.subarray(pos, pos + this.batch);
  }
}

export function sliceDice(s: Segmenter, slices: LabeledSlice[], size: number, batch: number): number {
  const n = size * size;
  const pred = new Uint8Array(slices.length * n);
  const ref = new Uint8Array(slices.length * n);
  for (let i = 0; i < slices.length; i += batch) {
    const part = slices.slice(i, i + batch);
    const x = new Float32Array(part.length * n);
    part.forEach((sl, b) => {
      x.set(sl.image, b * n);
      ref.set(sl.label, (i + b) * n);
    });
    pred.set(predictClasses(s, x, part.length, size), i * n);
  }
  return meanForegroundDice(pred, ref, s.classes.length + 1);
}

/** The sigmoid ramp-up of the consistency weight: exp(−5 (1 − t/T)²), 1 after T steps. */
export function rampup(step: number, rampupSteps: number): number {
  if (rampupSteps <= 0) return 1;
  const t = Math.min(1, Math.max(0, step / rampupSteps));
  return Math.exp(-5 * (1 - t) * (1 - t));
}

/**
 * Steps through the whole network: each step augments a batch of training slices afresh, and with a teacher
 * adds Mean Teacher's consistency term on unlabeled slices.
 */
export class StreamingStepper implements Stepper {
  private readonly order: EpochOrder;
  private readonly byVarName = new Map<string, [string, 'head' | 'backbone']>();
  private readonly vars: tf.Variable[];

  constructor(
    private readonly o: {
      student: Segmenter;
      teacher: Segmenter | null;
      train: LabeledSlice[];
      validation: LabeledSlice[];
      unlabeled?: SliceSource;
      cfg: FewShotConfig;
      headAdam: Adam;
      backboneAdam: Adam | null;
    },
  ) {
    const groups = parameterGroups(o.student);
    for (const [n, v] of Object.entries(groups.head)) this.byVarName.set(v.name, [n, 'head']);
    for (const [n, v] of Object.entries(groups.backbone)) this.byVarName.set(v.name, [n, 'backbone']);
    this.vars = [...Object.values(groups.head), ...(o.backboneAdam ? Object.values(groups.backbone) : [])];
    this.order = new EpochOrder(o.cfg.seed, o.train.length, o.cfg.batch);
  }

  async step(step: number): Promise<{ loss: number; consistency?: number }> {
    const { cfg, student, teacher, train } = this.o;
    const trainBackbone = this.o.backboneAdam !== null;
    const size = cfg.preprocess.size;
    const n = size * size;
    const k = student.classes.length + 1;
    const picked = this.order.indices(step);
    const batch = picked.length;
    const rng = new Rng(deriveSeed(cfg.seed, STREAM.step, step));
    const x = new Float32Array(batch * n);
    const y = new Int32Array(batch * n);
    for (let b = 0; b < batch; b++) {
      const sl = train[picked[b]!]!;
      const a = augmentPair(rng, cfg.augment, sl.image, sl.label, size);
      x.set(a.image, b * n);
      y.set(a.label, b * n);
    }
    let u: [Float32Array, Float32Array] | null = null;
    let weight = 0;
    if (teacher && this.o.unlabeled) {
      const src = this.o.unlabeled;
      const ub = cfg.meanTeacher.batch;
      const urng = new Rng(deriveSeed(cfg.seed, STREAM.unlabeled, step));
      const ua = new Float32Array(ub * n);
      const ubv = new Float32Array(ub * n);
      for (let b = 0; b < ub; b++) {
        const img = await src.load(urng.int(src.slices.length));
        const [va, vb] = consistencyViews(urng, cfg.augment, img, size);
        ua.set(va, b * n);
        ubv.set(vb, b * n);
      }
      u = [ua, ubv];
      weight = cfg.meanTeacher.weight * rampup(step, cfg.meanTeacher.rampupSteps);
    }
    let consistency: number | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const logits = segLogits(student, tf.tensor4d(x, [batch, size, size, 1]), { training: true, trainBackbone });
      const target = tf.reshape(tf.oneHot(tf.tensor1d(y, 'int32'), k), [batch, size, size, k]) as tf.Tensor4D;
      let loss = diceCrossEntropyLoss(logits, target);
      if (u && teacher) {
        const ub = u[0].length / n;
        const ps = tf.softmax(segLogits(student, tf.tensor4d(u[0], [ub, size, size, 1]), { training: true, trainBackbone }), 3);
        // The teacher's variables are not among those differentiated: its output acts as a constant target.
        const pt = tf.softmax(segLogits(teacher, tf.tensor4d(u[1], [ub, size, size, 1]), { training: false, trainBackbone: false }), 3);
        const cons = tf.mean(tf.square(tf.sub(ps, pt))) as tf.Scalar;
        consistency = cons.dataSync()[0];
        loss = tf.add(loss, tf.mul(cons, weight)) as tf.Scalar;
      }
      return loss;
    }, this.vars);
    try {
      const loss = value.dataSync()[0]!;
      if (!Number.isFinite(loss)) throw new Error(`training loss is ${loss} at step ${step + 1}`);
      const groups = parameterGroups(student);
      const headGrads: Record<string, tf.Tensor> = {};
      const backboneGrads: Record<string, tf.Tensor> = {};
      for (const [vn, g] of Object.entries(grads)) {
        const m = this.byVarName.get(vn);
        if (m) (m[1] === 'head' ? headGrads : backboneGrads)[m[0]] = g;
      }
      this.o.headAdam.apply(groups.head, headGrads);
      this.o.backboneAdam?.apply(groups.backbone, backboneGrads);
      if (teacher) emaUpdate(teacher, student, cfg.meanTeacher.decay);
      return { loss, ...(consistency !== undefined ? { consistency } : {}) };
    } finally {
      value.dispose();
      tf.dispose(grads);
    }
  }

  validationDice(): number | null {
    if (this.o.validation.length === 0) return null;
    return sliceDice(this.o.student, this.o.validation, this.o.cfg.preprocess.size, Math.max(1, this.o.cfg.batch));
  }

  dispose(): void {}
}
