import { tf } from '../tf.js';
import { DEFAULT_OPTIMIZER } from '../config.js';
import { deriveSeed, Rng } from '../augment/rng.js';
import { diceCrossEntropyLoss } from '../losses.js';
import { Adam } from '../pretrain/adam.js';
import type { SliceSource } from '../pretrain/source.js';
import { restoreInto, readCheckpoint } from '../pretrain/checkpoint.js';
import { EngineFailure } from '../../engine/errors.js';
import { augmentPair, consistencyViews } from './augment.js';
import { needsBackbone, validateFewShot, type FewShotConfig } from './config.js';
import { splitLabeled, type LabeledSlice } from './data.js';
import {
  createSegmenter,
  disposeSegmenter,
  emaUpdate,
  parameterGroups,
  predictClasses,
  restoreSnapshot,
  segLogits,
  snapshot,
  type Segmenter,
} from './segmenter.js';

/**
 * The downstream training loop shared by every mode. What differs per mode is only the initial weights
 * (pretrained backbone or random), which variables train (head only, or everything with two learning
 * rates) and, for Mean Teacher, the consistency term on unlabeled slices with an EMA teacher. Model selection
 * and early stopping use the Dice of held-back labeled slices, identically for every mode (the supervised
 * baseline gets every device the pretrained modes get).
 */

const STREAM = { order: 1, step: 2, unlabeled: 3 } as const;

export interface BackboneRef {
  /** Pretraining checkpoint (.p2r). */
  path: string;
  /** Catalogue model id, when the backbone is a library model. */
  id?: string | null;
  name?: string;
}

export interface FewShotData {
  labeled: LabeledSlice[];
  /** Label values of the classes to learn (every label of the annotations' label lists). */
  classes: number[];
  /** Unlabeled slices (Mean Teacher), preprocessed like the labeled ones. */
  unlabeled?: SliceSource;
  /** Validation slices given explicitly (e.g. an experiment's dev patients) instead of held back from `labeled`. */
  validation?: LabeledSlice[];
  /** Where the labeled slices come from, for the record (volume ids or paths). */
  description?: string;
}

export interface TrainProgress {
  kind: 'step' | 'validation';
  step: number;
  totalSteps: number;
  loss: number;
  smoothedLoss: number;
  consistency?: number;
  validationDice?: number;
  bestValidationDice?: number;
  etaSeconds: number | null;
}

export interface TrainingRecord {
  mode: FewShotConfig['mode'];
  meanTeacherBase?: FewShotConfig['meanTeacherBase'];
  backbone: { id: string | null; name: string | null; path: string; method: string; steps: number } | null;
  data: { labeledSlices: number; trainSlices: number; validationSlices: number; volumes: string[]; unlabeledSlices: number; description?: string };
  config: FewShotConfig;
  curves: { loss: Array<{ step: number; loss: number; consistency?: number }>; validation: Array<{ step: number; dice: number }> };
  /** Best validation Dice (mean over foreground classes) and its step; null without validation slices. */
  validationDice: number | null;
  bestStep: number;
  steps: number;
  stopped: 'steps' | 'early' | 'cancelled';
  seconds: number;
  backend: string;
}

export interface TrainOptions {
  config: FewShotConfig;
  data: FewShotData;
  backbone?: BackboneRef | null;
  signal?: AbortSignal;
  onProgress?: (p: TrainProgress) => void;
}

export interface TrainResult {
  segmenter: Segmenter;
  record: TrainingRecord;
}

/** Per class index: predicted voxels, reference voxels and their overlap (the terms of every Dice here). */
export function classOverlap(pred: Uint8Array, ref: Uint8Array, classes: number): { inter: Float64Array; ps: Float64Array; rs: Float64Array } {
  const inter = new Float64Array(classes);
  const ps = new Float64Array(classes);
  const rs = new Float64Array(classes);
  for (let i = 0; i < pred.length; i++) {
    ps[pred[i]!]! += 1;
    rs[ref[i]!]! += 1;
    if (pred[i] === ref[i]) inter[pred[i]!]! += 1;
  }
  return { inter, ps, rs };
}

/** Mean Dice over foreground classes present in the prediction or the reference (1 when none is). */
export function meanForegroundDice(pred: Uint8Array, ref: Uint8Array, classes: number): number {
  const { inter, ps, rs } = classOverlap(pred, ref, classes);
  let sum = 0;
  let n = 0;
  for (let c = 1; c < classes; c++) {
    if (ps[c]! + rs[c]! === 0) continue;
    sum += (2 * inter[c]!) / (ps[c]! + rs[c]!);
    n += 1;
  }
  return n === 0 ? 1 : sum / n;
}

function validationDice(s: Segmenter, slices: LabeledSlice[], size: number, batch: number): number {
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

/** Loads a pretraining checkpoint's backbone into the segmenter (the projection head is dropped). */
async function loadBackbone(s: Segmenter, ref: BackboneRef): Promise<{ method: string; steps: number }> {
  const ck = await readCheckpoint(ref.path);
  restoreInto(ck, s.net, null);
  return { method: ck.header.config.loss.method, steps: ck.header.step };
}

/**
 * Trains a segmenter. With a backbone, the model and preprocessing configuration are the checkpoint's (a
 * backbone only understands images prepared as in its pretraining); the caller must have prepared the
 * labeled slices with `config.preprocess` after `resolveConfig`.
 */
export async function runFewShot(opts: TrainOptions): Promise<TrainResult> {
  const cfg = opts.config;
  validateFewShot(cfg);
  const t0 = performance.now();
  const { data } = opts;
  const size = cfg.preprocess.size;
  if (data.classes.length === 0) throw new EngineFailure('BAD_INPUT', 'no label classes to learn: the annotations hold no labels');
  if (data.classes.length > 254) throw new EngineFailure('BAD_INPUT', `too many classes (${data.classes.length})`);
  if (data.labeled.length === 0) throw new EngineFailure('BAD_INPUT', 'no annotated slices to train on: annotate at least one slice');
  for (const s of data.labeled) {
    if (s.image.length !== size * size || s.label.length !== size * size) {
      throw new EngineFailure('BAD_INPUT', `labeled slice ${s.volumeId} k${s.k} is not ${size}×${size}: prepare slices with the training configuration's preprocessing`);
    }
  }
  if (needsBackbone(cfg) && !opts.backbone) throw new EngineFailure('BAD_INPUT', `mode ${cfg.mode} needs a pretrained backbone (--backbone MODEL)`);
  if (cfg.mode === 'mean-teacher' && (!data.unlabeled || data.unlabeled.slices.length === 0)) {
    throw new EngineFailure('BAD_INPUT', 'Mean Teacher needs unlabeled slices (the workspace has none)');
  }

  const { train, validation } = data.validation ? { train: data.labeled, validation: data.validation } : splitLabeled(data.labeled, cfg.validationFraction, cfg.seed);
  const student = createSegmenter(cfg.model, data.classes, cfg.seed);
  let backboneInfo: TrainingRecord['backbone'] = null;
  let teacher: Segmenter | null = null;
  const adams: Adam[] = [];
  try {
    if (opts.backbone) {
      const b = await loadBackbone(student, opts.backbone);
      backboneInfo = { id: opts.backbone.id ?? null, name: opts.backbone.name ?? null, path: opts.backbone.path, ...b };
    }
    const trainBackbone = cfg.lr.backbone > 0;
    const groups = parameterGroups(student);
    const headAdam = new Adam({ ...DEFAULT_OPTIMIZER, lr: cfg.lr.head }, groups.head);
    adams.push(headAdam);
    const backboneAdam = trainBackbone ? new Adam({ ...DEFAULT_OPTIMIZER, lr: cfg.lr.backbone }, groups.backbone) : null;
    if (backboneAdam) adams.push(backboneAdam);
    const vars = [...Object.values(groups.head), ...(trainBackbone ? Object.values(groups.backbone) : [])];
    const byVarName = new Map<string, [string, 'head' | 'backbone']>();
    for (const [n, v] of Object.entries(groups.head)) byVarName.set(v.name, [n, 'head']);
    for (const [n, v] of Object.entries(groups.backbone)) byVarName.set(v.name, [n, 'backbone']);

    if (cfg.mode === 'mean-teacher') {
      teacher = createSegmenter(cfg.model, data.classes, cfg.seed);
      restoreSnapshot(teacher, snapshot(student));
    }

    const batch = Math.min(cfg.batch, train.length);
    const perEpoch = Math.max(1, Math.floor(train.length / batch));
    const k = data.classes.length + 1;
    const n = size * size;
    const curves: TrainingRecord['curves'] = { loss: [], validation: [] };
    let best: { dice: number; step: number; snap: Map<string, Float32Array> } | null = null;
    let sinceBest = 0;
    let stopped: TrainingRecord['stopped'] = 'steps';
    let smoothed = NaN;
    let rate = 0;
    let orderEpoch = -1;
    let order: Int32Array = new Int32Array(0);
    let step = 0;

    const validate = (): number | null => {
      if (validation.length === 0) return null;
      const d = validationDice(student, validation, size, Math.max(1, cfg.batch));
      curves.validation.push({ step, dice: d });
      if (!best || d > best.dice) {
        best = { dice: d, step, snap: snapshot(student) };
        sinceBest = 0;
      } else sinceBest += 1;
      return d;
    };
    validate();

    while (step < cfg.steps) {
      // A supervised step never awaits: without this turn of the event loop a stop request (an IPC message to a
      // job's worker, a cancel over the contract) would only be seen after the last step.
      if (opts.signal) await new Promise<void>((r) => setImmediate(r));
      if (opts.signal?.aborted) {
        stopped = 'cancelled';
        break;
      }
      const ts = performance.now();
      const epoch = Math.floor(step / perEpoch);
      if (epoch !== orderEpoch) {
        order = new Rng(deriveSeed(cfg.seed, STREAM.order, epoch)).permutation(train.length);
        orderEpoch = epoch;
      }
      const pos = (step % perEpoch) * batch;
      const rng = new Rng(deriveSeed(cfg.seed, STREAM.step, step));
      const x = new Float32Array(batch * n);
      const y = new Int32Array(batch * n);
      for (let b = 0; b < batch; b++) {
        const sl = train[order[pos + b]!]!;
        const a = augmentPair(rng, cfg.augment, sl.image, sl.label, size);
        x.set(a.image, b * n);
        y.set(a.label, b * n);
      }
      let u: [Float32Array, Float32Array] | null = null;
      let weight = 0;
      if (teacher && data.unlabeled) {
        const src = data.unlabeled;
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
      let consistencyValue: number | undefined;
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
          consistencyValue = cons.dataSync()[0];
          loss = tf.add(loss, tf.mul(cons, weight)) as tf.Scalar;
        }
        return loss;
      }, vars);
      let loss: number;
      try {
        loss = value.dataSync()[0]!;
        if (!Number.isFinite(loss)) throw new Error(`training loss is ${loss} at step ${step + 1}`);
        const headGrads: Record<string, tf.Tensor> = {};
        const backboneGrads: Record<string, tf.Tensor> = {};
        for (const [vn, g] of Object.entries(grads)) {
          const m = byVarName.get(vn);
          if (m) (m[1] === 'head' ? headGrads : backboneGrads)[m[0]] = g;
        }
        headAdam.apply(groups.head, headGrads);
        backboneAdam?.apply(groups.backbone, backboneGrads);
      } finally {
        value.dispose();
        tf.dispose(grads);
      }
      if (teacher) emaUpdate(teacher, student, cfg.meanTeacher.decay);
      step += 1;
      curves.loss.push({ step, loss, ...(consistencyValue !== undefined ? { consistency: consistencyValue } : {}) });
      smoothed = Number.isNaN(smoothed) ? loss : 0.9 * smoothed + 0.1 * loss;
      const dt = (performance.now() - ts) / 1000;
      rate = rate === 0 ? 1 / dt : 0.8 * rate + 0.2 / dt;
      const progress: TrainProgress = {
        kind: 'step',
        step,
        totalSteps: cfg.steps,
        loss,
        smoothedLoss: smoothed,
        ...(consistencyValue !== undefined ? { consistency: consistencyValue } : {}),
        etaSeconds: rate > 0 ? (cfg.steps - step) / rate : null,
      };
      opts.onProgress?.(progress);
      if (step % Math.max(1, cfg.validateEvery) === 0 || step === cfg.steps) {
        const d = validate();
        if (d !== null) {
          opts.onProgress?.({ ...progress, kind: 'validation', validationDice: d, bestValidationDice: (best as { dice: number } | null)?.dice ?? d });
          if (cfg.patience > 0 && sinceBest >= cfg.patience) {
            stopped = 'early';
            break;
          }
        }
      }
    }
    const chosen = best as { dice: number; step: number; snap: Map<string, Float32Array> } | null;
    if (chosen) restoreSnapshot(student, chosen.snap);
    const record: TrainingRecord = {
      mode: cfg.mode,
      ...(cfg.mode === 'mean-teacher' ? { meanTeacherBase: cfg.meanTeacherBase } : {}),
      backbone: backboneInfo,
      data: {
        labeledSlices: data.labeled.length,
        trainSlices: train.length,
        validationSlices: validation.length,
        volumes: [...new Set(data.labeled.map((s) => s.volumeId))],
        unlabeledSlices: data.unlabeled?.slices.length ?? 0,
        ...(data.description ? { description: data.description } : {}),
      },
      config: cfg,
      curves,
      validationDice: chosen?.dice ?? null,
      bestStep: chosen?.step ?? step,
      steps: step,
      stopped,
      seconds: (performance.now() - t0) / 1000,
      backend: tf.getBackend(),
    };
    return { segmenter: student, record };
  } catch (err) {
    disposeSegmenter(student);
    throw err;
  } finally {
    for (const a of adams) a.dispose();
    if (teacher) disposeSegmenter(teacher);
  }
}

/**
 * The configuration adjusted to a backbone: its architecture and preprocessing replace the requested ones
 * (a backbone only understands images prepared as in its pretraining).
 */
export async function configForBackbone(cfg: FewShotConfig, backbonePath: string | null): Promise<FewShotConfig> {
  if (!backbonePath) return cfg;
  const { header } = await readCheckpoint(backbonePath);
  return { ...cfg, model: header.config.model, preprocess: header.config.preprocess };
}
