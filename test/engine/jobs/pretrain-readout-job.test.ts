import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../../main/engine/create.js';
import type { Engine } from '../../../main/engine/engine.js';
import { readNifti } from '../../../main/io/nifti.js';
import { saveAnnotation } from '../../../main/library/annotations.js';
import { openLibrary } from '../../../main/library/library.js';
import { attachRunner, type JobRunner } from '../../../main/jobs/index.js';
import { DEFAULT_READOUT_PROBE_STEPS, readReadout } from '../../../main/ml/pretrain/readout.js';
import { settle, syntheticWorkspace, tinyPretrain, WORKER_ENV } from './fixture.js';

/**
 * An app pretraining job records a linear-probe readout when the library holds annotated slices of two
 * studies: the phantom workspace's two patients get a manual annotation each (900 → label 1, 400 → label 2),
 * and a tiny 50-step job measures the probe every 5 steps (about ten readouts per run).
 */
describe('pretraining job: readout along the run', () => {
  let ws: Awaited<ReturnType<typeof syntheticWorkspace>>;
  let engine: Engine;
  let runner: JobRunner | null = null;

  beforeAll(async () => {
    ws = await syntheticWorkspace('readout');
    engine = createEngine({ workspace: ws.workspace });
    runner = await attachRunner(engine, { workspace: ws.workspace, pollMs: 100, workerEnv: WORKER_ENV });
  }, 60_000);
  afterAll(async () => {
    await runner?.stop();
    ws?.cleanup();
  });

  async function annotate(which: number[]): Promise<void> {
    const lib = openLibrary(ws.workspace);
    try {
      const volumeIds = lib.catalog.listStudies().flatMap((s) => s.series.flatMap((se) => se.volumes.map((v) => v.id)));
      for (const id of which.map((i) => volumeIds[i]!)) {
        const vol = await readNifti(lib.abs(lib.catalog.volume(id)!.storedPath));
        const labels = Uint8Array.from(vol.data as ArrayLike<number>, (x) => (x === 900 ? 1 : x === 400 ? 2 : 0));
        await saveAnnotation(lib, { volumeId: id, data: labels, source: 'manual' });
      }
    } finally {
      lib.close();
    }
  }

  it('with one annotated study: no readout, and the log says why', async () => {
    await annotate([0]);
    const job = await engine.call('jobs.enqueue', { kind: 'pretrain', params: tinyPretrain(50) });
    const j = await settle(engine, job.id);
    expect(j.error).toBeNull();
    expect(j.status).toBe('done');
    const log = readFileSync(j.logPath!, 'utf8');
    expect(log).toMatch(/no readout: annotated slices in 1 study; a readout needs two/);
    const r = await engine.call('ml.readouts', { jobs: [job.id], models: [j.modelId!] });
    expect(r.jobs[job.id]).toBeNull();
    expect(r.models[j.modelId!]).toBeNull();
  }, 120_000);

  it('with two annotated studies: readouts at steps 0, 5, …, 50 in readout.json, served per job and per backbone', async () => {
    await annotate([1]);
    // Too short a run measures nothing (the probes would cost more than the training).
    const short = await engine.call('jobs.enqueue', { kind: 'pretrain', params: tinyPretrain(3) });
    const s = await settle(engine, short.id);
    expect(s.status).toBe('done');
    expect(readFileSync(s.logPath!, 'utf8')).toMatch(/no readout: 3 planned steps are fewer than 50/);

    const job = await engine.call('jobs.enqueue', { kind: 'pretrain', name: 'with readout', params: tinyPretrain(50) });
    // Eleven readouts of 300 probe steps each: longer than the training itself.
    const j = await settle(engine, job.id, 200_000);
    expect(j.error).toBeNull();
    expect(j.status).toBe('done');
    const log = readFileSync(j.logPath!, 'utf8');
    // Each phantom study holds 3 slices × 2 frames, all annotated: 6 train the probe, 6 score it.
    expect(log).toMatch(/readout every 5 steps: linear probe trained on \S+, scored on \S+ \(6 \+ 6 slices\)/);
    expect(log).toMatch(/step 50: linear-probe Dice label 1 [0-9.]+, label 2 [0-9.]+ \(mean [0-9.]+\)/);

    const lib = openLibrary(ws.workspace);
    const dir = lib.abs(`jobs/${job.id}`);
    lib.close();
    expect(existsSync(join(dir, 'readout.json'))).toBe(true);
    const rec = readReadout(dir)!;
    expect(rec.points.map((p) => p.step)).toEqual([0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50]);
    expect(rec).toMatchObject({ labeledSlices: 6, validationSlices: 6 });
    for (const p of rec.points) {
      expect(p.probeSteps).toBe(DEFAULT_READOUT_PROBE_STEPS);
      expect(p.probe).toBe('balanced-full-batch');
      const d = Object.values(p.dice);
      expect(d).toHaveLength(2);
      for (const v of d) expect(v).toBeGreaterThanOrEqual(0), expect(v).toBeLessThanOrEqual(1);
      expect(p.mean).toBeCloseTo((d[0]! + d[1]!) / 2, 12);
    }

    const r = await engine.call('ml.readouts');
    const expected = {
      description: rec.description,
      structures: rec.structures,
      labeledSlices: 6,
      validationSlices: 6,
      points: rec.points.map(({ step, epoch, dice, mean, probe }) => ({ step, epoch, dice, mean, probe })),
    };
    expect(r.jobs[job.id]).toEqual(expected);
    expect(r.models[j.modelId!]).toEqual(expected);
    expect(r.jobs[short.id]).toBeNull();
    expect(r.problems).toEqual([]);
  }, 240_000);
});
