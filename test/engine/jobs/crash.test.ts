import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueJob } from '../../../main/jobs/enqueue.js';
import { JobRunner } from '../../../main/jobs/runner.js';
import { jobIn, openStore, syntheticWorkspace, tinyPretrain, waitFor, WORKER_ENV } from './fixture.js';

/**
 * Acceptance: a pretraining job whose worker is SIGKILLed mid-run is interrupted with the reason, and a new
 * runner resumes it from its last checkpoint with a continuous step count, losing at most one checkpoint
 * interval, and redoes the lost steps with the same losses (exact resume).
 */
describe('crash safety of a pretraining job', () => {
  let ws: Awaited<ReturnType<typeof syntheticWorkspace>>;
  const runners: JobRunner[] = [];
  beforeAll(async () => {
    ws = await syntheticWorkspace('crash');
  });
  afterAll(async () => {
    await Promise.all(runners.map((r) => r.stop()));
    ws?.cleanup();
  });

  it('SIGKILL of the worker → interrupted; restarted runner resumes from the checkpoint, no gap', async () => {
    const INTERVAL = 4;
    const STEPS = 40;
    const { lib, store } = openStore(ws.workspace);
    const job = enqueueJob(store, { kind: 'pretrain', params: tinyPretrain(STEPS, { checkpointEverySteps: INTERVAL }) });

    const first = new JobRunner({ workspace: ws.workspace, pollMs: 100, workerEnv: WORKER_ENV });
    runners.push(first);
    await first.start();
    const before = await waitFor('a checkpoint past two intervals', () => {
      const r = store.get(job.id)!;
      if (r.status === 'failed') throw new Error(`job failed: ${r.error}`);
      return r.status === 'running' && (r.checkpoint_step ?? 0) >= 2 * INTERVAL && r.worker_pid ? r : null;
    }, 90_000, 20);
    process.kill(before.worker_pid!, 'SIGKILL');
    const interrupted = await waitFor('interrupted', () => jobIn(store, job.id, 'interrupted', 'failed', 'done'), 30_000);
    expect(interrupted.status).toBe('interrupted');
    expect(interrupted.error).toMatch(/killed by signal SIGKILL/);
    expect(interrupted.worker_pid).toBeNull();
    const killedAt = interrupted.step;
    const curveBefore = store.progress(job.id).filter((p) => p.kind === 'step');
    await first.stop();

    const second = new JobRunner({ workspace: ws.workspace, pollMs: 100, workerEnv: WORKER_ENV });
    runners.push(second);
    await second.start();
    const done = await waitFor('done', () => jobIn(store, job.id, 'done', 'failed'), 90_000);
    expect(done.error).toBeNull();
    expect(done.status).toBe('done');
    expect(done.step).toBe(STEPS);
    expect(done.checkpoint_step).toBe(STEPS);

    const runs = store.runs(job.id);
    expect(runs.map((r) => r.status)).toEqual(['interrupted', 'done']);
    const resumedFrom = runs[1]!.start_step!;
    expect(resumedFrom).toBeGreaterThanOrEqual(before.checkpoint_step!);
    expect(resumedFrom).toBeLessThanOrEqual(killedAt);
    // At most one checkpoint interval of work lost.
    expect(killedAt - resumedFrom).toBeLessThanOrEqual(INTERVAL);

    // One point per step, 1..STEPS, no gap and no duplicate.
    const curve = store.progress(job.id).filter((p) => p.kind === 'step');
    expect(curve.map((p) => p.step)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    // The redone steps repeat the lost ones' losses (the loop's resume is exact on one backend).
    for (const old of curveBefore.filter((p) => p.step > resumedFrom && p.step <= killedAt)) {
      const again = curve.find((p) => p.step === old.step)!;
      expect(again.loss!).toBeCloseTo(old.loss!, 4);
    }
    // Steps before the checkpoint were not redone: they keep the first run's points.
    expect(curve.filter((p) => p.step <= resumedFrom).every((p) => p.runId === runs[0]!.id)).toBe(true);

    const log = readFileSync(store.summary(done).logPath!, 'utf8');
    expect(log).toMatch(/killed by signal SIGKILL/);
    expect(log).toMatch(new RegExp(`resuming automatically from the checkpoint at step \\d+`));
    expect(log).toMatch(new RegExp(`resuming from the checkpoint at step ${resumedFrom}`));
    // The finished job is a model of the library.
    const model = lib.db.prepare('SELECT * FROM models WHERE id = ?').get(done.model_id) as { kind: string; path: string } | undefined;
    expect(model?.kind).toBe('pretrain');
    lib.close();
  }, 240_000);
});
