import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../../main/engine/create.js';
import type { Engine } from '../../../main/engine/engine.js';
import { readNifti } from '../../../main/io/nifti.js';
import { saveAnnotation } from '../../../main/library/annotations.js';
import { openLibrary } from '../../../main/library/library.js';
import { attachRunner, type JobRunner } from '../../../main/jobs/index.js';
import { syntheticWorkspace, WORKER_ENV, settle } from './fixture.js';

/** Tiny few-shot settings: a 2-level base-4 U-Net on 16² slices, three steps. */
const TINY_TRAIN = {
  mode: 'supervised',
  name: 'phantom-sup',
  steps: 3,
  batch: 2,
  seed: 5,
  config: {
    model: { preset: 'custom', unet: { levels: 2, base: 4, embedding: 8, inChannels: 1, normalization: 'batch', bnMomentum: 0.1, bnEpsilon: 1e-5 }, head: { hidden: 8, out: 8 } },
    preprocess: { spacingMm: 2.25, size: 16, clipPercentiles: [0.5, 99.5] },
    validateEvery: 2,
  },
};


/**
 * Train and predict as queued jobs in real worker processes, on the phantom workspace whose two volumes carry
 * a manual annotation derived from their intensities (900 → label 1, 400 → label 2).
 */
describe('train and predict jobs', () => {
  let ws: Awaited<ReturnType<typeof syntheticWorkspace>>;
  let engine: Engine;
  let runner: JobRunner | null = null;
  const changes: string[] = [];
  let studyIds: string[] = [];
  let volumeIds: string[] = [];

  beforeAll(async () => {
    ws = await syntheticWorkspace('fewshot');
    const lib = openLibrary(ws.workspace);
    try {
      const studies = lib.catalog.listStudies();
      studyIds = studies.map((s) => s.id);
      volumeIds = studies.flatMap((s) => s.series.flatMap((se) => se.volumes.map((v) => v.id)));
      for (const id of volumeIds) {
        const vol = await readNifti(lib.abs(lib.catalog.volume(id)!.storedPath));
        const labels = Uint8Array.from(vol.data as ArrayLike<number>, (x) => (x === 900 ? 1 : x === 400 ? 2 : 0));
        await saveAnnotation(lib, { volumeId: id, data: labels, source: 'manual' });
      }
    } finally {
      lib.close();
    }
    engine = createEngine({ workspace: ws.workspace });
    engine.onEvent((e, d) => {
      if (e === 'library.changed') changes.push((d as { reason: string }).reason);
    });
    runner = await attachRunner(engine, { workspace: ws.workspace, pollMs: 100, workerEnv: WORKER_ENV });
  }, 60_000);
  afterAll(async () => {
    await runner?.stop();
    ws?.cleanup();
  });

  it('refuses bad parameters when queued, naming the field', async () => {
    await expect(engine.call('jobs.enqueue', { kind: 'train', params: { mode: 'magic' } })).rejects.toThrow(/invalid train job parameters: mode/);
    await expect(engine.call('jobs.enqueue', { kind: 'predict', params: { model: 'm' } })).rejects.toThrow(/give volumeIds or studies/);
  });

  let modelId = '';
  it('a train job ends done and registers its model on the job and in the library', async () => {
    const job = await engine.call('jobs.enqueue', { kind: 'train', params: TINY_TRAIN });
    const j = await settle(engine, job.id);
    expect(j.error).toBeNull();
    expect(j.status).toBe('done');
    expect(j.step).toBe(3);
    expect(j.result).toMatchObject({ name: 'phantom-sup', steps: 3, labeledSlices: 12, stopped: 'steps' });
    modelId = (j.result as { modelId: string }).modelId;
    expect(modelId).toMatch(/^model-/);
    expect(j.modelId).toBe(modelId);
    const { models } = await engine.call('ml.listModels');
    expect(models.find((m) => m.id === modelId)).toMatchObject({ name: 'phantom-sup', kind: 'supervised', status: 'ready' });
    // One loss point per step reached the stored curve.
    const { points } = await engine.call('jobs.progress', { id: job.id });
    expect(points.filter((p) => p.kind === 'step').map((p) => p.step)).toEqual([1, 2, 3]);
    expect(changes).toContain('train job');
  }, 60_000);

  it('a predict job on a study stores a predicted annotation of the volume geometry, recording the model', async () => {
    expect(modelId).not.toBe('');
    const job = await engine.call('jobs.enqueue', { kind: 'predict', params: { model: 'phantom-sup', studies: [studyIds[0]!], largestComponent: true } });
    const j = await settle(engine, job.id);
    expect(j.error).toBeNull();
    expect(j.status).toBe('done');
    const res = j.result as { modelId: string; annotations: Array<{ volumeId: string; annotationId: string }> };
    expect(res.modelId).toBe(modelId);
    expect(res.annotations).toHaveLength(1);
    expect(volumeIds).toContain(res.annotations[0]!.volumeId);
    const lib = openLibrary(ws.workspace);
    try {
      const ann = lib.catalog.annotation(res.annotations[0]!.annotationId)!;
      expect(ann).toMatchObject({ source: 'predicted', modelId, volumeId: res.annotations[0]!.volumeId });
      const map = await readNifti(lib.abs(ann.storedPath));
      expect(map.dims).toEqual([24, 24, 3]);
      expect(map.frames).toBe(2);
      expect([...new Set(Array.from(map.data as ArrayLike<number>))].every((v) => v === 0 || v === 1 || v === 2)).toBe(true);
    } finally {
      lib.close();
    }
    expect(changes).toContain('predict job');
  }, 60_000);

  it('a cancelled train job stops at its next step and stores no model', async () => {
    const before = (await engine.call('ml.listModels')).models.length;
    const job = await engine.call('jobs.enqueue', { kind: 'train', params: { ...TINY_TRAIN, name: 'never', steps: 100_000, config: { ...TINY_TRAIN.config, patience: 0 } } });
    const t0 = Date.now();
    while ((await engine.call('jobs.get', { id: job.id })).step < 1 && Date.now() - t0 < 40_000) await new Promise((r) => setTimeout(r, 100));
    await engine.call('jobs.cancel', { id: job.id });
    const j = await settle(engine, job.id);
    expect(j.error).toBeNull();
    expect(j.status).toBe('cancelled');
    expect(j.step).toBeGreaterThanOrEqual(1);
    expect(j.step).toBeLessThan(100_000);
    expect(j.modelId).toBeNull();
    expect((await engine.call('ml.listModels')).models).toHaveLength(before);
  }, 60_000);

  it('a predict job with an unknown model fails with the reason', async () => {
    const job = await engine.call('jobs.enqueue', { kind: 'predict', params: { model: 'nope', volumeIds: [volumeIds[0]!] } });
    const j = await settle(engine, job.id);
    expect(j.status).toBe('failed');
    expect(j.error).toContain('no model "nope"');
  }, 60_000);
});
