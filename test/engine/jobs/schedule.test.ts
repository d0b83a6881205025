import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../main/jobs/clock.js';
import { enqueueJob } from '../../../main/jobs/enqueue.js';
import { JobRunner } from '../../../main/jobs/runner.js';
import type { JobStore } from '../../../main/jobs/store.js';
import { jobIn, openStore, syntheticWorkspace, tinyPretrain, waitFor, WORKER_ENV } from './fixture.js';

const at = (day: number, h: number, m = 0) => new Date(2026, 0, day, h, m, 0, 0).getTime();

/**
 * A night-window job with a controllable clock: it waits for 22:00, stops at 07:00 with a checkpoint, waits
 * through the day, and continues at 22:00 the next night from that checkpoint until its step budget.
 */
describe('scheduled pretraining (controllable clock)', () => {
  let ws: Awaited<ReturnType<typeof syntheticWorkspace>>;
  let store: JobStore;
  let close: () => void;
  let runner: JobRunner | null = null;
  beforeAll(async () => {
    ws = await syntheticWorkspace('schedule');
    const s = openStore(ws.workspace);
    store = s.store;
    close = () => s.lib.close();
  });
  afterAll(async () => {
    await runner?.stop();
    close?.();
    ws?.cleanup();
  });

  it('starts at its start time, stops at its stop time with a checkpoint, resumes in the next window', async () => {
    const STEPS = 24;
    const clock = new ManualClock(at(10, 21, 50));
    const job = enqueueJob(store, { kind: 'pretrain', params: tinyPretrain(STEPS), schedule: { start: '22:00', stop: '07:00' } }, clock.now());
    runner = new JobRunner({ workspace: ws.workspace, clock, pollMs: 1000, workerEnv: WORKER_ENV });
    await runner.start();

    // 21:50 → 21:59: polls run, the job waits.
    for (let i = 0; i < 9; i++) clock.advance(60_000);
    let row = store.get(job.id)!;
    expect(row.status).toBe('queued');
    expect(row.waiting).toMatch(/waits for its start at 2026-01-10 22:00/);

    clock.set(at(10, 22, 0));
    await waitFor('running', () => jobIn(store, job.id, 'running'), 5_000, 10);
    await waitFor('step 4', () => (store.get(job.id)!.step >= 4 ? true : null), 60_000, 20);

    // The night ends: the next poll after 07:00 stops the worker, which checkpoints first.
    clock.set(at(11, 7, 0));
    row = await waitFor('back in the queue', () => jobIn(store, job.id, 'queued', 'failed', 'done'), 60_000);
    expect(row.status).toBe('queued');
    expect(row.step).toBeLessThan(STEPS);
    expect(row.checkpoint_step).toBe(row.step);
    const stoppedAt = row.step;
    expect(store.runs(job.id)[0]!.reason).toBe('stopped (window)');

    // Through the day nothing starts.
    clock.set(at(11, 12, 0));
    clock.set(at(11, 21, 59));
    row = store.get(job.id)!;
    expect(row.status).toBe('queued');
    expect(row.waiting).toMatch(/waits for its window 22:00–07:00 \(opens 2026-01-11 22:00\)/);
    expect(store.runs(job.id)).toHaveLength(1);

    clock.set(at(11, 22, 0));
    const done = await waitFor('done', () => jobIn(store, job.id, 'done', 'failed'), 90_000);
    expect(done.status).toBe('done');
    expect(done.step).toBe(STEPS);
    const runs = store.runs(job.id);
    expect(runs).toHaveLength(2);
    expect(runs[1]!.start_step).toBe(stoppedAt);
    const steps = store.progress(job.id).filter((p) => p.kind === 'step').map((p) => p.step);
    expect(steps).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
  }, 200_000);
});
