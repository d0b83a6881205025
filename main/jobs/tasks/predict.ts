import { PredictJobParams } from '../../contract/jobs.js';
import { openLibrary } from '../../library/library.js';
import { initBackend } from '../../ml/backends/init.js';
import { parseParams } from './params.js';
import type { Task } from './task.js';

/**
 * A prediction job: the listed volumes and every volume of the listed studies, one `predicted` annotation
 * each. The model is loaded once. A stop between or inside volumes keeps the annotations already stored; a
 * resumed job predicts the whole list again (each prediction is a new annotation, nothing is overwritten).
 */
export const predictTask: Task = async (ctx) => {
  const p = parseParams(PredictJobParams, ctx.job.params, 'predict');
  const backend = await initBackend(p.backend ? { backend: p.backend } : {});
  ctx.log(`backend ${backend.name} (${backend.reason})`);
  const [{ disposeModel, loadedModel, predictLibraryVolume }, { loadLibraryModel, selectVolumes }] = await Promise.all([
    import('../../ml/infer/index.js'),
    import('../../ml/fewshot/library.js'),
  ]);
  const lib = openLibrary(ctx.job.workspace);
  try {
    const volumeIds = [...new Set([...(p.volumeIds ?? []), ...(p.studies?.length ? selectVolumes(lib, p.studies) : [])])];
    for (const id of volumeIds) if (!lib.catalog.volume(id)) throw new Error(`no volume ${id} in the workspace`);
    const { row, file, path } = await loadLibraryModel(lib, p.model);
    ctx.log(`predicting ${volumeIds.length} volume${volumeIds.length === 1 ? '' : 's'} with model ${row.name} (${row.id})`);
    ctx.send({ type: 'started', backend: backend.name, resumedFrom: 0, rejected: [] });
    const model = loadedModel(file, path);
    const annotations: Array<{ volumeId: string; annotationId: string }> = [];
    const report = (done: number) =>
      ctx.send({
        type: 'progress',
        progress: { kind: 'step', step: done, totalSteps: volumeIds.length, epoch: null, loss: null, smoothedLoss: null, validationLoss: null, slicesPerSecond: null, etaSeconds: null },
      });
    try {
      for (const volumeId of volumeIds) {
        if (ctx.signal.aborted) break;
        const r = await predictLibraryVolume(lib, row.id, volumeId, { model, largestComponent: p.largestComponent, signal: ctx.signal });
        annotations.push({ volumeId, annotationId: r.annotationId });
        ctx.log(`${volumeId}: annotation ${r.annotationId}`);
        report(annotations.length);
      }
    } catch (err) {
      // predictVolume throws when asked to stop; that is a stop, not a failure.
      if (!ctx.signal.aborted) throw err;
    } finally {
      disposeModel(model);
    }
    if (annotations.length < volumeIds.length) {
      ctx.log(`stopped after ${annotations.length} of ${volumeIds.length} volumes`);
      return { outcome: 'stopped', step: annotations.length };
    }
    return { outcome: 'completed', step: annotations.length, result: { modelId: row.id, annotations, backend: backend.name } };
  } finally {
    lib.close();
  }
};
