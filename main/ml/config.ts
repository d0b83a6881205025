/**
 * Every number of the Pix2Rep method lives here (DESIGN.md section 2), so that a checkpoint can record the
 * complete configuration it was trained with and nothing is scattered as a constant in code.
 */

export type Normalization = 'batch' | 'none';

export interface UNetConfig {
  /** Resolution levels including the bottleneck (a 4-level net pools 3 times). */
  levels: number;
  /** Channels of the first level; level l has base · 2^l. */
  base: number;
  /** Input channels (1 for MRI magnitude). */
  inChannels: number;
  /** Embedding size D of the last 1×1 layer. */
  embedding: number;
  normalization: Normalization;
  /** Running-statistics momentum of BatchNorm (PyTorch convention: new = (1 − m)·old + m·batch). */
  bnMomentum: number;
  bnEpsilon: number;
}

export interface HeadConfig {
  /** Width of the hidden and output 1×1 layers of the projection head g. */
  hidden: number;
  out: number;
}

export interface ModelConfig {
  preset: PresetName | 'custom';
  unet: UNetConfig;
  head: HeadConfig;
}

export interface PreprocessConfig {
  /** In-plane spacing (mm) every slice is resampled to. 1.5 mm keeps 99.4% of the ACDC heart in a 128² field. */
  spacingMm: number;
  /** Network input side in pixels (square). */
  size: number;
  /** Per-volume percentile clip before scaling to [0, 1]. */
  clipPercentiles: [number, number];
}

export interface SpatialAugmentConfig {
  /** Rotation range in degrees, drawn uniformly. */
  rotationDeg: [number, number];
  /** Zoom-crop: side of the window as a fraction of the field, drawn uniformly. */
  zoomScale: [number, number];
  /** Probability of each of: flip along x, flip along y, no flip (normalised). */
  flipWeights: { x: number; y: number; none: number };
  elastic: { p: number; /** max displacement in pixels */ magnitude: number; /** control points per side */ controlPoints: number };
}

export interface IntensityAugmentConfig {
  noise: { p: number; sigmaMax: number };
  blur: { p: number; sigma: [number, number] };
  gamma: { p: number; logGamma: [number, number] };
  biasField: { p: number; coefficient: number; order: number };
  inversion: { p: number };
}

export interface AugmentConfig {
  spatial: SpatialAugmentConfig;
  intensity: IntensityAugmentConfig;
}

export type PretrainMethod = 'pix2rep' | 'pix2rep-v2';

export interface LossConfig {
  method: PretrainMethod;
  /** Pixel locations sampled per batch (same locations in both branches). */
  samples: number;
  /** NT-Xent temperature. */
  temperature: number;
  /** Barlow Twins off-diagonal weight. */
  lambda: number;
}

export interface OptimizerConfig {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /**
   * Learning-rate schedule; absent: the constant `lr` (what every checkpoint written before issue 10 used, so
   * the field is only present when a schedule was asked for and older configurations compare equal).
   */
  schedule?: LrSchedule;
}

/**
 * Linear warm-up from 0 to `lr` over `warmupSteps`, then a cosine decay to `minFraction`·lr at `totalSteps`
 * (held there beyond it, so a run continued past its planned length keeps training slowly).
 */
export interface LrSchedule {
  kind: 'warmup-cosine';
  warmupSteps: number;
  totalSteps: number;
  minFraction: number;
}

/** The learning rate of Adam update number `step` (1-based). */
export function scheduledLr(cfg: OptimizerConfig, step: number): number {
  const s = cfg.schedule;
  if (!s) return cfg.lr;
  if (s.warmupSteps > 0 && step <= s.warmupSteps) return (cfg.lr * step) / s.warmupSteps;
  const span = s.totalSteps - s.warmupSteps;
  const t = span > 0 ? Math.min(1, (step - s.warmupSteps) / span) : 1;
  return cfg.lr * (s.minFraction + (1 - s.minFraction) * 0.5 * (1 + Math.cos(Math.PI * t)));
}

export interface TrainConfig {
  batch: number;
  /** Upper bound on epochs when neither steps nor a clock time is given. */
  maxEpochs: number;
  /** Fraction of slices held out (slice level) for the validation loss. */
  validationFraction: number;
  /** Steps between validation passes (0: once per epoch). */
  validateEvery: number;
  /** Validation slices used per pass at most (keeps the pass short on a large library). */
  validationMaxSlices: number;
  seed: number;
}

export interface PretrainConfig {
  model: ModelConfig;
  preprocess: PreprocessConfig;
  augment: AugmentConfig;
  loss: LossConfig;
  optimizer: OptimizerConfig;
  train: TrainConfig;
}

export type PresetName = 'paper' | 'compact';

/**
 * The authors' head is 1×1 D→256, BN, ReLU, 1×1 256→256 for D = 1024; for a small D we do not expand beyond D
 * (a 64-channel embedding projected to 256 dimensions would mostly add parameters, not information).
 */
export function headFor(embedding: number): HeadConfig {
  const w = Math.min(256, embedding);
  return { hidden: w, out: w };
}

export function unetPreset(name: PresetName): UNetConfig {
  const common = { inChannels: 1, normalization: 'batch' as const, bnMomentum: 0.1, bnEpsilon: 1e-5 };
  if (name === 'paper') return { ...common, levels: 6, base: 64, embedding: 1024 };
  return { ...common, levels: 4, base: 16, embedding: 64 };
}

export function modelPreset(name: PresetName): ModelConfig {
  const unet = unetPreset(name);
  return { preset: name, unet, head: headFor(unet.embedding) };
}

export const DEFAULT_PREPROCESS: PreprocessConfig = { spacingMm: 1.5, size: 128, clipPercentiles: [0.5, 99.5] };

/**
 * Intensity ranges are for data scaled to [0, 1] per volume: the authors' noise σ 0.5 and log γ ±0.05 were set
 * for their own intensity scale; measured here, σ ≤ 0.12 (about half the image std) and log γ ±0.3 behave sensibly.
 */
export const DEFAULT_AUGMENT: AugmentConfig = {
  spatial: {
    rotationDeg: [-90, 90],
    zoomScale: [0.33, 0.95],
    flipWeights: { x: 1, y: 1, none: 1 },
    elastic: { p: 0, magnitude: 4, controlPoints: 5 },
  },
  intensity: {
    noise: { p: 0.3, sigmaMax: 0.12 },
    blur: { p: 0.5, sigma: [0, 1.3] },
    gamma: { p: 0.9, logGamma: [-0.3, 0.3] },
    biasField: { p: 0.75, coefficient: 0.9, order: 3 },
    inversion: { p: 0.35 },
  },
};

export const DEFAULT_LOSS: LossConfig = { method: 'pix2rep', samples: 1000, temperature: 0.53, lambda: 5e-3 };

export const DEFAULT_OPTIMIZER: OptimizerConfig = { lr: 4.7e-4, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

export const DEFAULT_TRAIN: TrainConfig = {
  batch: 8,
  maxEpochs: 200,
  validationFraction: 0.1,
  validateEvery: 0,
  validationMaxSlices: 64,
  seed: 1,
};

/** Linear-probe / fine-tuning numbers, kept here so that downstream code takes them from one place too. */
export const DOWNSTREAM = {
  linearProbeLr: 7.6e-3,
  /*
   * Not the paper's 5e-5 (a 135 M-parameter network, hundreds of epochs): with the compact U-Net, one labeled
   * patient and 600 steps, 5e-5 gave mean Dice 0.184, 0.222, 0.168 on three seeds (best at step 100, then
   * falling) and 1e-3 gave 0.381, 0.535, 0.579 (docs/EVALUATION.md, issue 10).
   */
  fineTuneBackboneLr: 1e-3,
  fineTuneHeadLr: 1e-2,
  meanTeacherDecay: 0.99,
} as const;

type DeepPartial<T> = { [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };
export type PretrainOverrides = DeepPartial<PretrainConfig>;

function merge<T>(base: T, over: unknown): T {
  if (over === undefined) return base;
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return over as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) {
    if (v === undefined) continue;
    out[k] = k in out ? merge(out[k], v) : v;
  }
  return out as T;
}

/**
 * The full configuration for a preset with overrides applied. When the override changes the embedding size
 * but not the head, the head follows D.
 */
export function pretrainConfig(preset: PresetName = 'compact', overrides: PretrainOverrides = {}): PretrainConfig {
  const base: PretrainConfig = {
    model: modelPreset(preset),
    preprocess: { ...DEFAULT_PREPROCESS, clipPercentiles: [...DEFAULT_PREPROCESS.clipPercentiles] },
    augment: structuredClone(DEFAULT_AUGMENT),
    loss: { ...DEFAULT_LOSS },
    optimizer: { ...DEFAULT_OPTIMIZER },
    train: { ...DEFAULT_TRAIN },
  };
  const cfg = merge(base, overrides);
  if (overrides.model?.unet?.embedding !== undefined && overrides.model.head === undefined) {
    cfg.model.head = headFor(cfg.model.unet.embedding);
  }
  if (overrides.model?.unet && overrides.model.preset === undefined) cfg.model.preset = 'custom';
  validateConfig(cfg);
  return cfg;
}

/** Throws a plain-words error for a configuration that cannot train. */
export function validateConfig(cfg: PretrainConfig): void {
  const u = cfg.model.unet;
  const bad = (msg: string): never => {
    throw new Error(`invalid pretraining configuration: ${msg}`);
  };
  if (!Number.isInteger(u.levels) || u.levels < 1) bad(`levels must be a positive integer (got ${u.levels})`);
  if (!Number.isInteger(u.base) || u.base < 1) bad(`base must be a positive integer (got ${u.base})`);
  if (!Number.isInteger(u.embedding) || u.embedding < 1) bad(`embedding must be a positive integer (got ${u.embedding})`);
  const div = 2 ** (u.levels - 1);
  if (cfg.preprocess.size % div !== 0) bad(`size ${cfg.preprocess.size} must be divisible by ${div} for ${u.levels} levels`);
  if (!(cfg.loss.temperature > 0)) bad('temperature must be > 0');
  if (!Number.isInteger(cfg.loss.samples) || cfg.loss.samples < 2) bad('samples must be an integer ≥ 2');
  if (!Number.isInteger(cfg.train.batch) || cfg.train.batch < 1) bad('batch must be a positive integer');
  if (!(cfg.train.validationFraction >= 0 && cfg.train.validationFraction < 1)) bad('validationFraction must be in [0, 1)');
  const [lo, hi] = cfg.augment.spatial.zoomScale;
  if (!(lo > 0 && hi <= 1 && lo <= hi)) bad('zoomScale must satisfy 0 < lo ≤ hi ≤ 1');
  const sch = cfg.optimizer.schedule;
  if (sch) {
    if (sch.kind !== 'warmup-cosine') bad(`schedule kind must be warmup-cosine (got ${String(sch.kind)})`);
    if (!Number.isInteger(sch.warmupSteps) || sch.warmupSteps < 0) bad('schedule warmupSteps must be an integer ≥ 0');
    if (!Number.isInteger(sch.totalSteps) || sch.totalSteps < 1 || sch.totalSteps < sch.warmupSteps) bad('schedule totalSteps must be an integer ≥ max(1, warmupSteps)');
    if (!(sch.minFraction >= 0 && sch.minFraction <= 1)) bad('schedule minFraction must be in [0, 1]');
  }
}
