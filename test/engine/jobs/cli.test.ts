import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueJob } from '../../../main/jobs/enqueue.js';
import { pidAlive } from '../../../main/jobs/lock.js';
import type { JobStore } from '../../../main/jobs/store.js';
import { jobIn, openStore, syntheticWorkspace, tinyPretrain, waitFor, WORKER_ENV, startCli } from './fixture.js';

const children: ChildProcess[] = [];
const cli = (args: string[]) => startCli(args, children);

/**
 * The command line over a real runner process: the whole runner (the app) is SIGKILLed mid-run; its worker
 * notices, checkpoints and exits; the next runner finds the job interrupted, resumes it from that checkpoint
 * without losing a step; `jobs cancel` and `jobs wait` end it with the documented exit code.
 */
describe('pix2rep jobs (runner process killed, restarted; list, cancel, wait)', () => {
  let ws: Awaited<ReturnType<typeof syntheticWorkspace>>;
  let store: JobStore;
  let close: () => void;
  beforeAll(async () => {
    ws = await syntheticWorkspace('cli');
    const s = openStore(ws.workspace);
    store = s.store;
    close = () => s.lib.close();
  });
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    close?.();
    ws?.cleanup();
  });

  it('a killed runner loses no step; the next runner resumes; cancel → wait exits 3', async () => {
    const W = ['--workspace', ws.workspace];
    const job = enqueueJob(store, { kind: 'pretrain', params: tinyPretrain(2000, { checkpointEverySteps: 1000 }) });
    const list = await cli(['jobs', 'list', '--json', ...W]).done;
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).jobs.map((j: { id: string; status: string }) => [j.id, j.status])).toEqual([[job.id, 'queued']]);

    const a = cli(['jobs', 'runner', ...W]);
    const running = await waitFor('step 3', () => {
      const r = store.get(job.id)!;
      if (r.status === 'failed') throw new Error(r.error ?? 'failed');
      return r.status === 'running' && r.step >= 3 && r.worker_pid ? r : null;
    }, 90_000, 20);
    const worker = running.worker_pid!;
    a.child.kill('SIGKILL');
    await a.done;
    const stepAtKill = store.get(job.id)!.step;
    // The orphaned worker checkpoints and leaves on its own.
    await waitFor('the orphaned worker to exit', () => !pidAlive(worker), 60_000);
    expect(store.get(job.id)!.status).toBe('running');

    const b = cli(['jobs', 'runner', '--exit-when-idle', ...W]);
    await waitFor('resumed', () => (store.runs(job.id).length === 2 && store.runs(job.id)[1]!.backend ? true : null), 90_000);
    const runs = store.runs(job.id);
    expect(runs[0]).toMatchObject({ status: 'interrupted' });
    expect(runs[0]!.reason).toMatch(/runner \(pid \d+\) stopped while the job ran/);
    expect(runs[1]!.start_step!).toBeGreaterThanOrEqual(stepAtKill);

    const cancel = await cli(['jobs', 'cancel', job.id, ...W]).done;
    expect(cancel.code).toBe(0);
    const wait = await cli(['jobs', 'wait', job.id, '--json', ...W]).done;
    expect(wait.code).toBe(3);
    expect(JSON.parse(wait.stdout.trim().split('\n').pop()!)).toMatchObject({ event: 'end', id: job.id, status: 'cancelled' });
    const rb = await b.done;
    expect(rb.code).toBe(0);
    expect(rb.stdout).toMatch(new RegExp(`${job.id} cancelled`));
    expect(jobIn(store, job.id, 'cancelled')).not.toBeNull();
    const bad = await cli(['jobs', 'pause', 'job-nope', ...W]).done;
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/no job job-nope/);
  }, 240_000);

});
