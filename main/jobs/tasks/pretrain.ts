import { statSync } from 'node:fs';
import { join } from 'node:path';
import { PretrainJobParams } from '../../contract/jobs.js';
import { initBackend } from '../../ml/backends/init.js';
import { pretrainConfig, type PretrainConfig, type PretrainOverrides } from '../../ml/config.js';
import { librarySliceSource } from '../../ml/pretrain/library-source.js';
import { LAST, runPretraining } from '../../ml/pretrain/loop.js';
import { splitSlices } from '../../ml/pretrain/source.js';
import { libraryReadout } from '../../ml/pretrain/readout-data.js';
import { DEFAULT_READOUT_PROBE_STEPS, type ReadoutOptions, type ReadoutPoint } from '../../ml/pretrain/readout.js';
import { describeExpectation, expectWindow, NIGHT_SECONDS, referenceStepSeconds, stepsPerEpochOf } from '../../ml/pretrain/expectation.js';
import { prepareResume, snapshot } from '../checkpoints.js';
import { parseParams } from './params.js';
import type { Task, TaskContext } from './task.js';

/**
 * A pretraining job. The loop writes last.p2r itself (every `checkpointMinutes` of work, every
 * `checkpointEverySteps`, at validations, at the end and whenever it is stopped: pause, window end, shutdown);
 * each new last.p2r is copied into the job's verified history, from which a restart resumes.
 */
export const pretrainTask: Task = async (ctx) => {
  const p = parseParams(PretrainJobParams, ctx.job.params, 'pretrain');
  const overrides = {
    ...(p.config ?? {}),
    loss: { ...((p.config?.loss as object | undefined) ?? {}), method: p.method },
    train: { ...((p.config?.train as object | undefined) ?? {}), ...(p.batch ? { batch: p.batch } : {}) },
    preprocess: { ...((p.config?.preprocess as object | undefined) ?? {}), ...(p.size ? { size: p.size } : {}) },
  } as PretrainOverrides;
  // Before the backend starts: a configuration that cannot train fails in a second, not after a minute.
  const config = pretrainConfig(p.preset, overrides);
  const backend = await initBackend(p.backend ? { backend: p.backend } : {});
  ctx.log(`backend ${backend.name} (${backend.reason})`);

  const { source } = await librarySliceSource(ctx.job.workspace, config.preprocess, p.studies);
  ctx.log(`${source.slices.length} slices from ${source.provenance().volumes.length} volumes`);
  // What a night buys, before the first step (issue 10): from the bench step time of this configuration.
  const reference = referenceStepSeconds(config, p.workers ?? 1);
  const trainSlices = splitSlices(source.slices, config.train.validationFraction, config.train.seed).train.length;
  if (reference !== null && trainSlices > 0) {
    const e = expectWindow({ secondsPerStep: reference, windowSeconds: NIGHT_SECONDS, trainSlices, batch: config.train.batch });
    ctx.log(`expectation: ${describeExpectation(e, 'one night on this CPU', 'bench reference')}`);
  }

  const readout = await appReadout(ctx, config, trainSlices, p.steps, p.epochs, reference);

  const resume = prepareResume(ctx.job.jobDir);
  for (const r of resume.rejected) ctx.log(`checkpoint ${r.path} not used: ${r.reason}`);
  ctx.log(resume.from ? `resuming from the checkpoint at step ${resume.step}` : 'starting from scratch');
  ctx.send({ type: 'started', backend: backend.name, resumedFrom: resume.step, rejected: resume.rejected });

  const copier = checkpointCopier(ctx);
  const result = await runPretraining({
    config,
    source,
    outDir: ctx.job.jobDir,
    ...(p.steps !== undefined ? { steps: p.steps } : {}),
    ...(p.epochs !== undefined ? { epochs: p.epochs } : {}),
    resume: true,
    signal: ctx.signal,
    checkpointMinutes: p.checkpointMinutes,
    ...(p.workers !== undefined ? { workers: p.workers } : {}),
    ...(p.checkpointEverySteps !== undefined ? { checkpointEvery: p.checkpointEverySteps } : {}),
    ...(readout
      ? {
          readout,
          onReadout: (r: ReadoutPoint) =>
            ctx.log(`step ${r.step}: linear-probe Dice ${Object.entries(r.dice).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')} (mean ${r.mean.toFixed(3)})`),
        }
      : {}),
    onProgress: (pr) => {
      ctx.send({
        type: 'progress',
        progress: {
          kind: pr.kind,
          step: pr.step,
          totalSteps: pr.totalSteps ?? null,
          epoch: pr.epoch,
          loss: pr.loss,
          smoothedLoss: pr.smoothedLoss,
          validationLoss: pr.validationLoss ?? null,
          slicesPerSecond: pr.slicesPerSecond,
          etaSeconds: pr.etaSeconds,
        },
      });
      copier.poll();
    },
  });
  copier.poll();
  await copier.flush();
  const stopped = result.stopped === 'cancelled';
  if (result.workers > 1) ctx.log(`trained data-parallel over ${result.workers} workers`);
  ctx.log(`${stopped ? 'stopped' : 'finished'} at step ${result.step} (epoch ${result.epoch.toFixed(2)}), last loss ${result.lastLoss ?? 'n/a'}, best validation loss ${result.bestValidationLoss ?? 'n/a'}`);
  return {
    outcome: stopped ? 'stopped' : 'completed',
    step: result.step,
    result: {
      step: result.step,
      epoch: result.epoch,
      lastLoss: result.lastLoss,
      bestValidationLoss: result.bestValidationLoss,
      lastCheckpoint: result.lastCheckpoint,
      bestCheckpoint: result.bestCheckpoint,
      backend: backend.name,
      workers: result.workers,
      config: result.config,
    },
  };
};

/** About this many readouts per run, or per night when the run is longer than one night. */
const READOUTS_PER_RUN = 10;
/** Below this many planned steps a readout is not taken: the probes would cost more than the training. */
const READOUT_MIN_STEPS = 50;

/**
 * The readout of an app pretraining (issue 10): when the library holds annotated slices of at least two
 * studies, a linear probe trained on one and scored on the others every `every` steps, into readout.json
 * beside the checkpoints. Never fails the job: a readout that cannot be built is logged and skipped.
 */
async function appReadout(
  ctx: TaskContext,
  config: PretrainConfig,
  trainSlices: number,
  steps: number | undefined,
  epochs: number | undefined,
  reference: number | null,
): Promise<ReadoutOptions | null> {
  if (trainSlices < 1) return null;
  const stepsPerEpoch = stepsPerEpochOf(trainSlices, config.train.batch);
  const planned = steps ?? (epochs ?? config.train.maxEpochs) * stepsPerEpoch;
  if (planned < READOUT_MIN_STEPS) {
    ctx.log(`no readout: ${planned} planned steps are fewer than ${READOUT_MIN_STEPS}`);
    return null;
  }
  const night = reference !== null ? Math.floor(NIGHT_SECONDS / reference) : Infinity;
  const every = Math.max(1, Math.ceil(Math.min(planned, night) / READOUTS_PER_RUN));
  try {
    const { options, reason } = await libraryReadout(ctx.job.workspace, config.preprocess, { every, probeSteps: DEFAULT_READOUT_PROBE_STEPS });
    if (!options) {
      ctx.log(`no readout: ${reason}`);
      return null;
    }
    ctx.log(`readout every ${every} steps: ${options.description} (${options.labeled.length} + ${options.validation.length} slices)`);
    return options;
  } catch (err) {
    ctx.log(`no readout: ${(err as Error).message}`);
    return null;
  }
}

/**
 * Notices each new last.p2r (by its modification time) and copies it into the history, one copy at a time,
 * off the training step's critical path.
 */
function checkpointCopier(ctx: TaskContext) {
  const last = join(ctx.job.jobDir, LAST);
  let seen = -1;
  let chain: Promise<void> = Promise.resolve();
  return {
    poll() {
      let mtime: number;
      try {
        mtime = statSync(last).mtimeMs;
      } catch {
        return;
      }
      if (mtime === seen) return;
      seen = mtime;
      chain = chain.then(() => {
        try {
          const c = snapshot(ctx.job.jobDir);
          if (c) ctx.send({ type: 'checkpoint', step: c.step, path: c.path });
        } catch (err) {
          ctx.log(`could not copy the checkpoint: ${(err as Error).message}`);
        }
      });
    },
    flush: () => chain,
  };
}
