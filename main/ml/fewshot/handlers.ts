import type { TrainStage } from '../../contract/ml.js';
import type { Handlers } from '../../engine/engine.js';
import { openLibrary } from '../../library/library.js';

/**
 * Contract handlers of the ml.* methods (registered by engine/create.ts). tfjs and the training code load on
 * the first train/predict call, so creating the engine stays fast.
 */
export function mlHandlers(workspace: string): Handlers {
  return {
    'ml.train': async (p, ctx) => {
      const [{ initBackend }, { trainInWorkspace }] = await Promise.all([import('../backends/init.js'), import('./service.js')]);
      await initBackend();
      const res = await trainInWorkspace(workspace, {
        mode: p.mode,
        backbone: p.backbone,
        studies: p.studies,
        name: p.name,
        overrides: { steps: p.steps, batch: p.batch, seed: p.seed },
        signal: ctx.signal,
        onProgress: (e) => {
          const progress = (stage: TrainStage, done: number, total: number, message: string) => ctx.progress(stage, done, total, message);
          switch (e.kind) {
            case 'features':
              return progress('features', e.done, e.total, `caching features ${e.done}/${e.total}`);
            case 'validation':
              return progress('train', e.step, e.totalSteps, `validation Dice ${e.validationDice!.toFixed(3)}`);
            case 'step':
              return progress('train', e.step, e.totalSteps, `loss ${e.smoothedLoss.toFixed(4)}`);
            default:
              return e satisfies never;
          }
        },
      });
      const r = res.record;
      return {
        modelId: res.modelId,
        name: res.name,
        training: { steps: r.steps, stopped: r.stopped, bestStep: r.bestStep, validationDice: r.validationDice, seconds: r.seconds, labeledSlices: r.data.labeledSlices },
      };
    },
    'ml.predict': async (p, ctx) => {
      const [{ initBackend }, { disposeModel, loadedModel, predictLibraryVolume }, { loadLibraryModel }] = await Promise.all([
        import('../backends/init.js'),
        import('../infer/index.js'),
        import('./library.js'),
      ]);
      await initBackend();
      const lib = openLibrary(workspace);
      try {
        const { row, file, path } = await loadLibraryModel(lib, p.model);
        const model = loadedModel(file, path);
        const annotations: Array<{ volumeId: string; annotationId: string }> = [];
        try {
          for (const [i, volumeId] of p.volumeIds.entries()) {
            ctx.progress('predict', i, p.volumeIds.length, volumeId);
            const r = await predictLibraryVolume(lib, row.id, volumeId, { model, largestComponent: p.largestComponent, signal: ctx.signal });
            annotations.push({ volumeId, annotationId: r.annotationId });
          }
          ctx.progress('predict', p.volumeIds.length, p.volumeIds.length);
        } finally {
          disposeModel(model);
        }
        return { modelId: row.id, annotations };
      } finally {
        lib.close();
      }
    },
    'ml.listModels': async () => {
      const { listModels } = await import('./library.js');
      const lib = openLibrary(workspace);
      try {
        return {
          models: listModels(lib).map((m) => ({
            id: m.id,
            name: m.name,
            kind: m.kind,
            parentId: m.parentId,
            status: m.status,
            createdAt: m.createdAt,
            validationDice: typeof m.metrics.validationDice === 'number' ? m.metrics.validationDice : null,
          })),
        };
      } finally {
        lib.close();
      }
    },
  };
}
