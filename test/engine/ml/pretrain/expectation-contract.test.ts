import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../../../main/engine/create.js';
import type { Engine } from '../../../../main/engine/engine.js';
import { READOUT_FILE_NAME } from '../../../../main/library/readouts.js';
import { MEASURED_GAIN } from '../../../../main/ml/pretrain/measured-gain.js';
import { READOUT_FILE, writeReadout, type ReadoutRecord } from '../../../../main/ml/pretrain/readout.js';
import { finishedPretrainRun } from '../../../support/pretrain-runs.js';
import { syntheticWorkspace } from '../../jobs/fixture.js';

/**
 * ml.pretrainExpectation and ml.readouts on a real workspace (two synthetic cine volumes: 2 × 3 slices × 2
 * frames = 12 slices), with finished runs and readout files put in the catalogue as the runner leaves them.
 */
describe('pretraining expectation and readouts on the contract', () => {
  let ws: Awaited<ReturnType<typeof syntheticWorkspace>>;
  let engine: Engine;
  let empty: string;

  beforeAll(async () => {
    ws = await syntheticWorkspace('expect');
    engine = createEngine({ workspace: ws.workspace });
    empty = mkdtempSync(join(tmpdir(), 'p2r-expect-empty-'));
  }, 60_000);
  afterAll(() => {
    ws?.cleanup();
    rmSync(empty, { recursive: true, force: true });
  });

  const finishedRun = (name: string, rates: number[], workers = 1) => finishedPretrainRun(ws.workspace, name, rates, workers);

  it('before any run: the bench reference step time of the configuration', async () => {
    const e = await engine.call('ml.pretrainExpectation', { method: 'pix2rep', preset: 'compact', budget: { kind: 'steps', amount: 1000 } });
    expect(e.trainSlices + e.validationSlices).toBe(12);
    expect(e.volumes).toBe(2);
    expect(e.batch).toBe(8);
    // 9 to 11 training slices at batch 8: one step per epoch.
    expect(e.stepsPerEpoch).toBe(1);
    expect(e.stepTime).toEqual({ source: 'reference', jobId: null, jobName: null, finishedAt: null });
    expect(e.secondsPerStep).toBeCloseTo(5.42, 10);
    expect(e).toMatchObject({ steps: 1000, epochs: 1000, nights: null, readout: null, readoutText: null });
    // 1000 × 5.42 s = 5420 s = 90.3 min → "1 h 30 min".
    expect(e.seconds).toBeCloseTo(5420, 6);
    expect(e.text).toBe(`1,000 steps: about 1 h 30 min, 1000.0 epochs of ${e.trainSlices} training slices at 5.42 s/step (reference step time, docs/PERFORMANCE.md).`);
    // The default request (compact, v1, batch 8, 128²) is the measured configuration: 1,000 planned steps quote
    // the 900-step point (measured-gain.test.ts has every sentence).
    expect(MEASURED_GAIN.points.map((q) => q.pretrainSteps)).toEqual([900, 2780]);
    expect(e.gainText).toBe(
      "Measured on ACDC (docs/EVALUATION.md): after 900 pretraining steps with these settings (the longest measured length within this run's 1,000), " +
        'fine-tuning for 600 steps at one labeled patient scored +0.005 mean Dice over an untrained start (3 seeds: −0.021, +0.038, −0.001; ' +
        'single runs differ by up to 0.4 between seeds): no clear gain in segmentation at that length; the linear-probe readout measures what the backbone itself learns.',
    );

    // Overnight: 32400 s / 5.42 s = 5977.9 → 5977 steps; two workers: 32400 / 2.59 = 12509.7 → 12509.
    const night = await engine.call('ml.pretrainExpectation', { budget: { kind: 'overnight' } });
    // No epoch limit: the compact preset's 200 epochs of one step fit in one night.
    expect(night).toMatchObject({ steps: 5977, epochs: 5977, seconds: 32400, nights: 1 });
    expect(night.text).toBe(
      `Overnight (22:00–07:00, 9 h): about 5,977 steps, 5977.0 epochs of ${e.trainSlices} training slices at 5.42 s/step (reference step time, docs/PERFORMANCE.md); ` +
        'without an epoch limit it stops after 200 epochs, about 1 night.',
    );
    // The gain is for the run's whole length, not one night's: 200 epochs of one step stop at 200 steps.
    expect(night.gainText).toMatch(/^Measured on ACDC \(docs\/EVALUATION\.md\): this run's 200 steps are fewer than any measured; after 900 pretraining steps/);
    const two = await engine.call('ml.pretrainExpectation', { budget: { kind: 'overnight', amount: 20000 } , workers: 2 });
    expect(two.steps).toBe(12509);
    // 20000 epochs of one step each at 12509 steps a night: 2 nights.
    expect(two.nights).toBe(2);
    expect(two.text).toMatch(/at 2\.59 s\/step \(reference step time, docs\/PERFORMANCE\.md, 2 workers\); 20000 epochs take about 2 nights\.$/);
    // 20,000 epochs of one step: beyond the longest measured point.
    expect(two.gainText).toMatch(/after 2,780 pretraining steps with these settings, the longest measured \(longer runs, like this one's 20,000, are not measured yet\)/);

    // Epochs budget: 10 epochs of 1 step.
    const ep = await engine.call('ml.pretrainExpectation', { budget: { kind: 'epochs', amount: 10 } });
    expect(ep).toMatchObject({ steps: 10, epochs: 10 });
    expect(ep.text).toMatch(/^10 epochs: about 54 s, 10\.0 epochs of/);
    expect(ep.gainText).toMatch(/this run's 10 steps are fewer than any measured/);
  }, 60_000);

  it('says when no step time is known (paper preset) instead of inventing one', async () => {
    const e = await engine.call('ml.pretrainExpectation', { preset: 'paper', budget: { kind: 'epochs', amount: 5 } });
    expect(e.stepTime.source).toBe('none');
    expect(e.secondsPerStep).toBeNull();
    expect(e.seconds).toBeNull();
    expect(e.text).toMatch(/^5 epochs: 5\.0 epochs of \d+ training slices \(1 steps each\); no step time is known for this configuration on this machine yet/);
    // Not the measured configuration: no gain is quoted for it.
    expect(e.gainText).toBeNull();
  }, 60_000);

  it("uses this machine's last finished run of the same configuration, and quotes a comparable backbone's readout", async () => {
    // Median of 1.5, 1.6, 1.7, 9 (a fast outlier) and 0.2 (a slow first step) is 1.6 slices/s: 8 / 1.6 = 5 s/step.
    const run = finishedRun('night-1', [0.2, 1.5, 9, 1.6, 1.7]);
    const e = await engine.call('ml.pretrainExpectation', { budget: { kind: 'steps', amount: 720 } });
    expect(e.stepTime).toMatchObject({ source: 'last-run', jobId: run.jobId, jobName: 'night-1' });
    expect(e.secondsPerStep).toBeCloseTo(5, 10);
    expect(e.text).toMatch(/^720 steps: about 1 h, 720\.0 epochs of \d+ training slices at 5\.00 s\/step \(this machine's last run, night-1\)\.$/);
    // Another worker count is another configuration: the reference again.
    expect((await engine.call('ml.pretrainExpectation', { budget: { kind: 'steps', amount: 10 }, workers: 2 })).stepTime.source).toBe('reference');
    // No readout stored yet: none quoted.
    expect(e.readout).toBeNull();

    const rec: ReadoutRecord = {
      version: 1,
      description: 'linear probe trained on patient001, scored on patient002',
      structures: ['RV', 'MYO', 'LV'],
      labeledSlices: 20,
      validationSlices: 18,
      points: [
        { step: 0, epoch: 0, dice: { RV: 0.1, MYO: 0.2, LV: 0.3 }, mean: 0.2, probeSteps: 60, probe: 'balanced-full-batch', seconds: 3 },
        { step: 500, epoch: 4.2, dice: { RV: 0.2, MYO: 0.35, LV: 0.65 }, mean: 0.4, probeSteps: 60, probe: 'balanced-full-batch', seconds: 3 },
        // A later point of an earlier probe (as a file written before the probe changed could hold): not quoted.
        { step: 600, epoch: 5, dice: { RV: 0.01, MYO: 0.02, LV: 0.03 }, mean: 0.02, probeSteps: 60, probe: 'cached-features', seconds: 3 },
      ],
    };
    // The catalogue reads the file the pretraining writes (without loading the pretraining code).
    expect(READOUT_FILE_NAME).toBe(READOUT_FILE);
    writeReadout(run.dir, rec);
    const after = await engine.call('ml.pretrainExpectation', { budget: { kind: 'overnight' } });
    expect(after.readout).toEqual({ modelId: run.modelId, name: 'night-1', step: 500, epoch: 4.2, mean: 0.4, dice: { RV: 0.2, MYO: 0.35, LV: 0.65 } });
    expect(after.readoutText).toBe('A comparable backbone here, night-1, reached a linear-probe mean Dice of 0.400 at step 500 (epoch 4.2).');
    // Another method is another configuration: its expectation quotes no readout.
    const v2 = await engine.call('ml.pretrainExpectation', { method: 'pix2rep-v2', budget: { kind: 'overnight' } });
    expect(v2.readout).toBeNull();
    // Nor is v2 the configuration the gain was measured for.
    expect(v2.gainText).toBeNull();

    // ml.readouts: per model and per job, read back from the file; a run without readout maps to null, a
    // damaged file is named with its reason.
    const bare = finishedRun('night-2', [1]);
    const broken = finishedRun('night-3', [1]);
    writeFileSync(join(broken.dir, 'readout.json'), '{"version": 1, "points": [');
    const r = await engine.call('ml.readouts');
    const summary = { description: rec.description, structures: rec.structures, labeledSlices: 20, validationSlices: 18, points: rec.points.map(({ step, epoch, dice, mean, probe }) => ({ step, epoch, dice, mean, probe })) };
    expect(r.models[run.modelId]).toEqual(summary);
    expect(r.jobs[run.jobId]).toEqual(summary);
    expect(r.models[bare.modelId]).toBeNull();
    expect(r.jobs[bare.jobId]).toBeNull();
    expect(r.jobs[broken.jobId]).toBeNull();
    expect(r.problems).toHaveLength(2);
    expect(r.problems[0]).toMatchObject({ id: broken.modelId, path: join(broken.dir, 'readout.json') });
    expect(r.problems[0]!.reason).toMatch(/not a readout record/);
    // The probe kind travels with a point; fields the contract does not know stay in the file.
    const probed = finishedRun('night-4', [1]);
    const point = { step: 10, epoch: 1, dice: { LV: 0.5 }, mean: 0.5, probeSteps: 60, probe: 'cached-features', seconds: 1, future: 1 };
    writeFileSync(join(probed.dir, 'readout.json'), JSON.stringify({ version: 1, description: null, structures: ['LV'], labeledSlices: 2, validationSlices: 2, points: [point] }));
    expect((await engine.call('ml.readouts', { models: [probed.modelId] })).models[probed.modelId]!.points).toEqual([
      { step: 10, epoch: 1, dice: { LV: 0.5 }, mean: 0.5, probe: 'cached-features' },
    ]);
    // Asked for one job only.
    const one = await engine.call('ml.readouts', { jobs: [run.jobId], models: [] });
    expect(Object.keys(one.jobs)).toEqual([run.jobId]);
    expect(one.models).toEqual({});
  }, 60_000);

  it('refuses bad budgets and an empty workspace in words', async () => {
    const bad = await engine.handle({ id: 1, method: 'ml.pretrainExpectation', params: { budget: { kind: 'steps' } } });
    expect(bad).toMatchObject({ ok: false, error: { code: 'INVALID_PARAMS' } });
    expect(JSON.stringify(bad)).toMatch(/needs an amount/);
    const none = await createEngine({ workspace: empty }).handle({ id: 2, method: 'ml.pretrainExpectation', params: { budget: { kind: 'overnight' } } });
    expect(none).toMatchObject({ ok: false, error: { code: 'BAD_INPUT' } });
    expect(JSON.stringify(none)).toMatch(/no volumes to train on: import studies first/);
    const unknown = await engine.handle({ id: 3, method: 'ml.pretrainExpectation', params: { budget: { kind: 'overnight' }, studies: ['study-nope'] } });
    expect(JSON.stringify(unknown)).toMatch(/no stored volumes for study study-nope/);
  }, 60_000);
});
