import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEngine } from '../../main/engine/create.js';
import { Engine } from '../../main/engine/engine.js';
import { EngineFailure } from '../../main/engine/errors.js';
import { JobStore } from '../../main/jobs/store.js';
import { openLibrary } from '../../main/library/library.js';
import type { ModelSummary } from '../../main/contract/index.js';
import { EngineClient, provideClient } from '../../renderer/api/index.js';
import { cardiacOf, diceOf, predictionOf } from '../../renderer/components/review/results.js';
import { useJobsStore } from '../../renderer/stores/jobs.js';
import { useModelsStore } from '../../renderer/stores/models.js';
import { useStudiesStore } from '../../renderer/stores/studies.js';
import { bytesToBase64 } from '../../renderer/viewer/voxels.js';
import { sampleStudies } from './support/fixtures.js';
import { LoopbackTransport, settle } from './support/loopback.js';

let dirs: string[] = [];

beforeEach(() => {
  setActivePinia(createPinia());
});
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function realEngine(): { engine: Engine; workspace: string } {
  const workspace = mkdtempSync(join(tmpdir(), 'pix2rep-training-ws-'));
  dirs.push(workspace);
  const engine = createEngine({ workspace });
  provideClient(new EngineClient(new LoopbackTransport(engine)));
  return { engine, workspace };
}

describe('jobs store (real jobs handlers, no runner)', () => {
  it('queues a pretraining, pauses, resumes and cancels it, following job.state events', async () => {
    realEngine();
    const jobs = useJobsStore();
    jobs.start();
    await settle();
    expect(jobs.loaded).toBe(true);
    expect(jobs.list).toEqual([]);

    const job = await jobs.enqueuePretrain({ method: 'pix2rep-v2', preset: 'compact', budget: 'overnight', amount: 4, studies: [], name: 'night run' });
    expect(job?.status).toBe('queued');
    expect(job?.params).toMatchObject({ method: 'pix2rep-v2', epochs: 4, out: 'night run' });
    expect(job?.schedule).toMatchObject({ start: '22:00', stop: '07:00' });
    expect(jobs.current?.id).toBe(job!.id);
    expect(jobs.pretrainJobs).toHaveLength(1);

    await jobs.pause(job!.id);
    expect(jobs.jobs[job!.id]!.status).toBe('paused');
    await jobs.resume(job!.id);
    expect(jobs.jobs[job!.id]!.status).toBe('queued');
    await jobs.cancel(job!.id);
    expect(jobs.jobs[job!.id]!.status).toBe('cancelled');
    expect(jobs.error).toBeNull();

    // A cancelled job cannot be resumed: the engine's refusal reaches the user in words.
    await jobs.resume(job!.id);
    expect(jobs.error).toMatch(/^Could not resume the job: /);
    jobs.stop();
  });

  it('keeps the newer record when a control answer arrives after the next state event', async () => {
    const { engine } = realEngine();
    const jobs = useJobsStore();
    jobs.start();
    const job = (await jobs.enqueuePretrain({ method: 'pix2rep', preset: 'compact', budget: 'steps', amount: 10, studies: [], name: '' }))!;
    const later = new Date(Date.parse(job.updatedAt) + 1000).toISOString();
    engine.emit('job.state', { job: { ...job, status: 'running', updatedAt: later } });
    await settle();
    expect(jobs.jobs[job.id]!.status).toBe('running');
    engine.emit('job.state', { job: { ...job, status: 'queued' } });
    await settle();
    expect(jobs.jobs[job.id]!.status).toBe('running');
    jobs.stop();
  });

  it('refuses a form without a budget before calling the engine', async () => {
    realEngine();
    const jobs = useJobsStore();
    expect(await jobs.enqueuePretrain({ method: 'pix2rep', preset: 'compact', budget: 'steps', amount: null, studies: [], name: '' })).toBeNull();
    expect(jobs.error).toMatch(/number of steps/);
  });

  it('loads a stored curve and extends it with live progress events', async () => {
    const { engine, workspace } = realEngine();
    const jobs = useJobsStore();
    jobs.start();
    const job = (await jobs.enqueuePretrain({ method: 'pix2rep', preset: 'compact', budget: 'steps', amount: 10, studies: [], name: '' }))!;
    // What the worker stores as it trains (this is the curve of a run that finished yesterday).
    const lib = openLibrary(workspace);
    const store = new JobStore(lib.db, lib.layout.root);
    store.recordProgress(job.id, null, { kind: 'step', step: 1, loss: 2.0, smoothedLoss: 2.0 });
    store.recordProgress(job.id, null, { kind: 'step', step: 2, loss: 1.0, smoothedLoss: 1.5 });
    store.recordProgress(job.id, null, { kind: 'validation', step: 2, validationLoss: 1.7 });
    lib.close();

    await jobs.loadCurve(job.id, true);
    expect(jobs.curves[job.id]).toEqual([
      { step: 1, kind: 'step', loss: 2, validationLoss: null },
      { step: 2, kind: 'step', loss: 1.5, validationLoss: null },
      { step: 2, kind: 'validation', loss: null, validationLoss: 1.7 },
    ]);

    const ev = { jobId: job.id, totalSteps: 10, epoch: 0.3, loss: 0.9, smoothedLoss: 1.2, validationLoss: null, etaSeconds: 42, backend: 'wasm' };
    engine.emit('job.progress', { ...ev, kind: 'step', step: 3, slicesPerSecond: 12.5 });
    engine.emit('job.progress', { ...ev, kind: 'validation', step: 3, loss: null, smoothedLoss: null, validationLoss: 1.1, slicesPerSecond: null, etaSeconds: null, backend: null });
    await settle();
    expect(jobs.curves[job.id]!.slice(3)).toEqual([
      { step: 3, kind: 'step', loss: 1.2, validationLoss: null },
      { step: 3, kind: 'validation', loss: null, validationLoss: 1.1 },
    ]);
    // The validation event has no throughput, ETA or backend: the last known figures stay on screen.
    expect(jobs.live[job.id]).toEqual({ step: 3, totalSteps: 10, epoch: 0.3, slicesPerSecond: 12.5, etaSeconds: 42, backend: 'wasm' });
    expect(jobs.jobs[job.id]!.step).toBe(3);
    expect(jobs.jobs[job.id]!.progress).toBeCloseTo(0.3, 12);
    jobs.stop();
  });
});

describe('models store', () => {
  it('lists no models and explains why training cannot start on an empty workspace (real ml handlers)', async () => {
    realEngine();
    const models = useModelsStore();
    await models.refresh();
    expect(models.list).toEqual([]);
    expect(models.error).toBeNull();
    expect(await models.train({ mode: 'linear' })).toBeNull();
    expect(models.training.error).toMatch(/Linear probe starts from a pretrained backbone: pick one first/);
    expect(await models.predict('nothing', [])).toBeNull();
    expect(models.predicting.error).toMatch(/Nothing to predict/);
    // The first call loads the model catalogue code (and tfjs behind it) on demand.
  }, 60_000);

  it('drives the training and prediction progress from the engine and records what was predicted', async () => {
    const engine = new Engine();
    provideClient(new EngineClient(new LoopbackTransport(engine)));
    const seen: Array<[number, number | null, string]> = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let modelsList: ModelSummary[] = [{ id: 'bb', name: 'pix2rep-night', kind: 'pretrain', parentId: null, status: 'ready', createdAt: '2026-01-01T00:00:00Z', validationDice: null }];
    engine.register({
      'ml.listModels': () => ({ models: modelsList }),
      'ml.train': async (p, ctx) => {
        expect(p).toEqual({ mode: 'finetune', backbone: 'bb', steps: 4 });
        ctx.progress('train', 2, 4, 'loss 0.5000');
        await gate;
        modelsList = [...modelsList, { id: 'm1', name: 'finetune-1', kind: 'finetune', parentId: 'bb', status: 'ready', createdAt: '2026-01-01T01:00:00Z', validationDice: 0.8 }];
        return { modelId: 'm1', name: 'finetune-1', training: { steps: 4, stopped: 'steps', bestStep: 4, validationDice: 0.8, seconds: 3, labeledSlices: 10 } };
      },
      'ml.predict': (p, ctx) => {
        ctx.progress('predict', 0, p.volumeIds.length, p.volumeIds[0]);
        return { modelId: 'm1', annotations: p.volumeIds.map((v) => ({ volumeId: v, annotationId: `pred-${v}` })) };
      },
      'library.listStudies': () => ({ studies: sampleStudies() }),
    });
    const models = useModelsStore();
    await models.refresh();
    expect(models.backbones.map((m) => m.name)).toEqual(['pix2rep-night']);
    expect(models.segmenters).toEqual([]);

    const done = models.train({ mode: 'finetune', backbone: 'bb', steps: 4 });
    await settle();
    const t = models.training;
    seen.push([t.done, t.total, t.message]);
    expect(t.running).toBe(true);
    expect(seen).toEqual([[2, 4, 'loss 0.5000']]);
    // A second click while one runs does nothing.
    expect(await models.train({ mode: 'supervised' })).toBeNull();
    release();
    const res = await done;
    expect(res?.modelId).toBe('m1');
    expect(models.training).toMatchObject({ running: false, done: 4, total: 4, error: null });
    expect(models.segmenters.map((m) => m.name)).toEqual(['finetune-1']);
    expect(models.nameOf('m1')).toBe('finetune-1');
    expect(models.nameOf('gone')).toBe('gone');

    const studies = useStudiesStore();
    expect(studies.loaded).toBe(false);
    await models.predict('m1', ['v1', 'v2']);
    expect(models.predictions).toEqual({ v1: { annotationId: 'pred-v1', modelId: 'm1' }, v2: { annotationId: 'pred-v2', modelId: 'm1' } });
    expect(models.predicting).toMatchObject({ running: false, done: 2, total: 2, message: 'Segmented 2 volumes' });
    // The library list was reloaded so the new annotations show.
    expect(studies.loaded).toBe(true);
  });

  it('turns an engine refusal into plain words', async () => {
    const engine = new Engine();
    provideClient(new EngineClient(new LoopbackTransport(engine)));
    engine.register({
      'ml.train': () => {
        throw new EngineFailure('BAD_INPUT', 'no annotated slices in the selected studies: mark some slices as annotated');
      },
    });
    const models = useModelsStore();
    await models.train({ mode: 'supervised', steps: 1 });
    expect(models.training.error).toBe('Training failed: no annotated slices in the selected studies: mark some slices as annotated');
    expect(models.training.running).toBe(false);
  });
});

describe('results from stored label maps', () => {
  it('reads a prediction and its reference and computes Dice and cardiac indices', async () => {
    const engine = new Engine();
    provideClient(new EngineClient(new LoopbackTransport(engine)));
    const labels = [
      { value: 1, name: 'RV', color: '#e6194b' },
      { value: 2, name: 'MYO', color: '#3cb44b' },
      { value: 3, name: 'LV', color: '#4363d8' },
    ];
    // 2 × 2 × 2 grids (8 voxels).
    const maps: Record<string, number[]> = {
      predED: [3, 3, 3, 2, 1, 1, 0, 0],
      refED: [3, 3, 0, 2, 1, 1, 1, 0],
      predES: [3, 0, 0, 2, 1, 0, 0, 0],
      refES: [3, 3, 0, 2, 1, 0, 0, 0],
    };
    engine.register({
      'library.readAnnotation': ({ annotationId, frame }) => {
        const m = maps[annotationId];
        if (!m) throw new EngineFailure('NOT_FOUND', `no annotation ${annotationId}`);
        return { id: annotationId, volumeId: 'v', source: annotationId.startsWith('pred') ? 'predicted' : 'imported', modelId: null, labels, dims: [2, 2, 2], frames: 1, frame, annotatedSlices: [], data: bytesToBase64(Uint8Array.from(m)) };
      },
    });
    const dice = await diceOf('predED', 'refED', 0);
    // RV: pred 2, ref 3, overlap 2 → 0.8. MYO: 1, 1, 1 → 1. LV: pred 3, ref 2, overlap 2 → 0.8.
    expect(dice.map((d) => [d.name, d.dice])).toEqual([
      ['RV', 0.8],
      ['MYO', 1],
      ['LV', 0.8],
    ]);
    const vol = (id: string, phase: 'ED' | 'ES', pred: string, ref: string) => ({
      id,
      seriesId: 's',
      name: id,
      dims: [2, 2, 2] as [number, number, number],
      frames: 1,
      spacing: [10, 10, 10] as [number, number, number],
      phase,
      annotations: [
        { id: ref, source: 'imported' as const, modelId: null, annotatedSlices: 2 },
        { id: pred, source: 'predicted' as const, modelId: 'm1', annotatedSlices: 2 },
      ],
    });
    const rows = await cardiacOf(vol('ed', 'ED', 'predED', 'refED'), vol('es', 'ES', 'predES', 'refES'), 'm1');
    // Voxel 10 mm cubed = 1 ml. Prediction: LV 3 → 1 ml, EF 2/3; RV 2 → 1, EF 1/2; MYO 1 ml × 1.05 g.
    expect(rows.map((r) => r.source)).toEqual(['prediction', 'reference']);
    const p = rows[0]!.indices;
    expect([p.lvEdv, p.lvEsv, p.rvEdv, p.rvEsv]).toEqual([3, 1, 2, 1]);
    expect(p.lvEf).toBeCloseTo(2 / 3, 12);
    expect(p.rvEf).toBeCloseTo(0.5, 12);
    expect(p.myoMass).toBeCloseTo(1.05, 12);
    const r = rows[1]!.indices;
    // Reference: LV 2 → 2, EF 0; RV 3 → 1, EF 2/3.
    expect([r.lvEdv, r.lvEsv, r.lvEf, r.rvEdv, r.rvEsv]).toEqual([2, 2, 0, 3, 1]);
    await expect(diceOf('missing', 'refED', 0)).rejects.toThrow(/no annotation missing/);
    // Predictions by another model for the two phases are not mixed into one ejection fraction.
    const other = await cardiacOf(vol('ed', 'ED', 'predED', 'refED'), vol('es', 'ES', 'predES', 'refES'), 'm2');
    expect(other.map((r) => r.source)).toEqual(['reference']);
    expect(predictionOf(vol('ed', 'ED', 'predED', 'refED'), 'm2')?.id).toBe('predED');
  });
});
