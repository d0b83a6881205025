import type { ParsedParams, PretrainExpectation } from '../../contract/index.js';
import { EngineFailure } from '../../engine/errors.js';
import { openLibrary, type Library } from '../../library/library.js';
import { modelReadouts } from '../../library/readouts.js';
import { pretrainConfig, type PretrainConfig } from '../config.js';
import { comparableKey } from './comparable.js';
import { expectBudget, expectWindow, NIGHT_SECONDS, referenceStepSeconds, spokenDuration, stepsPerEpochOf } from './expectation.js';
import { librarySliceSource } from './library-source.js';
import { measuredGainText } from './measured-gain.js';
import { splitSlices } from './source.js';
import type { ProbeKind } from './readout.js';

/**
 * What a pretraining budget buys on this machine (issue 10: "one night on this CPU: about N epochs"), for the
 * app's pretraining form before anything runs. The step time is this machine's own when a finished pretraining
 * of the same configuration is in the catalogue (its recorded throughput), else the bench reference of the
 * configuration (expectation.ts), else unknown: then only steps and epochs are said, never a made-up time.
 * A stored readout of a comparable backbone is quoted as it was measured, and so is the gain fine-tuning drew
 * from pretraining where that was measured (measured-gain.ts; that configuration only).
 */

type Params = ParsedParams<'ml.pretrainExpectation'>;

interface MeasuredStep {
  secondsPerStep: number;
  jobId: string;
  jobName: string;
  finishedAt: string | null;
}

/**
 * The step time of the newest finished pretraining job of this configuration and worker count: the batch over
 * the median of its recorded training throughput (the loop's per-step rate, which leaves out validations,
 * checkpoints and readouts; a median so that a slow first step or a busy minute does not decide it).
 */
export function lastRunStepSeconds(lib: Library, cfg: PretrainConfig, workers: number): MeasuredStep | null {
  const key = comparableKey(cfg);
  const jobs = lib.db
    .prepare("SELECT id, name, config, result, finished_at FROM jobs WHERE kind = 'pretrain' AND status = 'done' AND result IS NOT NULL ORDER BY finished_at DESC, seq DESC")
    .all() as Array<{ id: string; name: string; config: string; result: string; finished_at: string | null }>;
  for (const j of jobs) {
    let res: { config?: PretrainConfig; workers?: number };
    let params: { workers?: number };
    try {
      res = JSON.parse(j.result) as typeof res;
      params = JSON.parse(j.config) as typeof params;
    } catch {
      continue;
    }
    if (!res.config?.model?.unet || comparableKey(res.config) !== key) continue;
    if ((res.workers ?? params.workers ?? 1) !== workers) continue;
    const rates = (
      lib.db
        .prepare("SELECT slices_per_s AS r FROM job_progress WHERE job_id = ? AND kind = 'step' AND slices_per_s > 0 ORDER BY step DESC LIMIT 200")
        .all(j.id) as Array<{ r: number }>
    ).map((x) => x.r);
    if (rates.length === 0) continue;
    rates.sort((a, b) => a - b);
    const mid = rates.length >> 1;
    const median = rates.length % 2 ? rates[mid]! : (rates[mid - 1]! + rates[mid]!) / 2;
    return { secondsPerStep: cfg.train.batch / median, jobId: j.id, jobName: j.name || j.id, finishedAt: j.finished_at };
  }
  return null;
}

/** The probe whose readouts are quoted: another probe's points measure something else (readout.ts). */
const QUOTED_PROBE: ProbeKind = 'balanced-full-batch';

/**
 * The newest backbone of the library with the same configuration and a stored readout of the current probe,
 * at its latest such point.
 */
export function comparableReadout(lib: Library, cfg: PretrainConfig): PretrainExpectation['readout'] {
  const key = comparableKey(cfg);
  const rows = lib.db.prepare("SELECT id, name, config FROM models WHERE kind = 'pretrain' ORDER BY created_at DESC, id DESC").all() as Array<{ id: string; name: string; config: string }>;
  const same = rows.filter((r) => {
    try {
      const c = JSON.parse(r.config) as PretrainConfig;
      return !!c?.model?.unet && comparableKey(c) === key;
    } catch {
      return false;
    }
  });
  if (same.length === 0) return null;
  const readouts = new Map(modelReadouts(lib, same.map((r) => r.id)).map((s) => [s.id, s.readout]));
  for (const r of same) {
    const last = readouts.get(r.id)?.points.filter((p) => p.probe === QUOTED_PROBE).at(-1);
    if (last) return { modelId: r.id, name: r.name, step: last.step, epoch: last.epoch, mean: last.mean, dice: last.dice };
  }
  return null;
}

const WINDOW_LABEL = 'Overnight (22:00–07:00, 9 h)';

export async function pretrainExpectation(workspace: string, p: Params): Promise<PretrainExpectation> {
  let config: PretrainConfig;
  try {
    config = pretrainConfig(p.preset, { loss: { method: p.method }, train: p.batch ? { batch: p.batch } : {}, preprocess: p.size ? { size: p.size } : {} });
  } catch (err) {
    throw new EngineFailure('INVALID_PARAMS', (err as Error).message);
  }
  let pool;
  try {
    pool = await librarySliceSource(workspace, config.preprocess, p.studies?.length ? p.studies : undefined);
  } catch (err) {
    throw new EngineFailure('BAD_INPUT', (err as Error).message);
  }
  const split = splitSlices(pool.source.slices, config.train.validationFraction, config.train.seed);
  const trainSlices = split.train.length;
  if (trainSlices === 0) throw new EngineFailure('BAD_INPUT', 'the chosen studies hold no slices to train on');

  const lib = openLibrary(workspace);
  let measured: MeasuredStep | null;
  let readout: PretrainExpectation['readout'];
  try {
    measured = lastRunStepSeconds(lib, config, p.workers);
    readout = comparableReadout(lib, config);
  } finally {
    lib.close();
  }
  const reference = referenceStepSeconds(config, p.workers);
  const secondsPerStep = measured?.secondsPerStep ?? reference;
  const source = measured ? 'last-run' : reference !== null ? 'reference' : 'none';
  const batch = config.train.batch;

  let steps: number;
  let epochs: number;
  let stepsPerEpoch: number;
  let seconds: number | null;
  let nights: number | null = null;
  let head: string;
  if (p.budget.kind === 'overnight') {
    if (secondsPerStep !== null) {
      const w = expectWindow({ secondsPerStep, windowSeconds: NIGHT_SECONDS, trainSlices, batch });
      ({ steps, epochs, stepsPerEpoch } = w);
      seconds = NIGHT_SECONDS;
      // Without an epoch budget the job runs night after night until the configuration's maxEpochs.
      const total = (p.budget.amount ?? config.train.maxEpochs) * stepsPerEpoch;
      nights = steps > 0 ? Math.max(1, Math.ceil(total / steps)) : null;
    } else {
      stepsPerEpoch = stepsPerEpochOf(trainSlices, batch);
      steps = 0;
      epochs = 0;
      seconds = null;
    }
    head = WINDOW_LABEL;
  } else {
    const amount = p.budget.amount!;
    const e = expectBudget({ budget: p.budget.kind === 'steps' ? { steps: amount } : { epochs: amount }, secondsPerStep, trainSlices, batch });
    ({ steps, epochs, stepsPerEpoch, seconds } = e);
    head = p.budget.kind === 'steps' ? `${amount.toLocaleString('en-US')} steps` : `${amount.toLocaleString('en-US')} epoch${amount === 1 ? '' : 's'}`;
  }

  const slicesText = `${trainSlices.toLocaleString('en-US')} training slice${trainSlices === 1 ? '' : 's'}`;
  const sourceText =
    source === 'last-run' ? `this machine's last run, ${measured!.jobName}` : `reference step time, docs/PERFORMANCE.md${p.workers > 1 ? `, ${p.workers} workers` : ''}`;
  let text: string;
  if (secondsPerStep === null) {
    text =
      `${head}: ${p.budget.kind === 'overnight' ? '' : `${epochs.toFixed(1)} epochs of ${slicesText} (${stepsPerEpoch.toLocaleString('en-US')} steps each); `}` +
      `no step time is known for this configuration on this machine yet: the run measures its own after a few steps.`;
  } else if (p.budget.kind === 'overnight') {
    text =
      `${head}: about ${steps.toLocaleString('en-US')} steps, ${epochs.toFixed(1)} epochs of ${slicesText} at ${secondsPerStep.toFixed(2)} s/step (${sourceText})` +
      (nights === null
        ? '.'
        : p.budget.amount
          ? `; ${p.budget.amount} epochs take about ${nights} night${nights === 1 ? '' : 's'}.`
          : `; without an epoch limit it stops after ${config.train.maxEpochs} epochs, about ${nights} night${nights === 1 ? '' : 's'}.`);
  } else {
    text = `${head}: about ${spokenDuration(seconds!)}, ${epochs.toFixed(1)} epochs of ${slicesText} at ${secondsPerStep.toFixed(2)} s/step (${sourceText}).`;
  }
  const readoutText = readout
    ? `A comparable backbone here, ${readout.name}, reached a linear-probe mean Dice of ${readout.mean.toFixed(3)} at step ${readout.step.toLocaleString('en-US')} (epoch ${readout.epoch.toFixed(1)}).`
    : null;
  // The gain belongs to the run's whole length, as the job plans it (jobs/tasks/pretrain.ts): an overnight job
  // goes on night after night to its epoch limit, a length known even before any step time is.
  const plannedSteps = p.budget.kind === 'overnight' ? (p.budget.amount ?? config.train.maxEpochs) * stepsPerEpoch : steps;
  return {
    trainSlices,
    validationSlices: split.validation.length,
    volumes: pool.volumes,
    batch,
    stepsPerEpoch,
    secondsPerStep,
    stepTime: { source, jobId: measured?.jobId ?? null, jobName: measured?.jobName ?? null, finishedAt: measured?.finishedAt ?? null },
    steps,
    epochs,
    seconds,
    nights,
    readout,
    text,
    readoutText,
    gainText: measuredGainText(config, plannedSteps),
  };
}
