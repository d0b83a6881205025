import { readFileSync, truncateSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelJob, pauseJob, resumeJob } from '../../../main/jobs/control.js';
import { history } from '../../../main/jobs/checkpoints.js';
import { enqueueJob } from '../../../main/jobs/enqueue.js';
import { JobRunner } from '../../../main/jobs/runner.js';
import type { JobStore } from '../../../main/jobs/store.js';
import { jobIn, openStore, syntheticWorkspace, tinyPretrain, waitFor, WORKER_ENV } from './fixture.js';

/** Pause/resume keeps the step, a damaged latest checkpoint falls back to the previous one, cancel, failure. */
describe('job control with real workers', () => {
  let ws: Awaited<ReturnType<typeof syntheticWorkspace>>;
  let runner: JobRunner;
  let store: JobStore;
  let close: () => void;
  beforeAll(async () => {
    ws = await syntheticWorkspace('control');
    const s = openStore(ws.workspace);
    store = s.store;
    close = () => s.lib.close();
    runner = new JobRunner({ workspace: ws.workspace, pollMs: 100, workerEnv: WORKER_ENV });
    await runner.start();
  });
  afterAll(async () => {
    await runner?.stop();
    close?.();
    ws?.cleanup();
  });

  it('a worker that throws fails its job with the reason in the row and the log', async () => {
    const job = enqueueJob(store, { kind: 'pretrain', params: tinyPretrain(10, { config: { model: { unet: { levels: 0 } } } }) });
    runner.poke();
    const failed = await waitFor('failed', () => jobIn(store, job.id, 'failed', 'done'), 60_000);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/levels must be a positive integer \(got 0\)/);
    expect(failed.finished_at).not.toBeNull();
    expect(readFileSync(store.summary(failed).logPath!, 'utf8')).toMatch(/failed: invalid pretraining configuration: levels must be a positive integer/);
    expect(store.runs(job.id).map((r) => r.status)).toEqual(['failed']);
  }, 90_000);

  it('pause checkpoints and resume continues at the same step; a damaged newest checkpoint falls back; cancel', async () => {
    const job = enqueueJob(store, { kind: 'pretrain', params: tinyPretrain(400) });
    const jobDir = join(ws.workspace, 'jobs', job.id);
    runner.poke();
    await waitFor('step 3', () => (store.get(job.id)!.step >= 3 ? true : null), 60_000, 20);
    pauseJob(store, job.id);
    const p1 = await waitFor('paused', () => jobIn(store, job.id, 'paused', 'failed', 'done'), 60_000);
    expect(p1.status).toBe('paused');
    expect(p1.checkpoint_step).toBe(p1.step);
    expect(history(jobDir)[0]!.step).toBe(p1.step);

    resumeJob(store, job.id);
    await waitFor(`step ${p1.step + 7}`, () => (store.get(job.id)!.step >= p1.step + 7 ? true : null), 60_000, 20);
    const runs1 = store.runs(job.id);
    expect(runs1[1]!.start_step).toBe(p1.step);
    pauseJob(store, job.id);
    const p2 = await waitFor('paused again', () => jobIn(store, job.id, 'paused', 'failed', 'done'), 60_000);
    expect(p2.status).toBe('paused');
    expect(p2.checkpoint_step).toBe(p2.step);

    // Damage the newest checkpoint twice over: the working file cut short, its verified copy bit-flipped.
    const copies = history(jobDir);
    expect(copies.map((c) => c.step)[0]).toBe(p2.step);
    expect(copies).toHaveLength(2);
    const previous = copies[1]!.step;
    expect(previous).toBeLessThan(p2.step);
    const last = join(jobDir, 'last.p2r');
    truncateSync(last, Math.floor(statSync(last).size / 2));
    const bytes = readFileSync(copies[0]!.path);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
    writeFileSync(copies[0]!.path, bytes);

    resumeJob(store, job.id);
    await waitFor(`step ${p2.step + 2}`, () => (store.get(job.id)!.step >= p2.step + 2 ? true : null), 60_000, 20);
    const runs2 = store.runs(job.id);
    expect(runs2[2]!.start_step).toBe(previous);
    const log = readFileSync(store.summary(p2).logPath!, 'utf8');
    expect(log).toMatch(/checkpoint .*last\.p2r not used: .*truncated/);
    expect(log).toMatch(/not used: its checksum does not match/);
    expect(log).toMatch(new RegExp(`resuming from the checkpoint at step ${previous}`));

    cancelJob(store, job.id);
    const c = await waitFor('cancelled', () => jobIn(store, job.id, 'cancelled', 'failed', 'done'), 60_000);
    expect(c.status).toBe('cancelled');
    expect(c.finished_at).not.toBeNull();
    expect(c.worker_pid).toBeNull();
    expect(store.runs(job.id).map((r) => r.status)).toEqual(['paused', 'paused', 'cancelled']);
    // The curve has one point per step up to where it was cancelled, across the three runs.
    const steps = store.progress(job.id).filter((p) => p.kind === 'step').map((p) => p.step);
    expect(steps).toEqual(Array.from({ length: steps.length }, (_, i) => i + 1));
    expect(steps.length).toBeGreaterThanOrEqual(p2.step + 2);
    expect(existsSync(jobDir)).toBe(true);
  }, 200_000);
});
