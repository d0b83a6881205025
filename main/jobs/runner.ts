import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobSchedule, JobSummary } from '../contract/jobs.js';
import { newId } from '../library/catalog.js';
import { openLibrary, type Library } from '../library/library.js';
import { systemClock, type Clock } from './clock.js';
import { acquireLock, pidAlive } from './lock.js';
import { appendLog, exitReason } from './log.js';
import { isWorkerMessage, type StopReason, type WorkerProgress, type WorkerToRunner } from './protocol.js';
import { windowAt } from './schedule.js';
import { COMPUTE_KINDS, JobStore, type JobRow } from './store.js';

export const WORKER_BOOT = join(dirname(fileURLToPath(import.meta.url)), 'worker-boot.mjs');

export type RunnerEvent =
  | { event: 'job.state'; data: { job: JobSummary } }
  | { event: 'job.progress'; data: WorkerProgress & { jobId: string; backend: string | null } }
  | { event: 'library.changed'; data: { reason: string } };

export interface RunnerOptions {
  workspace: string;
  clock?: Clock;
  /** How often the queue, control requests and schedules are checked (clock milliseconds). */
  pollMs?: number;
  /** Compute jobs (pretrain, train, predict, embed) running at once; imports do not count. */
  computeSlots?: number;
  onEvent?: (e: RunnerEvent) => void;
  /** Resolve `idle` once nothing is queued, waiting for a window or running. */
  exitWhenIdle?: boolean;
  /** How long a starting runner waits for a previous runner's orphaned worker to checkpoint and exit. */
  orphanGraceMs?: number;
  /** Time a cancelled worker gets to stop before it is killed. */
  cancelGraceMs?: number;
  /** Extra environment for workers (tests force the compute backend this way). */
  workerEnv?: NodeJS.ProcessEnv;
  /**
   * The worker's entry file. Default: PIX2REP_JOB_WORKER, else worker-boot.mjs next to this module (the sources
   * through tsx). A bundled build (the packaged app) points it at its compiled worker.
   */
  workerEntry?: string;
}

interface Active {
  row: JobRow;
  child: ChildProcess;
  runId: string;
  backend: string | null;
  stopReason: StopReason | null;
  outcome: Extract<WorkerToRunner, { type: 'finished' | 'failed' }> | null;
  closesAt: number | null;
  step: number;
  stderrTail: string;
  killTimer: NodeJS.Timeout | null;
  exited: Promise<void>;
}

const iso = (t: number) => new Date(t).toISOString();
/** Where /proc is missing: a heartbeat older than this (steps block the worker's timers) means the worker is gone. */
const HEARTBEAT_STALE_MS = 10 * 60_000;

/**
 * Whether `pid` is still the worker of job `jobId` (and not an unrelated process that got its pid later): on
 * Linux by the job id in its environment, elsewhere by the age of its last heartbeat.
 */
export function isWorkerOf(pid: number, jobId: string, heartbeatAt: string | null): boolean {
  if (!pidAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`PIX2REP_JOB_ID=${jobId}`);
  } catch {
    const beat = heartbeatAt ? Date.parse(heartbeatAt) : 0;
    return Date.now() - beat < HEARTBEAT_STALE_MS;
  }
}

/**
 * The job runner of one workspace (one per workspace, by a lock file). It starts queued jobs in order of
 * priority then age, each in its own worker process, stores their progress, carries out pause/cancel requests
 * and schedule windows, and on start-up turns jobs whose worker is gone into `interrupted` (resuming them when
 * they allow it).
 */
export class JobRunner {
  readonly clock: Clock;
  private lib: Library | null = null;
  private store: JobStore | null = null;
  private release: (() => void) | null = null;
  private timer: unknown = null;
  private closed = false;
  private ticking = false;
  private readonly active = new Map<string, Active>();
  private idleResolve: (() => void) | null = null;
  readonly idle: Promise<void>;

  constructor(private readonly opts: RunnerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.idle = new Promise((r) => (this.idleResolve = r));
  }

  get jobs(): JobStore {
    if (!this.store) throw new Error('the job runner is not started');
    return this.store;
  }

  /** Take the workspace's runner lock, recover from a previous runner's end, and start polling. */
  async start(): Promise<void> {
    this.lib = openLibrary(this.opts.workspace);
    try {
      this.release = acquireLock(join(this.lib.layout.jobs, 'runner.lock'));
    } catch (err) {
      this.lib.close();
      this.lib = null;
      throw err;
    }
    this.store = new JobStore(this.lib.db, this.lib.layout.root);
    await this.recover();
    this.tick();
  }

  /** Check the queue now (after a change made in this process). */
  poke(): void {
    if (this.closed || !this.store) return;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.tick();
  }

  /** Stop every worker (each checkpoints; its job becomes interrupted and resumes at the next start), then unlock. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    const exits = [...this.active.values()].map((a) => {
      this.requestStop(a, 'shutdown');
      return a.exited;
    });
    await Promise.all(exits);
    this.release?.();
    this.lib?.close();
    this.idleResolve?.();
  }

  private log(row: JobRow, line: string): void {
    if (row.log_path && this.lib) appendLog(join(this.lib.layout.root, row.log_path), line, Date.now());
  }

  private emitState(row: JobRow): void {
    this.emit({ event: 'job.state', data: { job: this.jobs.summary(row) } });
  }

  /** A listener that throws (an event its schema rejects) must not take the runner and its host down. */
  private emit(e: RunnerEvent): void {
    try {
      this.opts.onEvent?.(e);
    } catch (err) {
      process.stderr.write(`job runner: ${e.event} listener failed: ${(err as Error).message}\n`);
    }
  }

  private async recover(): Promise<void> {
    const store = this.jobs;
    const grace = this.opts.orphanGraceMs ?? 60_000;
    for (const row of store.running()) {
      // A worker of a runner that died notices the lost channel (after its current step), checkpoints and exits:
      // give it time, so that two workers never write the same job's checkpoints.
      if (row.worker_pid && row.worker_pid !== process.pid && isWorkerOf(row.worker_pid, row.id, row.heartbeat_at)) {
        const t0 = Date.now();
        while (pidAlive(row.worker_pid) && Date.now() - t0 < grace) await new Promise((r) => setTimeout(r, 200));
      }
      const reason = row.runner_pid && row.runner_pid !== process.pid
        ? `the job's runner (pid ${row.runner_pid}) stopped while the job ran`
        : 'the job was running when its runner stopped';
      const next = row.requested === 'cancel' ? 'cancelled' : row.requested === 'pause' ? 'paused' : 'interrupted';
      const r = store.transition(row.id, ['running'], {
        status: next,
        requested: null,
        worker_pid: null,
        error: next === 'interrupted' ? reason : null,
        ...(next === 'cancelled' ? { finished_at: iso(this.clock.now()) } : {}),
      });
      for (const run of store.runs(row.id).filter((x) => x.status === 'running')) store.finishRun(run.id, next, row.step, reason, null);
      if (r) {
        this.log(r, `${reason}: the job is ${next}`);
        this.emitState(r);
      }
    }
    for (const row of store.list(['interrupted'])) {
      if (!row.auto_resume) continue;
      const r = store.transition(row.id, ['interrupted'], { status: 'queued', waiting: null });
      if (r) {
        this.log(r, `resuming automatically from the checkpoint at step ${row.checkpoint_step ?? 0}`);
        this.emitState(r);
      }
    }
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.tick();
    }, this.opts.pollMs ?? 500);
  }

  private tick(): void {
    if (this.closed || this.ticking) return;
    this.ticking = true;
    try {
      this.step();
    } catch (err) {
      // A locked database or a bad row must not stop the runner; the next poll tries again.
      process.stderr.write(`job runner: ${(err as Error).message}\n`);
    } finally {
      this.ticking = false;
    }
    this.schedule();
  }

  private step(): void {
    const store = this.jobs;
    const now = this.clock.now();
    // Requests and windows of the jobs this runner is running.
    for (const a of this.active.values()) {
      const row = store.get(a.row.id);
      if (!row) continue;
      if (row.requested && a.stopReason === null) this.requestStop(a, row.requested);
      else if (a.closesAt !== null && now >= a.closesAt && a.stopReason === null) {
        this.log(row, `its time window closed at ${iso(a.closesAt)}: checkpointing and stopping until the next window`);
        this.requestStop(a, 'window');
      }
    }
    let computeBusy = [...this.active.values()].filter((a) => COMPUTE_KINDS.includes(a.row.kind)).length;
    const slots = this.opts.computeSlots ?? 1;
    for (const row of store.queued()) {
      const w = windowAt(row.schedule ? (JSON.parse(row.schedule) as JobSchedule) : null, now);
      if (!w.open) {
        if (w.opensAt === null) {
          const r = store.transition(row.id, ['queued'], { status: 'paused', waiting: w.reason });
          if (r) {
            this.log(r, `paused: ${w.reason}`);
            this.emitState(r);
          }
        } else if (row.waiting !== w.reason) {
          this.emitState(store.update(row.id, { waiting: w.reason }));
        }
        continue;
      }
      const compute = COMPUTE_KINDS.includes(row.kind);
      if (compute && computeBusy >= slots) {
        const why = 'waits for the running job to finish';
        if (row.waiting !== why) store.update(row.id, { waiting: why });
        continue;
      }
      if (this.launch(row, w.closesAt) && compute) computeBusy++;
    }
    if (this.opts.exitWhenIdle && this.active.size === 0 && store.queued().length === 0) this.idleResolve?.();
  }

  private launch(row: JobRow, closesAt: number | null): boolean {
    const store = this.jobs;
    const now = this.clock.now();
    const claimed = store.transition(row.id, ['queued'], {
      status: 'running',
      waiting: null,
      error: null,
      requested: null,
      attempts: row.attempts + 1,
      runner_pid: process.pid,
      heartbeat_at: iso(now),
      ...(row.started_at ? {} : { started_at: iso(now) }),
    });
    if (!claimed) return false;
    const root = this.lib!.layout.root;
    const jobDir = join(root, claimed.path ?? `jobs/${claimed.id}`);
    mkdirSync(jobDir, { recursive: true });
    const child = fork(this.opts.workerEntry ?? process.env.PIX2REP_JOB_WORKER ?? WORKER_BOOT, [], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, ...this.opts.workerEnv, PIX2REP_JOB_ID: claimed.id },
      // The host's own flags (a test runner's, an inspector) are not the worker's business.
      execArgv: [],
      serialization: 'json',
    });
    let resolveExit!: () => void;
    const a: Active = {
      row: claimed,
      child,
      runId: newId('run'),
      backend: null,
      stopReason: null,
      outcome: null,
      closesAt,
      step: claimed.checkpoint_step ?? 0,
      stderrTail: '',
      killTimer: null,
      exited: new Promise((r) => (resolveExit = r)),
    };
    a.runId = store.startRun(claimed.id, claimed.kind, child.pid ?? null, a.step);
    this.active.set(claimed.id, a);
    const running = store.update(claimed.id, { worker_pid: child.pid ?? null });
    this.log(running, `started (attempt ${running.attempts}) in worker pid ${child.pid}${closesAt ? `, until ${iso(closesAt)}` : ''}`);
    this.emitState(running);

    child.stdout?.setEncoding('utf8').on('data', (s: string) => this.log(a.row, s));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      a.stderrTail = (a.stderrTail + s).slice(-4000);
      this.log(a.row, s.replace(/^/gm, '[stderr] '));
    });
    child.on('message', (m: unknown) => {
      if (isWorkerMessage(m)) this.onMessage(a, m);
    });
    const ended = (code: number | null, signal: NodeJS.Signals | null) => {
      try {
        this.onExit(a, code, signal);
      } finally {
        resolveExit();
        this.poke();
      }
    };
    child.on('error', (err) => {
      this.log(a.row, `worker process error: ${err.message}`);
      // A worker that could not be started at all never emits 'close'.
      if (child.pid === undefined) {
        a.stderrTail += err.message;
        ended(1, null);
      }
    });
    // 'close', not 'exit': it comes after the worker's last IPC message and output have been read.
    child.on('close', (code, signal) => {
      ended(code, signal);
    });
    child.send({ type: 'start', job: { id: claimed.id, kind: claimed.kind, params: JSON.parse(claimed.config) as Record<string, unknown>, workspace: root, jobDir } });
    return true;
  }

  private requestStop(a: Active, reason: StopReason): void {
    if (a.stopReason === null || reason === 'cancel') a.stopReason = reason;
    if (a.child.connected) a.child.send({ type: 'stop', reason });
    if (reason === 'cancel' && !a.killTimer) {
      // A cancelled job need not checkpoint: if it does not stop soon, end it.
      a.killTimer = setTimeout(() => a.child.kill('SIGKILL'), this.opts.cancelGraceMs ?? 30_000);
      a.killTimer.unref();
    }
  }

  private onMessage(a: Active, m: WorkerToRunner): void {
    const store = this.jobs;
    const id = a.row.id;
    const now = this.clock.now();
    switch (m.type) {
      case 'started':
        a.backend = m.backend;
        a.step = m.resumedFrom;
        // Points past the checkpoint belong to work the crash lost; they are redone and re-recorded.
        store.truncateProgress(id, m.resumedFrom);
        a.row = store.update(id, { step: m.resumedFrom, heartbeat_at: iso(now) });
        this.jobs.db.prepare('UPDATE runs SET backend = ?, start_step = ? WHERE id = ?').run(m.backend, m.resumedFrom, a.runId);
        this.log(a.row, `worker ready on ${m.backend ?? 'no compute backend'}, ${m.resumedFrom ? `resuming at step ${m.resumedFrom}` : 'from the start'}`);
        break;
      case 'progress': {
        const p = m.progress;
        a.step = p.step;
        store.recordProgress(id, a.runId, p, now);
        const total = p.totalSteps;
        a.row = store.update(id, {
          step: p.step,
          total_steps: total,
          epoch: p.epoch,
          progress: total ? Math.min(1, p.step / total) : null,
          heartbeat_at: iso(now),
        });
        this.emit({ event: 'job.progress', data: { ...p, jobId: id, backend: a.backend } });
        break;
      }
      case 'checkpoint':
        a.row = store.update(id, { checkpoint_step: m.step, checkpoint: relative(this.lib!.layout.root, m.path), heartbeat_at: iso(now) });
        this.log(a.row, `checkpoint at step ${m.step}`);
        break;
      case 'log':
        this.log(a.row, m.line);
        break;
      case 'heartbeat':
        store.update(id, { heartbeat_at: iso(now) });
        break;
      case 'finished':
      case 'failed':
        a.outcome = m;
        break;
    }
  }

  private onExit(a: Active, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.active.get(a.row.id) !== a) return;
    if (a.killTimer) clearTimeout(a.killTimer);
    this.active.delete(a.row.id);
    if (!this.lib) return;
    const store = this.jobs;
    const now = iso(this.clock.now());
    const row = store.get(a.row.id);
    if (!row) return;
    const reason = a.stopReason ?? row.requested;
    let status: JobRow['status'];
    let error: string | null = null;
    let result: string | null = null;
    let finished = false;
    const o = a.outcome;
    if (o?.type === 'finished' && o.outcome === 'completed') {
      status = 'done';
      finished = true;
      result = o.result !== undefined ? JSON.stringify(o.result) : null;
    } else if (reason === 'cancel') {
      status = 'cancelled';
      finished = true;
    } else if (o?.type === 'failed') {
      status = 'failed';
      finished = true;
      error = o.message;
    } else if (o?.type === 'finished') {
      status = reason === 'pause' ? 'paused' : reason === 'window' ? 'queued' : 'interrupted';
      if (status === 'interrupted') error = 'the job runner shut down while the job ran';
    } else {
      const why = exitReason(code, signal, a.stderrTail);
      status = why.retryable ? 'interrupted' : 'failed';
      finished = status === 'failed';
      error = why.reason;
    }
    const end = store.update(row.id, {
      status,
      error,
      requested: null,
      worker_pid: null,
      ...(result !== null ? { result, progress: 1 } : {}),
      ...(finished ? { finished_at: now } : {}),
    });
    store.finishRun(a.runId, status, a.step, error ?? (reason ? `stopped (${reason})` : null), a.backend);
    let final = end;
    if (status === 'done' && row.kind === 'pretrain') final = this.registerModel(end);
    // A training worker saved its model itself; the job points at it.
    if (status === 'done' && row.kind === 'train') {
      const modelId = (o?.type === 'finished' ? (o.result as { modelId?: unknown } | undefined)?.modelId : undefined);
      if (typeof modelId === 'string') final = this.jobs.update(row.id, { model_id: modelId });
    }
    const words: Record<string, string> = {
      done: 'finished',
      cancelled: 'cancelled',
      failed: `failed: ${error}`,
      paused: `paused at step ${a.step} (checkpoint at step ${final.checkpoint_step ?? 0})`,
      queued: `stopped for the night at step ${a.step}; continues in the next window`,
      interrupted: `interrupted: ${error}; the last checkpoint is at step ${final.checkpoint_step ?? 0}`,
    };
    this.log(final, words[status] ?? status);
    this.emitState(final);
    // The worker wrote the catalogue; views of this engine listing studies or models must refresh.
    if (status === 'done' && ['import', 'pretrain', 'train', 'predict'].includes(row.kind)) this.emit({ event: 'library.changed', data: { reason: `${row.kind} job` } });
  }

  /** A finished pretraining becomes a model of the library, pointing at the job's checkpoints. */
  private registerModel(row: JobRow): JobRow {
    const params = JSON.parse(row.config) as { out?: string };
    const res = row.result ? (JSON.parse(row.result) as { bestValidationLoss?: number | null; lastLoss?: number | null; step?: number; config?: unknown }) : {};
    const id = newId('model');
    const now = iso(this.clock.now());
    this.jobs.db
      .prepare("INSERT INTO models (id, name, kind, status, config, metrics, path, created_at, updated_at) VALUES (?, ?, 'pretrain', 'ready', ?, ?, ?, ?, ?)")
      .run(
        id,
        params.out ?? (row.name || `pretrain ${row.id}`),
        JSON.stringify(res.config ?? {}),
        JSON.stringify({ bestValidationLoss: res.bestValidationLoss ?? null, lastLoss: res.lastLoss ?? null, steps: res.step ?? row.step }),
        row.path,
        now,
        now,
      );
    return this.jobs.update(row.id, { model_id: id });
  }
}
