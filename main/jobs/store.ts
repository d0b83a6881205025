import type Database from 'better-sqlite3';
import { join } from 'node:path';
import type { JobKind, JobProgressPoint, JobSchedule, JobStatus, JobSummary } from '../contract/jobs.js';
import { newId } from '../library/catalog.js';

/**
 * The job queue in the workspace catalogue. Every process that shares the workspace (the app's engine, a CLI
 * runner, `pix2rep jobs pause`) works through these rows: a control request for a running job is written to
 * `requested`, and the runner that owns the worker carries it out on its next poll.
 */

export const COMPUTE_KINDS: readonly string[] = ['pretrain', 'train', 'predict', 'embed'];
export const FINAL: readonly JobStatus[] = ['done', 'failed', 'cancelled'];

export interface JobRow {
  id: string;
  kind: JobKind | 'bench';
  name: string;
  status: JobStatus;
  priority: number;
  seq: number;
  config: string;
  schedule: string | null;
  auto_resume: number;
  requested: 'pause' | 'cancel' | null;
  waiting: string | null;
  progress: number | null;
  step: number;
  total_steps: number | null;
  epoch: number | null;
  checkpoint_step: number | null;
  checkpoint: string | null;
  worker_pid: number | null;
  runner_pid: number | null;
  heartbeat_at: string | null;
  attempts: number;
  error: string | null;
  result: string | null;
  path: string | null;
  log_path: string | null;
  model_id: string | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface NewJob {
  kind: JobKind;
  name?: string;
  params: Record<string, unknown>;
  priority?: number;
  schedule?: JobSchedule | null;
  autoResume?: boolean;
}

export interface ProgressRecord {
  kind: 'step' | 'validation';
  step: number;
  epoch?: number | null;
  loss?: number | null;
  smoothedLoss?: number | null;
  validationLoss?: number | null;
  slicesPerSecond?: number | null;
}

const iso = (t: number = Date.now()) => new Date(t).toISOString();

export class JobStore {
  constructor(
    readonly db: Database.Database,
    readonly root: string,
  ) {}

  create(job: NewJob, now = Date.now()): JobRow {
    const id = newId('job');
    const seq = (this.db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM jobs').get() as { n: number }).n;
    this.db
      .prepare(
        `INSERT INTO jobs (id, kind, name, status, priority, seq, config, schedule, auto_resume, path, log_path, created_at, updated_at)
         VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        job.kind,
        job.name ?? '',
        job.priority ?? 0,
        seq,
        JSON.stringify(job.params),
        job.schedule ? JSON.stringify(job.schedule) : null,
        job.autoResume === false ? 0 : 1,
        `jobs/${id}`,
        `logs/job-${id}.log`,
        iso(now),
        iso(now),
      );
    return this.get(id)!;
  }

  get(id: string): JobRow | null {
    return (this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined) ?? null;
  }

  list(status?: JobStatus[], limit = 1000): JobRow[] {
    if (status && status.length) {
      const q = `SELECT * FROM jobs WHERE status IN (${status.map(() => '?').join(',')}) ORDER BY seq DESC LIMIT ?`;
      return this.db.prepare(q).all(...status, limit) as JobRow[];
    }
    return this.db.prepare('SELECT * FROM jobs ORDER BY seq DESC LIMIT ?').all(limit) as JobRow[];
  }

  /** Queued jobs in the order they may start: priority, then age. */
  queued(): JobRow[] {
    return this.db.prepare("SELECT * FROM jobs WHERE status = 'queued' ORDER BY priority DESC, seq ASC").all() as JobRow[];
  }

  running(): JobRow[] {
    return this.db.prepare("SELECT * FROM jobs WHERE status = 'running' ORDER BY seq").all() as JobRow[];
  }

  /** Update some columns; `updated_at` always moves. */
  update(id: string, fields: Partial<Omit<JobRow, 'id' | 'updated_at'>>): JobRow {
    const keys = Object.keys(fields).filter((k) => (fields as Record<string, unknown>)[k] !== undefined);
    const sets = [...keys.map((k) => `${k} = @${k}`), 'updated_at = @updated_at'];
    this.db.prepare(`UPDATE jobs SET ${sets.join(', ')} WHERE id = @id`).run({ ...fields, id, updated_at: iso() });
    return this.get(id)!;
  }

  /**
   * Change state only if the job is still in one of `from` (another process may have moved it meanwhile);
   * returns the row after the change, or null when nothing changed.
   */
  transition(id: string, from: JobStatus[], fields: Partial<Omit<JobRow, 'id' | 'updated_at'>>): JobRow | null {
    const keys = Object.keys(fields).filter((k) => (fields as Record<string, unknown>)[k] !== undefined);
    const sets = [...keys.map((k) => `${k} = @${k}`), 'updated_at = @updated_at'];
    const r = this.db
      .prepare(`UPDATE jobs SET ${sets.join(', ')} WHERE id = @id AND status IN (${from.map((s) => `'${s}'`).join(',')})`)
      .run({ ...fields, id, updated_at: iso() });
    return r.changes ? this.get(id) : null;
  }

  recordProgress(jobId: string, runId: string | null, p: ProgressRecord, now = Date.now()): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO job_progress (job_id, kind, step, run_id, epoch, loss, smoothed_loss, val_loss, slices_per_s, at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(jobId, p.kind, p.step, runId, p.epoch ?? null, p.loss ?? null, p.smoothedLoss ?? null, p.validationLoss ?? null, p.slicesPerSecond ?? null, iso(now));
  }

  /** Drop progress past `step` (work lost with a crash is redone; its old points must not linger as stale). */
  truncateProgress(jobId: string, step: number): void {
    this.db.prepare('DELETE FROM job_progress WHERE job_id = ? AND step > ?').run(jobId, step);
  }

  progress(jobId: string, afterStep = -1): JobProgressPoint[] {
    const rows = this.db
      .prepare('SELECT * FROM job_progress WHERE job_id = ? AND step > ? ORDER BY step, kind')
      .all(jobId, afterStep) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      kind: r.kind as 'step' | 'validation',
      step: r.step as number,
      epoch: (r.epoch as number | null) ?? null,
      loss: (r.loss as number | null) ?? null,
      smoothedLoss: (r.smoothed_loss as number | null) ?? null,
      validationLoss: (r.val_loss as number | null) ?? null,
      slicesPerSecond: (r.slices_per_s as number | null) ?? null,
      runId: (r.run_id as string | null) ?? null,
      at: r.at as string,
    }));
  }

  startRun(jobId: string, kind: string, workerPid: number | null, startStep: number): string {
    const id = newId('run');
    this.db
      .prepare("INSERT INTO runs (id, job_id, kind, status, worker_pid, start_step, created_at) VALUES (?, ?, ?, 'running', ?, ?, ?)")
      .run(id, jobId, kind, workerPid, startStep, iso());
    return id;
  }

  finishRun(runId: string, status: string, endStep: number, reason: string | null, backend: string | null): void {
    this.db
      .prepare('UPDATE runs SET status = ?, end_step = ?, reason = ?, backend = COALESCE(?, backend), finished_at = ? WHERE id = ?')
      .run(status, endStep, reason, backend, iso(), runId);
  }

  runs(jobId: string): Array<{ id: string; status: string; start_step: number | null; end_step: number | null; reason: string | null; backend: string | null; worker_pid: number | null }> {
    return this.db.prepare('SELECT * FROM runs WHERE job_id = ? ORDER BY created_at, rowid').all(jobId) as never;
  }

  summary(row: JobRow): JobSummary {
    return {
      id: row.id,
      kind: row.kind,
      name: row.name,
      status: row.status,
      priority: row.priority,
      params: parseJson(row.config, {}) as Record<string, unknown>,
      schedule: row.schedule ? (parseJson(row.schedule, null) as JobSchedule | null) : null,
      autoResume: row.auto_resume !== 0,
      requested: row.requested,
      waiting: row.waiting,
      progress: row.progress,
      step: row.step,
      totalSteps: row.total_steps,
      epoch: row.epoch,
      checkpointStep: row.checkpoint_step,
      workerPid: row.worker_pid,
      attempts: row.attempts,
      error: row.error,
      result: row.result ? parseJson(row.result, null) : null,
      logPath: row.log_path ? join(this.root, row.log_path) : null,
      modelId: row.model_id,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
    };
  }
}

function parseJson(s: string, fallback: unknown): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return fallback;
  }
}
