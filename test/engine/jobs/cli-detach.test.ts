import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidAlive } from '../../../main/jobs/lock.js';
import type { JobStore } from '../../../main/jobs/store.js';
import { openStore, syntheticWorkspace, waitFor, WORKER_ENV, startCli } from './fixture.js';

const children: ChildProcess[] = [];
const cli = (args: string[]) => startCli(args, children);

/** `pix2rep pretrain --detach` and `--at/--until`: queued as jobs, a detached runner started, `jobs wait` follows. */
describe('pix2rep pretrain --detach', () => {
  let ws: Awaited<ReturnType<typeof syntheticWorkspace>>;
  let store: JobStore;
  let close: () => void;
  beforeAll(async () => {
    ws = await syntheticWorkspace('detach');
    const s = openStore(ws.workspace);
    store = s.store;
    close = () => s.lib.close();
  });
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    close?.();
    ws?.cleanup();
  });
  it('pretrain --detach queues a job, starts a runner, and jobs wait follows it to the end (exit 0)', async () => {
    const W = ['--workspace', ws.workspace];
    const q = await cli(['pretrain', '--detach', '--steps', '4', '--batch', '2', '--size', '16', '--out', 'night-model', '--json', ...W]).done;
    expect(q.code).toBe(0);
    const queued = JSON.parse(q.stdout.trim()) as { jobId: string; runnerPid: number; runnerStarted: boolean };
    expect(queued.runnerStarted).toBe(true);
    const wait = await cli(['jobs', 'wait', queued.jobId, ...W]).done;
    expect(wait.stderr + wait.stdout).toMatch(new RegExp(`job ${queued.jobId} done at step 4`));
    expect(wait.code).toBe(0);
    await waitFor('the detached runner to exit when idle', () => !pidAlive(queued.runnerPid), 30_000);
    const done = store.get(queued.jobId)!;
    expect(JSON.parse(done.config)).toMatchObject({ steps: 4, batch: 2, size: 16, out: 'night-model', preset: 'compact' });
    expect(done.model_id).not.toBeNull();

    // A night window: queued with its schedule, waiting; cancelled before it starts.
    const n = await cli(['pretrain', '--at', '22:00', '--until', '07:00', '--epochs', '3', '--json', ...W]).done;
    expect(n.code).toBe(0);
    const night = JSON.parse(n.stdout.trim()) as { jobId: string; runnerPid: number; schedule: { start: string; stop: string } };
    expect(night.schedule).toMatchObject({ start: '22:00', stop: '07:00' });
    const bad = await cli(['pretrain', '--at', '25:00', ...W]).done;
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/HH:MM/);
    expect((await cli(['jobs', 'cancel', night.jobId, ...W]).done).code).toBe(0);
    await waitFor('the runner to exit', () => !pidAlive(night.runnerPid), 30_000);
  }, 240_000);
});
