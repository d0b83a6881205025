import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobScheduleInput } from '../contract/jobs.js';
import { openLibrary } from '../library/library.js';
import { enqueueJob } from '../jobs/enqueue.js';
import { lockOwner } from '../jobs/lock.js';
import { JobStore } from '../jobs/store.js';
import { UsageError } from './command.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'pix2rep.js');

/**
 * Make sure a job runner serves the workspace: the live owner of the runner lock, or a new `pix2rep jobs
 * runner --exit-when-idle` started detached from this terminal (its output goes to logs/runner.log). Returns
 * the runner's pid and whether it was started now.
 */
export function ensureRunner(workspace: string): { pid: number; started: boolean } {
  const lib = openLibrary(workspace);
  const { jobs, logs } = lib.layout;
  lib.close();
  const owner = lockOwner(join(jobs, 'runner.lock'));
  if (owner) return { pid: owner, started: false };
  const out = openSync(join(logs, 'runner.log'), 'a');
  try {
    const child = spawn(process.execPath, [BIN, 'jobs', 'runner', '--exit-when-idle', '--workspace', workspace], {
      detached: true,
      stdio: ['ignore', out, out],
      env: process.env,
    });
    child.unref();
    return { pid: child.pid ?? 0, started: true };
  } finally {
    closeSync(out);
  }
}

/** Queue a pretraining job (the `pix2rep pretrain --detach` path) and make sure a runner will run it. */
export function queuePretrain(
  workspace: string,
  params: Record<string, unknown>,
  schedule: JobScheduleInput | undefined,
  opts: { name?: string; priority?: number; runner?: boolean } = {},
): { jobId: string; runnerPid: number | null; runnerStarted: boolean; schedule: unknown } {
  const lib = openLibrary(workspace);
  let jobId: string;
  let sched: unknown;
  try {
    const store = new JobStore(lib.db, lib.layout.root);
    const row = enqueueJob(store, {
      kind: 'pretrain',
      params,
      ...(opts.name ? { name: opts.name } : {}),
      ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
      ...(schedule ? { schedule } : {}),
    });
    jobId = row.id;
    sched = store.summary(row).schedule;
  } finally {
    lib.close();
  }
  if (opts.runner === false) return { jobId, runnerPid: null, runnerStarted: false, schedule: sched };
  const r = ensureRunner(workspace);
  return { jobId, runnerPid: r.pid, runnerStarted: r.started, schedule: sched };
}

/**
 * `pix2rep pretrain … --detach` and `--at HH:MM [--until HH:MM]`: the same options, queued as a job instead of
 * run in this terminal. Prints the job id (or a JSON object with --json) and returns the exit code.
 */
export function detachPretrain(values: {
  workspace?: string | undefined;
  json?: boolean | undefined;
  method?: string | undefined;
  preset?: string | undefined;
  steps?: string | undefined;
  epochs?: string | undefined;
  batch?: string | undefined;
  size?: string | undefined;
  seed?: string | undefined;
  out?: string | undefined;
  data?: string | undefined;
  at?: string | undefined;
  until?: string | undefined;
  priority?: string | undefined;
  'checkpoint-minutes'?: string | undefined;
  workers?: string | undefined;
}, workspace: string): number {
  if (values.data) throw new UsageError('--detach trains on the workspace library; import the data first (pix2rep import DIR) instead of --data');
  const int = (name: string, v: string | undefined, min = 1) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${v}"`);
    return n;
  };
  const seed = int('seed', values.seed, 0);
  const minutes = values['checkpoint-minutes'] === undefined ? undefined : Number(values['checkpoint-minutes']);
  if (minutes !== undefined && !(minutes > 0)) throw new UsageError(`--checkpoint-minutes must be a positive number, got "${values['checkpoint-minutes']}"`);
  const params: Record<string, unknown> = {
    preset: values.preset ?? 'compact',
    method: values.method ?? 'pix2rep',
    ...(values.steps !== undefined ? { steps: int('steps', values.steps) } : {}),
    ...(values.epochs !== undefined ? { epochs: int('epochs', values.epochs) } : {}),
    ...(values.batch !== undefined ? { batch: int('batch', values.batch) } : {}),
    ...(values.size !== undefined ? { size: int('size', values.size) } : {}),
    ...(values.workers !== undefined ? { workers: int('workers', values.workers) } : {}),
    ...(values.out !== undefined ? { out: values.out } : {}),
    ...(minutes !== undefined ? { checkpointMinutes: minutes } : {}),
    ...(seed !== undefined ? { config: { train: { seed } } } : {}),
  };
  const schedule = values.at || values.until ? { ...(values.at ? { start: values.at } : {}), ...(values.until ? { stop: values.until } : {}) } : undefined;
  let q;
  try {
    q = queuePretrain(workspace, params, schedule, { ...(values.priority !== undefined ? { priority: int('priority', values.priority, -1000) } : {}) });
  } catch (err) {
    if ((err as { code?: string }).code === 'BAD_INPUT') throw new UsageError((err as Error).message);
    throw err;
  }
  if (values.json) process.stdout.write(JSON.stringify({ event: 'queued', jobId: q.jobId, schedule: q.schedule, runnerPid: q.runnerPid, runnerStarted: q.runnerStarted }) + '\n');
  else {
    const runner = q.runnerStarted ? `started a job runner (pid ${q.runnerPid})` : `the job runner (pid ${q.runnerPid}) will run it`;
    process.stderr.write(`queued pretraining job; ${runner}. Follow it with: pix2rep jobs wait ${q.jobId}\n`);
    process.stdout.write(q.jobId + '\n');
  }
  return 0;
}
