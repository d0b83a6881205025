import { join } from 'node:path';
import { EmbedJobParams } from '../../contract/jobs.js';
import { initBackend } from '../../ml/backends/init.js';
import { parseParams } from './params.js';
import type { Task } from './task.js';

/**
 * An embedding projection job: the slices' embeddings (from the workspace's embedding cache when there), a
 * PCA or UMAP projection, and its files (projection/pca PNGs, points.csv, summary.json: the same files as
 * `pix2rep embed project`, written by the same function) in `<jobDir>/projection/`.
 *
 * Progress counts stages, not iterations: embedding the slices, then each stage of the projection, then the
 * writing. A projection takes seconds to minutes and has no state worth a checkpoint, so a stopped job writes
 * nothing and a resumed one recomputes from the start (the slice embeddings come back from the disk cache).
 */

const STAGES = {
  pca: ['embed', 'sample', 'pca', 'paint', 'write'],
  umap: ['embed', 'sample', 'pca', 'neighbours', 'layout', 'place', 'paint', 'write'],
} as const;

export const embedTask: Task = async (ctx) => {
  const p = parseParams(EmbedJobParams, ctx.job.params, 'embed');
  if (p.backend) {
    // The service initialises the backend itself from the environment; this process runs this job only.
    process.env.PIX2REP_BACKEND = p.backend;
  }
  const backend = await initBackend(p.backend ? { backend: p.backend } : {});
  ctx.log(`backend ${backend.name} (${backend.reason})`);
  ctx.send({ type: 'started', backend: backend.name, resumedFrom: 0, rejected: [] });

  const stages: readonly string[] = STAGES[p.method];
  const totalSteps = stages.length;
  let step = 0;
  const reach = (n: number) => {
    if (n <= step) return;
    step = Math.min(n, totalSteps);
    ctx.send({
      type: 'progress',
      progress: { kind: 'step', step, totalSteps, epoch: null, loss: null, smoothedLoss: null, validationLoss: null, slicesPerSecond: null, etaSeconds: null },
    });
  };
  // A stage is finished once its last unit is done or a later stage has begun.
  const stageProgress = (stage: string, done: number, total: number | null) => {
    const at = stages.indexOf(stage);
    if (at >= 0) reach(at + (total !== null && done >= total ? 1 : 0));
  };

  const [{ EmbedService }, { writeProjectionFiles }] = await Promise.all([import('../../embed/service.js'), import('../../embed/files.js')]);
  // Library models and volumes only: a job may run hours after it was queued, from another process.
  const service = new EmbedService(ctx.job.workspace);
  try {
    const keys = p.slices.map((s) => ({ volumeId: s.volumeId, frame: s.frame, slice: s.slice }));
    ctx.log(`projecting ${keys.length} slice${keys.length === 1 ? '' : 's'} with model ${p.model} (${p.method})`);
    let result;
    try {
      result = await service.project(p.model, keys, {
        method: p.method,
        ...(p.sample !== undefined ? { sample: p.sample } : {}),
        ...(p.seed !== undefined ? { seed: p.seed } : {}),
        signal: ctx.signal,
        onEmbed: (done, total) => stageProgress('embed', done, total),
        onProgress: (pr) => stageProgress(pr.stage, pr.done, pr.total),
      });
    } catch (err) {
      // The projection throws an AbortError when asked to stop; that is a stop, not a failure.
      if (!ctx.signal.aborted) throw err;
    }
    if (!result || ctx.signal.aborted) {
      ctx.log(`stopped after ${step} of ${totalSteps} stages; nothing written (a resumed job recomputes)`);
      return { outcome: 'stopped', step };
    }
    reach(stages.indexOf('write'));
    const summary = await writeProjectionFiles(join(ctx.job.jobDir, 'projection'), result);
    reach(totalSteps);
    ctx.log(`projected ${summary.points} pixels (${result.method}, ${result.seconds.project.toFixed(1)} s) into ${join(ctx.job.jobDir, 'projection')}`);
    return {
      outcome: 'completed',
      step,
      result: { files: [...summary.files, join(ctx.job.jobDir, 'projection', 'summary.json')], points: summary.points, method: result.method, model: summary.model, backend: backend.name },
    };
  } finally {
    service.close();
  }
};
