import { headFor, type ModelConfig, type PretrainOverrides } from '../config.js';
import type { FewShotOverrides } from '../fewshot/config.js';

/**
 * Levers of issue 10: one-change overrides of a budget's recipe, given as `--set key=value`. Each is measured
 * against the same budget without it, on the dev patients (`--eval dev`), never chosen on the test patients.
 * The budget table itself is never edited: overrides live beside it, so the cache key of a budget's own run
 * (and the checkpoints it resumes) stays what it was.
 */

export interface Levers {
  /** NT-Xent temperature of the pretraining loss. */
  temperature?: number;
  /** Pixel locations sampled per pretraining batch. */
  samples?: number;
  /**
   * Pretraining method run (and the downstream methods built on it): v1 = pix2rep, v2 = pix2rep-v2; none runs no
   * pretraining and only the networks trained from scratch (a downstream lever's question about the baseline).
   */
  method?: 'v1' | 'v2' | 'none';
  /** Embedding size D (the projection head follows it). */
  embedding?: number;
  /** Channels of the first U-Net level. */
  base?: number;
  /** Pretraining learning rate. */
  lr?: number;
  /** Pretraining learning-rate schedule; cosine: linear warm-up, then cosine decay to 0 at the last step. */
  schedule?: 'constant' | 'cosine';
  /** Warm-up steps of the cosine schedule (default 5% of the pretraining steps). */
  warmup?: number;
  /** Unlabeled pretraining data: ED and ES frames only, or every frame of the 4D cine where the data has it. */
  frames?: 'edes' | 'cine';
  /** Pretraining steps per method. */
  steps?: number;
  /**
   * Downstream methods start from the checkpoint the pretraining kept at this readout step (`step-N.p2r`)
   * instead of its best one: the downstream Dice along the pretraining curve, from one pretraining run. The
   * pretraining is not continued, so this can run while it is still training.
   */
  backboneStep?: number;
  /**
   * Downstream training steps of every method but the linear probe (which has its own count), the supervised
   * baseline included: the budgets' few dozen steps stop a network from scratch long before it converges.
   */
  downstream?: number;
  /** Downstream rotation range ±deg, for every method including the supervised baseline. */
  rotation?: number;
  /** Downstream flips along x and y (each 1/3), for every method. */
  flips?: boolean;
  /**
   * Pretraining views: the paper's (rotation, flips, zoom-crop, intensity changes) or geometric only (rotation
   * and flips): the embedding inspector measured the loss falling within 40 steps with the latter and barely
   * moving over 160 with the former (docs/PERFORMANCE.md, equivariance).
   */
  views?: 'paper' | 'geometric';
  /**
   * Backbone learning rate of fine-tuning (and of Mean Teacher built on it); the app's default is 1e-3 since
   * 26 Nov, measured against the paper's 5e-5 (`finetuneLr=5e-5` runs that). The supervised baseline keeps its own.
   */
  finetuneLr?: number;
  /**
   * Head learning rate of the networks trained from scratch (the supervised baseline, Mean Teacher on it),
   * whose whole network otherwise trains at 1e-3; fine-tuning's head trains at 1e-2. Measures whether that
   * difference of recipe, rather than the pretrained start, is what a fine-tuned network gains.
   */
  scratchHeadLr?: number;
  /**
   * Data-parallel pretraining workers (2: both cores, about half the wall time per step). A recipe change: each
   * worker's contrastive loss sees only its own shard's negatives (docs/PERFORMANCE.md), so its checkpoints
   * get their own folder.
   */
  workers?: number;
  /**
   * Whether Mean Teacher runs (the budget's choice when absent). Off saves a lever experiment the costliest
   * runs when only the pretraining's methods are in question. Not a recipe change: it changes which runs are
   * trained, none of their results, so it enters no key or folder.
   */
  meanTeacher?: boolean;
  /** Whether the supervised baseline also runs at the budget's larger labeled regimes (as `meanTeacher`). */
  baselines?: boolean;
  /**
   * Off: the pretraining and its readouts only, no downstream run and no control (a pretraining lever screened
   * by its readout, the cheap measure, costs no downstream hour). Such an invocation reports in a section of its
   * own and leaves the lever's saved result alone.
   */
  downstreamRuns?: boolean;
  /** Readout every N pretraining steps, or off. Not a recipe change: it does not enter keys or folders. */
  readout?: number | 'off';
  /** Linear-probe steps of each readout. */
  probeSteps?: number;
}

export type LeverKey = keyof Levers;

const posInt = (k: string, v: string): number => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isInteger(n) || n < 1) throw new Error(`${k} must be a positive integer, got "${v}"`);
  return n;
};
const posNum = (k: string, v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new Error(`${k} must be a number > 0, got "${v}"`);
  return n;
};
const oneOf = <T extends string>(k: string, v: string, allowed: readonly T[]): T => {
  if (!allowed.includes(v as T)) throw new Error(`${k} must be one of ${allowed.join(', ')}, got "${v}"`);
  return v as T;
};

/** Every key, its parser and one line of help (the CLI's usage text lists them from here). */
export const LEVERS: Record<LeverKey, { help: string; parse: (v: string) => Levers[LeverKey] }> = {
  temperature: { help: 'pretraining NT-Xent temperature (default 0.53)', parse: (v) => posNum('temperature', v) },
  samples: { help: 'pixels sampled per pretraining batch (default 1000)', parse: (v) => {
    const n = posInt('samples', v);
    if (n < 2) throw new Error(`samples must be ≥ 2, got "${v}"`);
    return n;
  } },
  method: { help: 'v1 or v2: run only that pretraining method and its downstream methods; none: no pretraining, only the networks from scratch', parse: (v) => oneOf('method', v, ['v1', 'v2', 'none'] as const) },
  embedding: { help: 'embedding size D (head follows)', parse: (v) => posInt('embedding', v) },
  base: { help: 'U-Net base width', parse: (v) => posInt('base', v) },
  lr: { help: 'pretraining learning rate (default 4.7e-4)', parse: (v) => posNum('lr', v) },
  schedule: { help: 'constant or cosine (warm-up + cosine decay over the pretraining steps)', parse: (v) => oneOf('schedule', v, ['constant', 'cosine'] as const) },
  warmup: { help: 'warm-up steps of schedule=cosine (default 5% of the steps)', parse: (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v)) throw new Error(`warmup must be an integer ≥ 0, got "${v}"`);
    return n;
  } },
  frames: { help: 'edes or cine: pretraining on every frame of the 4D cine where the data has one', parse: (v) => oneOf('frames', v, ['edes', 'cine'] as const) },
  steps: { help: 'pretraining steps per method', parse: (v) => posInt('steps', v) },
  backboneStep: { help: "start the downstream methods from the pretraining's kept checkpoint of this readout step (step-N.p2r) instead of its best; the pretraining is not continued", parse: (v) => posInt('backboneStep', v) },
  downstream: { help: 'downstream training steps of every method but the linear probe (validation interval scaled with it)', parse: (v) => posInt('downstream', v) },
  rotation: { help: 'downstream rotation range ±deg (0–180), every method', parse: (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 180) throw new Error(`rotation must be a number of degrees in [0, 180], got "${v}"`);
    return n;
  } },
  flips: { help: 'on or off: downstream flips along x and y, every method (default on since 27 Nov; off before)', parse: (v) => oneOf('flips', v, ['on', 'off'] as const) === 'on' },
  views: { help: 'paper or geometric: pretraining views with or without zoom-crop and intensity changes', parse: (v) => oneOf('views', v, ['paper', 'geometric'] as const) },
  finetuneLr: { help: "backbone learning rate of fine-tuning (default 1e-3 since 26 Nov; the paper's 5e-5 before; the supervised baseline keeps its own)", parse: (v) => posNum('finetuneLr', v) },
  scratchHeadLr: { help: "head learning rate of the networks trained from scratch (default 1e-3, as the rest of them; fine-tuning's head: 1e-2)", parse: (v) => posNum('scratchHeadLr', v) },
  workers: { help: 'data-parallel pretraining workers (2 uses both cores; per-shard loss, so its own checkpoints)', parse: (v) => posInt('workers', v) },
  meanTeacher: { help: 'on or off: train the Mean Teacher runs (default: as the budget says); no run changes', parse: (v) => oneOf('meanTeacher', v, ['on', 'off'] as const) === 'on' },
  baselines: { help: 'on or off: train the supervised baseline at more labeled patients (default: as the budget says)', parse: (v) => oneOf('baselines', v, ['on', 'off'] as const) === 'on' },
  downstreamRuns: { help: 'on or off: off pretrains (with its readouts) and trains no downstream run (default on)', parse: (v) => oneOf('downstreamRuns', v, ['on', 'off'] as const) === 'on' },
  readout: { help: 'linear-probe readout every N pretraining steps, or off', parse: (v) => (v === 'off' ? 'off' : posInt('readout', v)) },
  probeSteps: { help: 'linear-probe steps of each readout', parse: (v) => posInt('probeSteps', v) },
};

/** Keys that change the pretrained weights: a change gives the pretraining its own folder. */
const PRETRAINING_KEYS: readonly LeverKey[] = ['temperature', 'samples', 'embedding', 'base', 'lr', 'schedule', 'warmup', 'frames', 'steps', 'views', 'workers'];
/**
 * Keys that change a network trained from scratch (the supervised baseline): its architecture, the
 * downstream augmentation and length, and its head rate. Every other lever acts through pretraining, so a supervised run under it is the
 * baseline's own run and is reused.
 */
const SCRATCH_KEYS: readonly LeverKey[] = ['embedding', 'base', 'downstream', 'rotation', 'flips', 'scratchHeadLr'];
/** Keys the untrained control does not depend on (it has its own backbone): left out of its runs' cache keys and folder. */
const NOT_CONTROL_KEYS: readonly LeverKey[] = ['backboneStep'];
/** Keys the linear probe does not depend on (its own step count; no backbone to fine-tune): left out of its runs' cache keys. */
const NOT_LINEAR_KEYS: readonly LeverKey[] = ['downstream', 'finetuneLr', 'scratchHeadLr'];
/** Keys that change no result (what is observed, which runs are trained): left out of cache keys and folder names. */
const OBSERVATION_KEYS: readonly LeverKey[] = ['readout', 'probeSteps', 'meanTeacher', 'baselines', 'downstreamRuns'];

/** `key=value` strings → levers; throws a plain-words error naming the offending key or value. */
export function parseLevers(sets: readonly string[]): Levers {
  const out: Record<string, unknown> = {};
  for (const s of sets) {
    const i = s.indexOf('=');
    if (i <= 0) throw new Error(`--set takes key=value, got "${s}"`);
    const key = s.slice(0, i).trim();
    const value = s.slice(i + 1).trim();
    if (!(key in LEVERS)) throw new Error(`unknown --set key "${key}" (known: ${Object.keys(LEVERS).join(', ')})`);
    if (key in out) throw new Error(`--set ${key} given twice`);
    out[key] = LEVERS[key as LeverKey].parse(value);
  }
  const l = out as Levers;
  if (l.warmup !== undefined && l.schedule !== 'cosine') throw new Error('warmup applies to schedule=cosine only');
  if (l.probeSteps !== undefined && (l.readout === undefined || l.readout === 'off')) throw new Error('probeSteps needs readout=N');
  if (l.downstreamRuns === false && (l.readout === 'off' || l.method === 'none')) throw new Error('downstreamRuns=off measures the pretraining by its readout: it needs a pretraining (not method=none) with its readout on');
  if (l.downstreamRuns === false && l.backboneStep !== undefined) throw new Error('backboneStep chooses the downstream runs\' backbone: it has no use with downstreamRuns=off');
  return l;
}

const pick = (l: Levers, keys: readonly LeverKey[]): Levers => Object.fromEntries(Object.entries(l).filter(([k]) => keys.includes(k as LeverKey))) as Levers;
const omit = (l: Levers, keys: readonly LeverKey[]): Levers => Object.fromEntries(Object.entries(l).filter(([k]) => !keys.includes(k as LeverKey))) as Levers;

/** The levers that change results (everything but the readout), in key order: what keys and folders use. */
export function recipeLevers(l: Levers): Levers {
  return Object.fromEntries(
    Object.entries(l)
      .filter(([k]) => !OBSERVATION_KEYS.includes(k as LeverKey))
      .sort(([a], [b]) => a.localeCompare(b)),
  ) as Levers;
}

/** The levers a network trained from scratch depends on (see SCRATCH_KEYS). */
export function scratchLevers(l: Levers): Levers {
  return recipeLevers(pick(l, SCRATCH_KEYS));
}

/** The recipe levers the untrained control depends on (see NOT_CONTROL_KEYS). */
export function controlLevers(l: Levers): Levers {
  return recipeLevers(omit(l, NOT_CONTROL_KEYS));
}

/** The recipe levers a linear-probe run depends on (see NOT_LINEAR_KEYS). */
export function linearLevers(l: Levers): Levers {
  return recipeLevers(omit(l, NOT_LINEAR_KEYS));
}

export function pretrainingLevers(l: Levers): Levers {
  return recipeLevers(pick(l, PRETRAINING_KEYS));
}

export const hasLevers = (l: Levers): boolean => Object.keys(l).length > 0;

/** A folder-safe, readable name of a lever set: `rotation-180_temperature-0.1` (empty for none). */
export function leverSlug(l: Levers): string {
  return Object.entries(recipeLevers(l))
    .map(([k, v]) => `${k}-${typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v)}`.replace(/[^A-Za-z0-9.-]/g, '-'))
    .join('_');
}

/** `key=value …` as given on the command line (for the report and the reproduce command). */
export function leverArgs(l: Levers): string[] {
  return Object.entries(l)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v)}`);
}

/** The budget's model with the architecture levers applied (for pretraining and the supervised baseline alike). */
export function leverModel(model: ModelConfig, l: Levers): ModelConfig {
  if (l.embedding === undefined && l.base === undefined) return model;
  const unet = { ...model.unet, ...(l.embedding !== undefined ? { embedding: l.embedding } : {}), ...(l.base !== undefined ? { base: l.base } : {}) };
  return { preset: 'custom', unet, head: l.embedding !== undefined ? headFor(l.embedding) : { ...model.head } };
}

/** Pretraining overrides beyond the budget's own (loss, optimizer); the model is given separately. */
export function leverPretrainOverrides(l: Levers, pretrainSteps: number): PretrainOverrides {
  const o: PretrainOverrides = {};
  if (l.temperature !== undefined || l.samples !== undefined) o.loss = { ...(l.temperature !== undefined ? { temperature: l.temperature } : {}), ...(l.samples !== undefined ? { samples: l.samples } : {}) };
  if (l.lr !== undefined || l.schedule === 'cosine') {
    o.optimizer = {
      ...(l.lr !== undefined ? { lr: l.lr } : {}),
      ...(l.schedule === 'cosine'
        ? { schedule: { kind: 'warmup-cosine' as const, warmupSteps: Math.min(pretrainSteps, l.warmup ?? Math.round(0.05 * pretrainSteps)), totalSteps: pretrainSteps, minFraction: 0 } }
        : {}),
    };
  }
  if (l.views === 'geometric') {
    o.augment = {
      spatial: { zoomScale: [1, 1], elastic: { p: 0 } },
      intensity: { noise: { p: 0 }, blur: { p: 0 }, gamma: { p: 0 }, biasField: { p: 0 }, inversion: { p: 0 } },
    };
  }
  return o;
}

/** How a downstream method's network starts: from scratch, from a backbone it fine-tunes, or on a frozen backbone. */
export type NetworkStart = 'scratch' | 'finetuned' | 'frozen';

/**
 * Downstream overrides of one method: the same augmentation for every method, the supervised baseline
 * included; the fine-tuning backbone rate only where a pretrained backbone is fine-tuned, the scratch head
 * rate only where a network starts from scratch.
 */
export function leverFewShotOverrides(l: Levers, start: NetworkStart): FewShotOverrides {
  const augment: NonNullable<FewShotOverrides['augment']> = {};
  if (l.rotation !== undefined) augment.rotationDeg = [-l.rotation, l.rotation];
  if (l.flips !== undefined) augment.flipWeights = l.flips ? { x: 1, y: 1, none: 1 } : { x: 0, y: 0, none: 1 };
  const lr = start === 'finetuned' && l.finetuneLr !== undefined ? { backbone: l.finetuneLr } : start === 'scratch' && l.scratchHeadLr !== undefined ? { head: l.scratchHeadLr } : null;
  return {
    ...(Object.keys(augment).length ? { augment } : {}),
    ...(lr ? { lr } : {}),
  };
}

/** Whether a lever set trains downstream runs at all (downstreamRuns=off: the pretraining and its readouts only). */
export const pretrainingOnly = (l: Levers): boolean => l.downstreamRuns === false;

/** Which of the budget's optional runs a lever set keeps: Mean Teacher, and the baseline's larger regimes. */
export function runsToTrain(b: { meanTeacher: boolean; baselineRegimes: Array<'1' | '2' | '5'> }, l: Levers): { meanTeacher: boolean; baselineRegimes: Array<'1' | '2' | '5'> } {
  return { meanTeacher: l.meanTeacher ?? b.meanTeacher, baselineRegimes: l.baselines === false ? [] : b.baselineRegimes };
}

/**
 * Steps and validation schedule of a downstream (non-linear) run under the `downstream` lever. Validation
 * interval and patience keep the budget's share of the run: a run ten times longer is validated every ten
 * times as many steps and stops early after the same share of it without improvement.
 */
export function downstreamSchedule(
  b: { downstreamSteps: number; validateEvery: number; patience: number },
  l: Levers,
): { steps: number; validateEvery: number; patience: number } {
  if (l.downstream === undefined) return { steps: b.downstreamSteps, validateEvery: b.validateEvery, patience: b.patience };
  return { steps: l.downstream, validateEvery: Math.max(1, Math.round((b.validateEvery * l.downstream) / b.downstreamSteps)), patience: b.patience };
}
