import type { PretrainConfig } from '../config.js';

/**
 * What a pretraining window buys (issue 10's "one night on this CPU: about N epochs"): steps and epochs from a
 * step time and the pool size. The step time is the run's own once it has taken a few steps, before that a
 * reference measured by `pix2rep bench train-step` (docs/PERFORMANCE.md), scaled to the configuration.
 */

/** One night: the app's overnight window, 22:00 to 07:00 (renderer/stores/jobs.ts OVERNIGHT). */
export const NIGHT_SECONDS = 9 * 3600;

/** Steps of one epoch as the loop counts them: floor(trainSlices / batch), the batch capped at the slice count. */
export function stepsPerEpochOf(trainSlices: number, batch: number): number {
  return Math.max(1, Math.floor(trainSlices / Math.min(batch, trainSlices)));
}

export interface WindowExpectation {
  windowSeconds: number;
  secondsPerStep: number;
  /** Whole steps that fit the window. */
  steps: number;
  stepsPerEpoch: number;
  /** steps / stepsPerEpoch: passes over the training slices. */
  epochs: number;
  trainSlices: number;
  batch: number;
}

/**
 * Steps and epochs in a window. An epoch is as the loop counts it: floor(trainSlices / batch) steps (the batch
 * capped at the slice count), the validation slices excluded from `trainSlices`.
 */
export function expectWindow(o: { secondsPerStep: number; windowSeconds: number; trainSlices: number; batch: number }): WindowExpectation {
  if (!(o.secondsPerStep > 0)) throw new Error(`step time must be > 0 s (got ${o.secondsPerStep})`);
  if (!(o.windowSeconds >= 0)) throw new Error(`window must be ≥ 0 s (got ${o.windowSeconds})`);
  if (!(o.trainSlices >= 1) || !(o.batch >= 1)) throw new Error(`need at least one training slice and a batch ≥ 1 (got ${o.trainSlices}, ${o.batch})`);
  const stepsPerEpoch = stepsPerEpochOf(o.trainSlices, o.batch);
  const steps = Math.floor(o.windowSeconds / o.secondsPerStep);
  return { windowSeconds: o.windowSeconds, secondsPerStep: o.secondsPerStep, steps, stepsPerEpoch, epochs: steps / stepsPerEpoch, trainSlices: o.trainSlices, batch: o.batch };
}

/**
 * Reference step time of a configuration: the bench's full Pix2Rep step of the compact U-Net at 128², batch 8,
 * wasm (5.42 s on one core, 2.59 s data-parallel on two; docs/PERFORMANCE.md, quiet machine), scaled linearly
 * by batch and pixel count. Null for other architectures (their cost is not proportional to anything measured):
 * the run's own step time has to tell.
 */
export function referenceStepSeconds(cfg: PretrainConfig, workers = 1): number | null {
  const u = cfg.model.unet;
  if (u.levels !== 4 || u.base !== 16 || u.embedding !== 64) return null;
  const base = workers >= 2 ? 2.59 : 5.42;
  return base * (cfg.train.batch / 8) * ((cfg.preprocess.size * cfg.preprocess.size) / (128 * 128));
}

/** "one night (8 h): about 5,310 steps, 44.6 epochs of 952 slices at 5.42 s/step" */
export function describeExpectation(e: WindowExpectation, label: string, source: string): string {
  const h = e.windowSeconds / 3600;
  return `${label} (${h >= 1 ? `${h.toFixed(1)} h` : `${Math.round(e.windowSeconds / 60)} min`}): about ${e.steps.toLocaleString('en-US')} steps, ` +
    `${e.epochs.toFixed(1)} epochs of ${e.trainSlices} training slices, at ${e.secondsPerStep.toFixed(2)} s/step (${source})`;
}

export interface BudgetExpectation {
  /** Steps the budget asks for (for a window: the steps that fit it). */
  steps: number;
  stepsPerEpoch: number;
  epochs: number;
  trainSlices: number;
  batch: number;
  /** Null when no step time is known for the configuration (no reference, no earlier run). */
  secondsPerStep: number | null;
  /** Clock time of the budget: steps × step time; the window itself for an overnight budget. */
  seconds: number | null;
}

/**
 * A step or epoch budget in steps, epochs and time (the app's pretraining form, before the run starts). The
 * epoch count is the loop's own: floor(trainSlices / batch) steps each, the batch capped at the slice count.
 */
export function expectBudget(o: { budget: { steps: number } | { epochs: number }; secondsPerStep: number | null; trainSlices: number; batch: number }): BudgetExpectation {
  if (!(o.trainSlices >= 1) || !(o.batch >= 1)) throw new Error(`need at least one training slice and a batch ≥ 1 (got ${o.trainSlices}, ${o.batch})`);
  if (o.secondsPerStep !== null && !(o.secondsPerStep > 0)) throw new Error(`step time must be > 0 s (got ${o.secondsPerStep})`);
  const stepsPerEpoch = stepsPerEpochOf(o.trainSlices, o.batch);
  const steps = 'steps' in o.budget ? o.budget.steps : o.budget.epochs * stepsPerEpoch;
  return {
    steps,
    stepsPerEpoch,
    epochs: steps / stepsPerEpoch,
    trainSlices: o.trainSlices,
    batch: o.batch,
    secondsPerStep: o.secondsPerStep,
    seconds: o.secondsPerStep === null ? null : steps * o.secondsPerStep,
  };
}

/** "5 h 34 min", "12 min", "40 s": a duration as a person says it. */
export function spokenDuration(seconds: number): string {
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole} s`;
  const minutes = Math.round(whole / 60);
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes - h * 60;
  return m ? `${h} h ${m} min` : `${h} h`;
}
