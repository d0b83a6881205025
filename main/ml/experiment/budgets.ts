import type { ModelConfig, PreprocessConfig, PretrainMethod } from '../config.js';
import { modelPreset } from '../config.js';

/**
 * Budgets of `pix2rep experiment acdc`: one table, so what each budget does is visible in one place and the
 * report can print it. `smoke` and `2h` have been run end to end (about 1.6 and 100 minutes here); `night` and
 * `paper` are sized from the quiet-machine step times of the compact U-Net at 128², batch 8, wasm, one core
 * (docs/PERFORMANCE.md): 5.4 s per pretraining step (2.6 s on two workers), 2.2 s per downstream training step, 0.15–0.25 s per
 * full-batch linear-probe step on cached features (plus one backbone pass over its slices and copies), 64 ms per slice of
 * inference; the report prints the wall time each took.
 */
export type BudgetName = 'smoke' | '2h' | 'night' | 'paper';

export interface Budget {
  name: BudgetName;
  model: ModelConfig;
  preprocess: PreprocessConfig;
  /** Pretraining steps per method (v1, v2) and batch. */
  pretrainSteps: number;
  pretrainBatch: number;
  /** Pretraining pool patients used (a prefix of the split's pool; all when null). */
  poolPatients: number | null;
  downstreamSteps: number;
  /** The linear probe's steps (cheap: the head alone on cached features, 0.15–0.25 s a full-batch step at 128²). */
  linearSteps: number;
  batch: number;
  validateEvery: number;
  patience: number;
  regimes: Array<'1' | '2' | '5'>;
  /** Regimes where only the supervised baseline runs: how many labeled patients it needs to match Pix2Rep. */
  baselineRegimes: Array<'1' | '2' | '5'>;
  seeds: number[];
  /** Test patients evaluated (a prefix of the split's test list, which interleaves groups; all when null). */
  testPatients: number | null;
  /** Dev patients used for validation Dice (prefix; all when null). */
  devPatients: number | null;
  meanTeacher: boolean;
  /*
   * A budget's own recipe where it differs from the app's defaults. Optional so that budgets without them keep
   * the run-cache keys they had (the budget object is part of every key). `--set method=` and `--set workers=`
   * override them.
   */
  /** Pretraining methods run (v1 and v2 when absent). */
  pretrainMethods?: PretrainMethod[];
  /** Data-parallel pretraining workers (one process when absent). */
  pretrainWorkers?: number;
}

const SMALL: ModelConfig = {
  preset: 'custom',
  unet: { levels: 3, base: 8, embedding: 16, inChannels: 1, normalization: 'batch', bnMomentum: 0.1, bnEpsilon: 1e-5 },
  head: { hidden: 16, out: 16 },
};

export const BUDGETS: Record<BudgetName, Budget> = {
  smoke: {
    name: 'smoke',
    model: SMALL,
    preprocess: { spacingMm: 2.5, size: 64, clipPercentiles: [0.5, 99.5] },
    pretrainSteps: 6,
    pretrainBatch: 4,
    poolPatients: 3,
    downstreamSteps: 12,
    linearSteps: 12,
    batch: 4,
    validateEvery: 6,
    patience: 0,
    regimes: ['1'],
    baselineRegimes: [],
    seeds: [1],
    testPatients: 2,
    devPatients: 1,
    meanTeacher: true,
  },
  '2h': {
    name: '2h',
    model: modelPreset('compact'),
    preprocess: { spacingMm: 1.5, size: 128, clipPercentiles: [0.5, 99.5] },
    pretrainSteps: 150,
    pretrainBatch: 8,
    poolPatients: null,
    downstreamSteps: 60,
    linearSteps: 300,
    batch: 8,
    validateEvery: 10,
    patience: 4,
    regimes: ['1'],
    baselineRegimes: ['2', '5'],
    seeds: [1, 2, 3],
    testPatients: 10,
    devPatients: 3,
    meanTeacher: true,
  },
  // One night of pretraining on both cores (2.59 s a step: 12,000 steps ≈ 8.6 h), v1 only (v2 has not earned
  // its cost: 150 steps only, below v1), then the downstream runs at the length where the supervised baseline
  // reaches the reference's 0.53–0.59 (600 steps; 60 left every method undertrained; fine-tuning at the app's
  // backbone rate, 1e-3 since these measurements). The downstream runs take 6–9 h more on one core, about half
  // with --jobs 2: the experiment runs in parts (resumable).
  night: {
    name: 'night',
    model: modelPreset('compact'),
    preprocess: { spacingMm: 1.5, size: 128, clipPercentiles: [0.5, 99.5] },
    pretrainSteps: 12000,
    pretrainBatch: 8,
    pretrainMethods: ['pix2rep'],
    pretrainWorkers: 2,
    poolPatients: null,
    downstreamSteps: 600,
    linearSteps: 500,
    batch: 8,
    validateEvery: 100,
    patience: 4,
    regimes: ['1'],
    baselineRegimes: ['2', '5'],
    seeds: [1, 2, 3],
    testPatients: null,
    devPatients: null,
    meanTeacher: true,
  },
  paper: {
    name: 'paper',
    model: modelPreset('paper'),
    preprocess: { spacingMm: 1.5, size: 128, clipPercentiles: [0.5, 99.5] },
    pretrainSteps: 24000,
    pretrainBatch: 8,
    poolPatients: null,
    downstreamSteps: 3000,
    linearSteps: 6000,
    batch: 8,
    validateEvery: 100,
    patience: 10,
    regimes: ['1', '2', '5'],
    baselineRegimes: [],
    seeds: [1, 2, 3, 4, 5],
    testPatients: null,
    devPatients: null,
    meanTeacher: true,
  },
};

/** The report's words for a budget's own recipe (empty for budgets without one). */
export function budgetRecipeText(b: Budget): string {
  const parts = [
    ...(b.pretrainMethods ? [`pretraining ${b.pretrainMethods.join(' and ')} only`] : []),
    ...(b.pretrainWorkers ? [`on ${b.pretrainWorkers} data-parallel workers`] : []),
  ];
  return parts.length ? ` Recipe: ${parts.join(', ')}.` : '';
}

/**
 * Linear-probe readout along each pretraining run (issue 10): every N steps, probe steps per readout. Off for
 * smoke (it would double a 2-minute run); about 7 minutes of a `2h` run; 12 points, about 12 minutes, of
 * `night`'s pretraining, with 2h's probe length so the two budgets' curves compare point for point. Kept
 * outside BUDGETS because the budget object is part of the run cache key, and the readout changes no result.
 */
export interface ReadoutPlan {
  every: number;
  probeSteps: number;
}

export const READOUT_PLANS: Record<BudgetName, ReadoutPlan | null> = {
  smoke: null,
  '2h': { every: 75, probeSteps: 300 },
  night: { every: 1000, probeSteps: 300 },
  paper: { every: 2000, probeSteps: 1000 },
};
