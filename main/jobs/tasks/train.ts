import { TrainJobParams } from '../../contract/jobs.js';
import { initBackend } from '../../ml/backends/init.js';
import type { FewShotOverrides } from '../../ml/fewshot/config.js';
import { parseParams } from './params.js';
import type { Task } from './task.js';

/**
 * A few-shot training job. Training a segmentation head takes minutes, so it keeps no checkpoint: a stopped
 * run (pause, window end, shutdown) stores no model and starts over when it runs again. A completed run saves
 * its model in the library; the runner records that model on the job.
 */
export const trainTask: Task = async (ctx) => {
  const p = parseParams(TrainJobParams, ctx.job.params, 'train');
  const overrides = {
    ...(p.config ?? {}),
    ...(p.steps !== undefined ? { steps: p.steps } : {}),
    ...(p.batch !== undefined ? { batch: p.batch } : {}),
    ...(p.seed !== undefined ? { seed: p.seed } : {}),
  } as FewShotOverrides;
  const backend = await initBackend(p.backend ? { backend: p.backend } : {});
  ctx.log(`backend ${backend.name} (${backend.reason})`);
  ctx.send({ type: 'started', backend: backend.name, resumedFrom: 0, rejected: [] });

  const { trainInWorkspace } = await import('../../ml/fewshot/service.js');
  let step = 0;
  const res = await trainInWorkspace(ctx.job.workspace, {
    mode: p.mode,
    ...(p.backbone ? { backbone: p.backbone } : {}),
    ...(p.studies ? { studies: p.studies } : {}),
    ...(p.name ? { name: p.name } : {}),
    overrides,
    signal: ctx.signal,
    onLog: (text) => ctx.log(text),
    onProgress: (pr) => {
      if (pr.kind === 'features') {
        // Not a point of the job's curve (job_progress holds steps and validations): the log says when the
        // linear probe's feature caching starts and ends, the heartbeat shows the worker alive meanwhile.
        if (pr.done === 0) ctx.log(`caching backbone features of ${pr.total} slices (training copies and validation)`);
        else if (pr.done === pr.total) ctx.log(`cached the features of ${pr.total} slices`);
        return;
      }
      step = pr.step;
      ctx.send({
        type: 'progress',
        progress: {
          kind: pr.kind,
          step: pr.step,
          totalSteps: pr.totalSteps,
          epoch: null,
          loss: pr.loss,
          smoothedLoss: pr.smoothedLoss,
          // Few-shot validation measures Dice, not a loss: 1 − Dice keeps "lower is better" on the curve.
          validationLoss: pr.validationDice !== undefined ? 1 - pr.validationDice : null,
          slicesPerSecond: null,
          etaSeconds: pr.etaSeconds,
        },
      });
    },
  });
  const r = res.record;
  if (r.stopped === 'cancelled') {
    ctx.log(`stopped at step ${step}; no model saved (a resumed training starts over)`);
    return { outcome: 'stopped', step };
  }
  ctx.log(`finished after ${r.steps} steps (${r.stopped}), validation Dice ${r.validationDice ?? 'n/a'}; model ${res.name} (${res.modelId})`);
  return {
    outcome: 'completed',
    step: r.steps,
    result: {
      modelId: res.modelId,
      name: res.name,
      steps: r.steps,
      stopped: r.stopped,
      bestStep: r.bestStep,
      validationDice: r.validationDice,
      seconds: r.seconds,
      labeledSlices: r.data.labeledSlices,
      backend: backend.name,
    },
  };
};
