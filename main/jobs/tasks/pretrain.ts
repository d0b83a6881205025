import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { PretrainJobParams } from '../../contract/jobs.js';
import { workspaceLayout } from '../../library/layout.js';
import { initBackend } from '../../ml/backends/init.js';
import { pretrainConfig, type PretrainOverrides } from '../../ml/config.js';
import { LAST, runPretraining, type PretrainResult } from '../../ml/pretrain/loop.js';
import { prepareResume, snapshot } from '../checkpoints.js';
import { librarySliceSource } from '../library-source.js';
import { parseParams } from './params.js';
import type { Task, TaskContext } from './task.js';

/**
 * A pretraining job. The loop checkpoints on its own (validations, every `checkpointEverySteps`, at the end and
 * whenever it is aborted); for "at least every N minutes of work" the task aborts the loop when the time is up
 * (which writes the checkpoint) and resumes it at once from that file, which the loop does exactly (same step,
 * same random streams). Each new last.p2r is copied into the job's verified history.
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

  const layout = workspaceLayout(ctx.job.workspace);
  const db = new Database(layout.catalog, { fileMustExist: true });
  let source;
  try {
    db.pragma('busy_timeout = 10000');
    source = await librarySliceSource(db, layout.root, config.preprocess, p.studies);
  } finally {
    db.close();
  }
  ctx.log(`${source.slices.length} slices from ${source.provenance().volumes.length} volumes`);

  const resume = prepareResume(ctx.job.jobDir);
  for (const r of resume.rejected) ctx.log(`checkpoint ${r.path} not used: ${r.reason}`);
  ctx.log(resume.from ? `resuming from the checkpoint at step ${resume.step}` : 'starting from scratch');
  ctx.send({ type: 'started', backend: backend.name, resumedFrom: resume.step, rejected: resume.rejected });

  const copier = checkpointCopier(ctx);
  const minutesMs = p.checkpointMinutes * 60_000;
  let result: PretrainResult;
  for (;;) {
    // One segment: runs until the budget, a stop request, or the checkpoint interval.
    const segment = new AbortController();
    const onStop = () => segment.abort();
    ctx.signal.addEventListener('abort', onStop, { once: true });
    if (ctx.signal.aborted) segment.abort();
    let intervalDue = false;
    const timer = setTimeout(() => {
      intervalDue = true;
      segment.abort();
    }, minutesMs);
    try {
      result = await runPretraining({
        config,
        source,
        outDir: ctx.job.jobDir,
        ...(p.steps !== undefined ? { steps: p.steps } : {}),
        ...(p.epochs !== undefined ? { epochs: p.epochs } : {}),
        resume: true,
        signal: segment.signal,
        ...(p.checkpointEverySteps !== undefined ? { checkpointEvery: p.checkpointEverySteps } : {}),
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
    } finally {
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onStop);
    }
    copier.poll();
    await copier.flush();
    if (result.stopped === 'cancelled' && intervalDue && !ctx.signal.aborted) {
      ctx.log(`checkpoint after ${p.checkpointMinutes} min of work at step ${result.step}`);
      continue;
    }
    break;
  }
  const stopped = result.stopped === 'cancelled';
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
      config,
    },
  };
};

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
