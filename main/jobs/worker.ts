/**
 * Entry of a job's worker process (started by the runner with child_process.fork, see worker-boot.mjs). One
 * job per process: a crash here (out of memory, a native fault, SIGKILL) ends this process only, and the
 * runner records why. The worker never writes the job's row; it reports over IPC.
 */
import type { RunnerToWorker, StopReason, WorkerToRunner } from './protocol.js';
import { embedTask } from './tasks/embed.js';
import { importTask } from './tasks/import.js';
import { predictTask } from './tasks/predict.js';
import { pretrainTask } from './tasks/pretrain.js';
import type { Task } from './tasks/task.js';
import { trainTask } from './tasks/train.js';

const TASKS: Record<string, Task> = { pretrain: pretrainTask, import: importTask, train: trainTask, predict: predictTask, embed: embedTask };
const HEARTBEAT_MS = 5_000;
/** After the runner went away: time to write the checkpoint before giving up. */
const ORPHAN_GRACE_MS = 120_000;

if (!process.send) {
  process.stderr.write('the job worker must be started by the job runner (child_process.fork)\n');
  process.exit(2);
}

const stop = new AbortController();
let stopReason: StopReason | null = null;
let started = false;

function send(m: WorkerToRunner, then?: () => void): void {
  if (!process.connected) {
    then?.();
    return;
  }
  process.send!(m, undefined, {}, () => then?.());
}

function requestStop(reason: StopReason): void {
  if (stopReason === null) stopReason = reason;
  stop.abort();
}

const heartbeat = setInterval(() => send({ type: 'heartbeat' }), HEARTBEAT_MS);
heartbeat.unref();

process.on('disconnect', () => {
  // The runner died: checkpoint and leave, so the next runner finds the job interrupted and resumable.
  requestStop('shutdown');
  setTimeout(() => process.exit(3), ORPHAN_GRACE_MS).unref();
  if (!started) process.exit(0);
});

process.on('message', (raw: unknown) => {
  const m = raw as RunnerToWorker;
  if (!m || typeof m !== 'object') return;
  if (m.type === 'stop') requestStop(m.reason);
  else if (m.type === 'start' && !started) {
    started = true;
    void run(m);
  }
});

async function run(m: Extract<RunnerToWorker, { type: 'start' }>): Promise<void> {
  const { job } = m;
  const task = TASKS[job.kind];
  const finish = (msg: WorkerToRunner) => {
    clearInterval(heartbeat);
    send(msg, () => process.exit(0));
    // If the channel is gone the callback may never come.
    setTimeout(() => process.exit(0), 5_000).unref();
  };
  if (!task) {
    finish({ type: 'failed', message: `${job.kind} jobs cannot run in this version of Pix2Rep (no worker task for them yet)` });
    return;
  }
  try {
    const out = await task({
      job,
      signal: stop.signal,
      send: (msg) => send(msg),
      log: (line) => send({ type: 'log', line }),
    });
    finish({ type: 'finished', outcome: out.outcome, step: out.step, ...(out.result !== undefined ? { result: out.result } : {}) });
  } catch (err) {
    const message = err instanceof Error ? err.message || err.name : typeof err === 'string' ? err : JSON.stringify(err);
    finish({ type: 'failed', message });
  }
}
