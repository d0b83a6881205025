import { EngineFailure } from '../engine/errors.js';
import type { JobSchedule, JobStatus } from '../contract/jobs.js';
import { appendLog } from './log.js';
import type { JobRow, JobStore } from './store.js';
import { join } from 'node:path';

/**
 * Pause, resume, cancel and priority changes, as row updates any process may make. A job that is running is
 * only asked (`requested`): the runner owning its worker stops it and records the outcome.
 */

function must(store: JobStore, id: string): JobRow {
  const row = store.get(id);
  if (!row) throw new EngineFailure('NOT_FOUND', `no job ${id}`);
  return row;
}

function note(store: JobStore, row: JobRow, line: string): void {
  if (row.log_path) appendLog(join(store.root, row.log_path), line);
}

/** Retry a row update that lost a race with the runner (it moved the job between our read and our write). */
function settle(store: JobStore, id: string, attempt: (row: JobRow) => JobRow | null): JobRow {
  for (let i = 0; i < 5; i++) {
    const out = attempt(must(store, id));
    if (out) return out;
  }
  throw new EngineFailure('INTERNAL', `job ${id} kept changing state; try again`);
}

export function pauseJob(store: JobStore, id: string): JobRow {
  return settle(store, id, (row) => {
    switch (row.status) {
      case 'paused':
        return row;
      case 'queued':
      case 'interrupted': {
        const r = store.transition(id, [row.status], { status: 'paused', waiting: null });
        if (r) note(store, r, 'paused by the user');
        return r;
      }
      case 'running': {
        if (row.requested === 'cancel') return row;
        const r = store.transition(id, ['running'], { requested: 'pause' });
        if (r) note(store, r, 'pause requested: the worker checkpoints and stops');
        return r;
      }
      default:
        throw new EngineFailure('BAD_INPUT', `job ${id} is ${row.status}; only a queued, running or interrupted job can be paused`);
    }
  });
}

export function resumeJob(store: JobStore, id: string, now = Date.now()): JobRow {
  return settle(store, id, (row) => {
    switch (row.status) {
      case 'queued':
        return row;
      case 'running':
        // A pause that has not happened yet is simply withdrawn.
        return row.requested === 'pause' ? store.transition(id, ['running'], { requested: null }) : row;
      case 'paused':
      case 'interrupted': {
        let schedule = row.schedule;
        const s = schedule ? (JSON.parse(schedule) as JobSchedule) : null;
        // A stop-only schedule that has ended would pause the job again at once: resuming lifts it.
        if (s && s.notAfter !== null && s.notAfter <= now) schedule = null;
        const r = store.transition(id, [row.status], { status: 'queued', requested: null, error: null, waiting: null, schedule });
        if (r) note(store, r, `resumed by the user (continues from the checkpoint at step ${row.checkpoint_step ?? 0})`);
        return r;
      }
      default:
        throw new EngineFailure('BAD_INPUT', `job ${id} is ${row.status}; only a paused or interrupted job can be resumed`);
    }
  });
}

export function cancelJob(store: JobStore, id: string, now = Date.now()): JobRow {
  return settle(store, id, (row) => {
    switch (row.status) {
      case 'cancelled':
        return row;
      case 'queued':
      case 'paused':
      case 'interrupted': {
        const r = store.transition(id, [row.status], { status: 'cancelled', waiting: null, finished_at: new Date(now).toISOString() });
        if (r) note(store, r, 'cancelled by the user');
        return r;
      }
      case 'running': {
        const r = store.transition(id, ['running'], { requested: 'cancel' });
        if (r) note(store, r, 'cancel requested');
        return r;
      }
      default:
        throw new EngineFailure('BAD_INPUT', `job ${id} is already ${row.status}`);
    }
  });
}

export function setPriority(store: JobStore, id: string, priority: number): JobRow {
  const row = must(store, id);
  const final: JobStatus[] = ['done', 'failed', 'cancelled'];
  if (final.includes(row.status)) throw new EngineFailure('BAD_INPUT', `job ${id} is ${row.status}; its priority no longer matters`);
  return store.update(id, { priority });
}
