import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidAlive } from '../../../../main/jobs/lock.js';
import { cliWorkspace, waitFor, type CliWorkspace } from '../../jobs/fixture.js';

/** A pretraining job says what one night buys before its first step (issue 10), in its log. */
describe('pretraining job: expectation before the run', () => {
  let ws: CliWorkspace;
  beforeAll(async () => {
    ws = await cliWorkspace('expectation');
  });
  afterAll(() => ws?.close());

  it('logs steps and epochs of one night from the bench step time', async () => {
    const W = ['--workspace', ws.workspace];
    const q = await ws.cli(['pretrain', '--detach', '--steps', '1', '--batch', '2', '--size', '16', '--json', ...W]).done;
    expect(q.code).toBe(0);
    const queued = JSON.parse(q.stdout.trim()) as { jobId: string; runnerPid: number };
    expect((await ws.cli(['jobs', 'wait', queued.jobId, ...W]).done).code).toBe(0);
    await waitFor('the detached runner to exit when idle', () => !pidAlive(queued.runnerPid), 30_000);
    const log = readFileSync(join(ws.root, ws.store.get(queued.jobId)!.log_path!), 'utf8');
    // Compact U-Net, batch 2 at 16²: 5.42 s · (2/8) · (16²/128²) = 0.021171875 s/step; 22:00–07:00 = 32400 s → 1,530,332 steps.
    const m = /expectation: one night on this CPU \(9\.0 h\): about 1,530,332 steps, ([0-9.]+) epochs of (\d+) training slices, at 0\.02 s\/step \(bench reference\)/.exec(log);
    expect(m).not.toBeNull();
    const slices = Number(m![2]);
    expect(Number(m![1])).toBeCloseTo(1530332 / Math.floor(slices / 2), 1);
    expect(log.indexOf('expectation:')).toBeLessThan(log.search(/finished at step 1/));
  }, 240_000);
});
