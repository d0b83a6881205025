import { ImportJobParams } from '../../contract/jobs.js';
import { openLibrary } from '../../library/library.js';
import type { Task } from './task.js';
import { parseParams } from './params.js';

/** An import as a job: idempotent, so an interrupted import simply runs again. */
export const importTask: Task = async (ctx) => {
  const p = parseParams(ImportJobParams, ctx.job.params, 'import');
  const { importPaths } = await import('../../library/import/pipeline.js');
  const lib = openLibrary(ctx.job.workspace);
  try {
    let done = 0;
    const report = await importPaths(lib, {
      paths: p.paths,
      ...(p.labels ? { labels: p.labels } : {}),
      signal: ctx.signal,
      onProgress: (pr) => {
        done = pr.done;
        ctx.send({
          type: 'progress',
          progress: { kind: 'step', step: pr.done, totalSteps: pr.total, epoch: null, loss: null, smoothedLoss: null, validationLoss: null, slicesPerSecond: null, etaSeconds: null },
        });
      },
    });
    return { outcome: ctx.signal.aborted ? 'stopped' : 'completed', step: done, result: report };
  } catch (err) {
    // The import stops by throwing when asked to; that is a stop, not a failure.
    if (ctx.signal.aborted) return { outcome: 'stopped', step: 0 };
    throw err;
  } finally {
    lib.close();
  }
};
