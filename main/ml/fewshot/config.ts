import { DEFAULT_PREPROCESS, DOWNSTREAM, modelPreset, type IntensityAugmentConfig, type ModelConfig, type PreprocessConfig } from '../config.js';

/**
 * Downstream (few-shot segmentation) configuration. The numbers of DESIGN.md section 2 come from ../config.ts
 * (DOWNSTREAM); everything a trained model needs to be reproduced is in this one object, which the model file
 * and the catalogue row record.
 */

export type FewShotMode = 'linear' | 'finetune' | 'mean-teacher' | 'supervised';
export const FEWSHOT_MODES: readonly FewShotMode[] = ['linear', 'finetune', 'mean-teacher', 'supervised'];

export interface DownstreamAugmentConfig {
  /** Probability that a training slice is transformed spatially at all. */
  spatialP: number;
  rotationDeg: [number, number];
  /** Field-of-view scale: below 1 zooms in, above 1 zooms out (outside pixels become background). */
  zoomScale: [number, number];
  /**
   * Flip weights. A short-axis slice has a handedness (RV on one side of the LV) that a flip reverses; flips
   * help anyway, measured with one labeled patient (docs/EVALUATION.md, "Downstream flips"), so they are on.
   */
  flipWeights: { x: number; y: number; none: number };
  intensity: IntensityAugmentConfig;
}

export interface MeanTeacherConfig {
  /** EMA decay of the teacher's weights. */
  decay: number;
  /** Consistency weight reached at the end of the ramp-up. */
  weight: number;
  /** Steps of the sigmoid ramp-up exp(−5 (1 − t)²); 0: the full weight from the start. */
  rampupSteps: number;
  /** Unlabeled slices per step. */
  batch: number;
}

export interface FewShotConfig {
  mode: FewShotMode;
  /** With mode 'mean-teacher': how the student starts (fine-tuned backbone or random initialisation). */
  meanTeacherBase: 'finetune' | 'supervised';
  model: ModelConfig;
  preprocess: PreprocessConfig;
  augment: DownstreamAugmentConfig;
  meanTeacher: MeanTeacherConfig;
  /** Learning rates: the head (1×1 conv to the classes) and the backbone (0 = frozen). */
  lr: { head: number; backbone: number };
  batch: number;
  steps: number;
  /** Fraction of the labeled slices held back for validation Dice (model selection, early stopping). */
  validationFraction: number;
  /** Steps between validations. */
  validateEvery: number;
  /** Stop after this many validations without improvement (0: never stop early). */
  patience: number;
  seed: number;
}

export const DEFAULT_DOWNSTREAM_AUGMENT: DownstreamAugmentConfig = {
  spatialP: 0.9,
  rotationDeg: [-30, 30],
  zoomScale: [0.85, 1.15],
  flipWeights: { x: 1, y: 1, none: 1 },
  intensity: {
    noise: { p: 0.2, sigmaMax: 0.05 },
    blur: { p: 0.2, sigma: [0, 1] },
    gamma: { p: 0.5, logGamma: [-0.3, 0.3] },
    biasField: { p: 0.3, coefficient: 0.3, order: 3 },
    inversion: { p: 0 },
  },
};

/** Whether downstream training flips by default (off until 27 Nov: experiment runs name it in their cache key). */
export const DOWNSTREAM_FLIPS_BY_DEFAULT = DEFAULT_DOWNSTREAM_AUGMENT.flipWeights.x + DEFAULT_DOWNSTREAM_AUGMENT.flipWeights.y > 0;

/** Learning rates per mode. Supervised training from scratch has no published number here: Adam's usual 1e-3. */
export function defaultLr(mode: FewShotMode, meanTeacherBase: 'finetune' | 'supervised' = 'finetune'): { head: number; backbone: number } {
  if (mode === 'linear') return { head: DOWNSTREAM.linearProbeLr, backbone: 0 };
  if (mode === 'finetune' || (mode === 'mean-teacher' && meanTeacherBase === 'finetune')) {
    return { head: DOWNSTREAM.fineTuneHeadLr, backbone: DOWNSTREAM.fineTuneBackboneLr };
  }
  return { head: 1e-3, backbone: 1e-3 };
}

export function needsBackbone(cfg: Pick<FewShotConfig, 'mode' | 'meanTeacherBase'>): boolean {
  return cfg.mode === 'linear' || cfg.mode === 'finetune' || (cfg.mode === 'mean-teacher' && cfg.meanTeacherBase === 'finetune');
}

type Partial2<T> = { [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? Partial2<T[K]> : T[K] };
export type FewShotOverrides = Partial2<Omit<FewShotConfig, 'mode'>>;

function merge<T>(base: T, over: unknown): T {
  if (over === undefined) return base;
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return over as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) if (v !== undefined) out[k] = k in out ? merge(out[k], v) : v;
  return out as T;
}

/** The configuration of one mode with overrides; the model and preprocessing follow the backbone when there is one. */
export function fewShotConfig(mode: FewShotMode, overrides: FewShotOverrides = {}): FewShotConfig {
  const base = overrides.meanTeacherBase ?? 'finetune';
  const cfg: FewShotConfig = merge(
    {
      mode,
      meanTeacherBase: base,
      model: modelPreset('compact'),
      preprocess: { ...DEFAULT_PREPROCESS, clipPercentiles: [...DEFAULT_PREPROCESS.clipPercentiles] as [number, number] },
      augment: structuredClone(DEFAULT_DOWNSTREAM_AUGMENT),
      meanTeacher: { decay: DOWNSTREAM.meanTeacherDecay, weight: 1, rampupSteps: 200, batch: 4 },
      lr: defaultLr(mode, base),
      batch: 8,
      steps: 1000,
      validationFraction: 0.2,
      validateEvery: 50,
      patience: 10,
      seed: 1,
    },
    overrides,
  );
  validateFewShot(cfg);
  return cfg;
}

export function validateFewShot(cfg: FewShotConfig): void {
  const bad = (m: string): never => {
    throw new Error(`invalid training configuration: ${m}`);
  };
  if (!FEWSHOT_MODES.includes(cfg.mode)) bad(`mode must be one of ${FEWSHOT_MODES.join(', ')} (got ${cfg.mode})`);
  if (!Number.isInteger(cfg.steps) || cfg.steps < 1) bad(`steps must be a positive integer (got ${cfg.steps})`);
  if (!Number.isInteger(cfg.batch) || cfg.batch < 1) bad(`batch must be a positive integer (got ${cfg.batch})`);
  if (!(cfg.validationFraction >= 0 && cfg.validationFraction < 1)) bad('validationFraction must be in [0, 1)');
  if (!(cfg.lr.head > 0)) bad('the head learning rate must be > 0');
  if (!(cfg.lr.backbone >= 0)) bad('the backbone learning rate must be ≥ 0');
  if (!(cfg.meanTeacher.decay > 0 && cfg.meanTeacher.decay < 1)) bad('meanTeacher.decay must be in (0, 1)');
  const div = 2 ** (cfg.model.unet.levels - 1);
  if (cfg.preprocess.size % div !== 0) bad(`size ${cfg.preprocess.size} must be divisible by ${div}`);
}
