import { tf } from '../tf.js';
import { DEFAULT_OPTIMIZER } from '../config.js';
import { Adam } from '../pretrain/adam.js';
import type { SliceSource } from '../pretrain/source.js';
import { restoreInto, readCheckpoint } from '../pretrain/checkpoint.js';
import { EngineFailure } from '../../engine/errors.js';
import { needsBackbone, validateFewShot, type FewShotConfig } from './config.js';
import { splitLabeled, type LabeledSlice } from './data.js';
import { FeatureProbe } from './probe.js';
import { FEATURE_CACHE_BYTES, planProbe } from './probe-budget.js';
import { createSegmenter, disposeSegmenter, parameterGroups, restoreSnapshot, snapshot, type Segmenter } from './segmenter.js';
import { StreamingStepper, type Stepper } from './stepper.js';

export { classOverlap, meanForegroundDice } from './dice.js';
export { rampup } from './stepper.js';

/**
 * The downstream training loop shared by every mode. What differs per mode is only the initial weights
 * (pretrained backbone or random), which variables train (head only, or everything with two learning
 * rates) and, for Mean Teacher, the consistency term on unlabeled slices with an EMA teacher. Model selection
 * and early stopping use the Dice of held-back labeled slices, identically for every mode (the supervised
 * baseline gets every device the pretrained modes get).
 */

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

/** Progress of a run: a step or a validation pass (StepProgress), or the linear probe caching features. */
export type TrainProgress = StepProgress | FeatureCacheProgress;

export interface StepProgress {
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

/**
 * The linear probe computing its cached features (probe.ts), before the first step: `done` of `total` items
 * (training slices × copies, then the validation slices). It can take longer than the steps themselves.
 */
export interface FeatureCacheProgress {
  kind: 'features';
  done: number;
  total: number;
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
  /** The linear probe fitted on cached features (probe.ts): training items cached (slices × copies). */
  probe?: { cachedSlices: number; copies: number };
}

export interface TrainOptions {
  config: FewShotConfig;
  data: FewShotData;
  backbone?: BackboneRef | null;
  signal?: AbortSignal;
  onProgress?: (p: TrainProgress) => void;
  /** Memory the linear probe's cached features may take (default FEATURE_CACHE_BYTES; 0 streams the backbone). */
  featureCacheBytes?: number;
}

export interface TrainResult {
  segmenter: Segmenter;
  record: TrainingRecord;
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
  let stepper: Stepper | null = null;
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

    if (cfg.mode === 'mean-teacher') {
      teacher = createSegmenter(cfg.model, data.classes, cfg.seed);
      restoreSnapshot(teacher, snapshot(student));
    }

    // A frozen backbone gives every slice the same features at every step: the probe trains on them cached.
    const limitBytes = opts.featureCacheBytes ?? FEATURE_CACHE_BYTES;
    const copies = cfg.mode === 'linear' && !trainBackbone ? planProbe(train, validation.length, cfg, limitBytes).copies : 0;
    // Null also when cancelled while caching: the loop below then stops before its first step.
    const probe =
      copies > 0
        ? await FeatureProbe.build({
            segmenter: student,
            train,
            validation,
            cfg,
            copies,
            limitBytes,
            adam: headAdam,
            signal: opts.signal,
            onProgress: (done, total) => opts.onProgress?.({ kind: 'features', done, total }),
          })
        : null;
    stepper = probe ?? new StreamingStepper({ student, teacher, train, validation, unlabeled: data.unlabeled, cfg, headAdam, backboneAdam });
    const active = stepper;

    const curves: TrainingRecord['curves'] = { loss: [], validation: [] };
    let best: { dice: number; step: number; snap: Map<string, Float32Array> } | null = null;
    let sinceBest = 0;
    let stopped: TrainingRecord['stopped'] = 'steps';
    let smoothed = NaN;
    let rate = 0;
    let step = 0;

    const validate = (): number | null => {
      const d = active.validationDice();
      if (d === null) return null;
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
      const { loss, consistency } = await active.step(step);
      step += 1;
      curves.loss.push({ step, loss, ...(consistency !== undefined ? { consistency } : {}) });
      smoothed = Number.isNaN(smoothed) ? loss : 0.9 * smoothed + 0.1 * loss;
      const dt = (performance.now() - ts) / 1000;
      rate = rate === 0 ? 1 / dt : 0.8 * rate + 0.2 / dt;
      const progress: StepProgress = {
        kind: 'step',
        step,
        totalSteps: cfg.steps,
        loss,
        smoothedLoss: smoothed,
        ...(consistency !== undefined ? { consistency } : {}),
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
      ...(probe ? { probe: { cachedSlices: probe.cachedSlices, copies } } : {}),
    };
    return { segmenter: student, record };
  } catch (err) {
    disposeSegmenter(student);
    throw err;
  } finally {
    stepper?.dispose();
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
