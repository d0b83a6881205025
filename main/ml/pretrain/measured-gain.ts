import { pretrainConfig, type PretrainConfig } from '../config.js';
import { comparableKey } from './comparable.js';

/**
 * What pretraining bought fine-tuning where it was measured (issue 10 asks the pretraining panel for the gain to
 * expect "from the measured curves"). The numbers are docs/EVALUATION.md's, not a model of them: they hold for
 * the one configuration that was measured, so any other configuration gets no sentence rather than an
 * extrapolation, and a planned length is matched to a measured point, never interpolated between points.
 */

export interface MeasuredGainPoint {
  /** Pretraining steps of the backbone fine-tuning started from. */
  pretrainSteps: number;
  /** Data-parallel workers of that pretraining (they split the same batch: the configuration is the same). */
  workers: number;
  /** Fine-tuned mean Dice minus the untrained control's, paired by seed (seeds 1, 2, 3). */
  perSeed: readonly number[];
  /** The mean of the paired gains as the document states it. */
  mean: number;
}

/**
 * From docs/EVALUATION.md, section "Issue 10", table "Downstream length, fine-tuning's rate, pretraining length,
 * and a control": ACDC, one labeled patient (ED + ES), fine-tuning 600 steps at backbone rate 1e-3 without
 * downstream flips (the default until 27 Nov; with them the untrained control moved by 0.021 at most), mean Dice
 * of RV, MYO and LV on dev patients 066 and 086, paired by seed against the same fine-tuning from a 1-step
 * (untrained) backbone.
 */
export const MEASURED_GAIN = {
  dataset: 'ACDC',
  finetuneSteps: 600,
  /**
   * How far single runs of one method lie apart across seeds at one labeled patient (supervised 0.165 to 0.583):
   * the scale any gain here has to be read against.
   */
  seedSpread: 0.4,
  /** Ascending in pretraining steps. */
  points: [
    { pretrainSteps: 900, workers: 1, perSeed: [-0.021, 0.038, -0.001], mean: 0.005 },
    { pretrainSteps: 2780, workers: 2, perSeed: [0.146, -0.033, -0.061], mean: 0.017 },
  ] as readonly MeasuredGainPoint[],
} as const;

/** The measured configuration: v1, compact preset, default preprocessing and batch. */
const MEASURED_KEY = comparableKey(pretrainConfig('compact', { loss: { method: 'pix2rep' } }));

/** The configuration the gains were measured for; a run that differs in what comparableKey compares is not. */
export function isMeasuredConfig(cfg: PretrainConfig): boolean {
  return comparableKey(cfg) === MEASURED_KEY;
}

/** "+0.017", "−0.061" (the typographic minus of the documents), "0.000" when it rounds to nothing. */
export function signedDice(x: number): string {
  const r = Math.round(x * 1000) / 1000;
  if (r === 0) return '0.000';
  return `${r > 0 ? '+' : '−'}${Math.abs(r).toFixed(3)}`;
}

const count = (n: number) => n.toLocaleString('en-US');

/** What the seeds say together: one sign in all of them, or none clear. */
function verdict(perSeed: readonly number[]): string {
  if (perSeed.every((g) => g > 0)) return 'a gain in every seed at that length';
  if (perSeed.every((g) => g < 0)) return 'a loss in every seed at that length';
  return 'no clear gain in segmentation at that length';
}

/**
 * One sentence on the measured gain for a planned run, or null when the configuration is not the measured one.
 * The point quoted is the longest measured one not beyond the plan (a shorter run is told the shortest point
 * is already longer than it, a longer run that nothing longer is measured); a plan of no known length
 * (`plannedSteps` 0) is quoted the longest point, the most pretraining anything here has shown.
 */
export function measuredGainText(cfg: PretrainConfig, plannedSteps: number): string | null {
  if (!isMeasuredConfig(cfg)) return null;
  const points = MEASURED_GAIN.points;
  const shortest = points[0]!;
  const longest = points.at(-1)!;
  const known = Number.isFinite(plannedSteps) && plannedSteps > 0;
  const within = known ? points.filter((q) => q.pretrainSteps <= plannedSteps).at(-1) : undefined;

  let point: MeasuredGainPoint;
  let where: string;
  if (!known) {
    point = longest;
    where = `after ${count(point.pretrainSteps)} pretraining steps with these settings, the longest measured (this run's length is not known yet),`;
  } else if (!within) {
    point = shortest;
    where = `this run's ${count(plannedSteps)} steps are fewer than any measured; after ${count(point.pretrainSteps)} pretraining steps with these settings, the shortest measured,`;
  } else if (within === longest && plannedSteps > longest.pretrainSteps) {
    point = longest;
    where = `after ${count(point.pretrainSteps)} pretraining steps with these settings, the longest measured (longer runs, like this one's ${count(plannedSteps)}, are not measured yet),`;
  } else {
    point = within;
    where =
      plannedSteps === point.pretrainSteps
        ? `after ${count(point.pretrainSteps)} pretraining steps with these settings,`
        : `after ${count(point.pretrainSteps)} pretraining steps with these settings (the longest measured length within this run's ${count(plannedSteps)}),`;
  }
  const m = MEASURED_GAIN;
  return (
    `Measured on ${m.dataset} (docs/EVALUATION.md): ${where} fine-tuning for ${count(m.finetuneSteps)} steps at one labeled patient scored ` +
    `${signedDice(point.mean)} mean Dice over an untrained start (${point.perSeed.length} seeds: ${point.perSeed.map(signedDice).join(', ')}; ` +
    `single runs differ by up to ${m.seedSpread} between seeds): ${verdict(point.perSeed)}; the linear-probe readout measures what the backbone itself learns.`
  );
}
