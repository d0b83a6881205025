import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidAlive } from '../../../main/jobs/lock.js';
import { cliWorkspace, waitFor, type CliWorkspace } from './fixture.js';

/** `pix2rep pretrain --detach --workers 2`: the job record carries the worker count and the job trains on 2 workers. */
describe('detached pretraining with --workers', () => {
  let ws: CliWorkspace;
  beforeAll(async () => {
    ws = await cliWorkspace('workers');
  });
  afterAll(() => ws?.close());

  it('queues workers in the job parameters and runs the steps data-parallel on 2 workers', async () => {
    const W = ['--workspace', ws.workspace];
    const q = await ws.cli(['pretrain', '--detach', '--workers', '2', '--steps', '2', '--batch', '2', '--size', '16', '--json', ...W]).done;
    expect(q.stderr).toBe('');
    expect(q.code).toBe(0);
    const queued = JSON.parse(q.stdout.trim()) as { jobId: string; runnerPid: number };
    expect(JSON.parse(ws.store.get(queued.jobId)!.config)).toMatchObject({ workers: 2, steps: 2, batch: 2, size: 16 });
    const wait = await ws.cli(['jobs', 'wait', queued.jobId, ...W]).done;
    expect(wait.code).toBe(0);
    await waitFor('the detached runner to exit when idle', () => !pidAlive(queued.runnerPid), 30_000);
    const done = ws.store.get(queued.jobId)!;
    expect(done.status).toBe('done');
    expect(done.step).toBe(2);
    expect(JSON.parse(done.result!)).toMatchObject({ step: 2, workers: 2 });
    expect(readFileSync(join(ws.root, done.log_path!), 'utf8')).toMatch(/trained data-parallel over 2 workers/);

    const bad = await ws.cli(['pretrain', '--detach', '--workers', '0', ...W]).done;
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--workers must be/);
  }, 240_000);
});
