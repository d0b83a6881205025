import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine } from '../../../main/engine/create.js';
import { EngineFailure } from '../../../main/engine/errors.js';
import { ManualClock } from '../../../main/jobs/clock.js';
import { cancelJob, pauseJob, resumeJob, setPriority } from '../../../main/jobs/control.js';
import { enqueueJob } from '../../../main/jobs/enqueue.js';
import { acquireLock, RunnerLockedError } from '../../../main/jobs/lock.js';
import { exitReason } from '../../../main/jobs/log.js';
import { isWorkerOf, JobRunner } from '../../../main/jobs/runner.js';
import { attachRunner } from '../../../main/jobs/index.js';
import { nextAt, resolveSchedule, windowAt } from '../../../main/jobs/schedule.js';
import { openStore } from './fixture.js';

const at = (day: number, h: number, m = 0) => new Date(2026, 0, day, h, m, 0, 0).getTime();

const dirs: string[] = [];
function tempWorkspace(): string {
  const d = mkdtempSync(join(tmpdir(), 'p2r-queue-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid!;
}

describe('schedule windows', () => {
  it('nextAt finds the next local time of day', () => {
    expect(nextAt('22:00', at(10, 21, 59))).toBe(at(10, 22));
    expect(nextAt('22:00', at(10, 22))).toBe(at(11, 22));
    expect(nextAt('22:00', at(10, 22), true)).toBe(at(10, 22));
    expect(nextAt('7:05', at(10, 22))).toBe(at(11, 7, 5));
    expect(() => nextAt('25:00', 0)).toThrow(/not a time of day/);
  });

  it('a 22:00–07:00 window wraps midnight: start minute inside, stop minute outside', () => {
    const s = resolveSchedule({ start: '22:00', stop: '07:00' }, at(10, 12))!;
    expect(s).toEqual({ start: '22:00', stop: '07:00', notBefore: at(10, 22), notAfter: null });
    expect(windowAt(s, at(10, 21, 59))).toMatchObject({ open: false, opensAt: at(10, 22) });
    expect(windowAt(s, at(10, 22))).toEqual({ open: true, closesAt: at(11, 7) });
    expect(windowAt(s, at(11, 3))).toEqual({ open: true, closesAt: at(11, 7) });
    expect(windowAt(s, at(11, 7))).toMatchObject({ open: false, opensAt: at(11, 22) });
    expect(windowAt(s, at(12, 6, 59))).toEqual({ open: true, closesAt: at(12, 7) });
  });

  it('a daytime window, a start alone, a stop alone, an empty window', () => {
    const day = resolveSchedule({ start: '09:00', stop: '17:30' }, at(10, 12))!;
    // Queued at noon inside the window: the first run still waits for a start (the next 09:00).
    expect(windowAt(day, at(10, 12))).toMatchObject({ open: false, opensAt: at(11, 9) });
    expect(windowAt(day, at(11, 12))).toEqual({ open: true, closesAt: at(11, 17, 30) });
    const startOnly = resolveSchedule({ start: '01:00' }, at(10, 12))!;
    expect(windowAt(startOnly, at(11, 0, 59)).open).toBe(false);
    expect(windowAt(startOnly, at(15, 12))).toEqual({ open: true, closesAt: null });
    const stopOnly = resolveSchedule({ stop: '07:00' }, at(10, 23))!;
    expect(windowAt(stopOnly, at(10, 23))).toEqual({ open: true, closesAt: at(11, 7) });
    expect(windowAt(stopOnly, at(11, 7))).toMatchObject({ open: false, opensAt: null });
    expect(resolveSchedule({}, 0)).toBeNull();
    expect(() => resolveSchedule({ start: '22:00', stop: '22:00' }, 0)).toThrow(/empty/);
  });

  it('ManualClock jumps: due timers fire once in order; re-armed timers count from the new time', () => {
    const c = new ManualClock(1000);
    const fired: string[] = [];
    const poll = () => {
      fired.push(`poll@${c.now()}`);
      c.setTimeout(poll, 100);
    };
    c.setTimeout(poll, 100);
    c.setTimeout(() => fired.push('b'), 50);
    const h = c.setTimeout(() => fired.push('never'), 60);
    c.clearTimeout(h);
    c.set(100_000);
    expect(fired).toEqual(['b', 'poll@100000']);
    c.advance(99);
    expect(fired).toHaveLength(2);
    c.advance(1);
    expect(fired[2]).toBe('poll@100100');
    expect(() => c.set(0)).toThrow(/backwards/);
  });
});

describe('queue rows and control without workers', () => {
  it('orders by priority then creation; pause/resume/cancel/priority on queued jobs', () => {
    const { lib, store } = openStore(tempWorkspace());
    const a = enqueueJob(store, { kind: 'pretrain', params: { steps: 5 } });
    const b = enqueueJob(store, { kind: 'pretrain', params: { steps: 5 }, priority: 5 });
    const c = enqueueJob(store, { kind: 'import', params: { paths: ['/nowhere'] } });
    expect(store.queued().map((r) => r.id)).toEqual([b.id, a.id, c.id]);
    setPriority(store, c.id, 10);
    expect(store.queued().map((r) => r.id)).toEqual([c.id, b.id, a.id]);

    expect(pauseJob(store, a.id).status).toBe('paused');
    expect(store.queued().map((r) => r.id)).toEqual([c.id, b.id]);
    expect(resumeJob(store, a.id).status).toBe('queued');
    expect(cancelJob(store, b.id).status).toBe('cancelled');
    expect(store.get(b.id)!.finished_at).not.toBeNull();
    expect(() => resumeJob(store, b.id)).toThrow(/cancelled; only a paused or interrupted job can be resumed/);
    expect(() => setPriority(store, b.id, 1)).toThrow(EngineFailure);

    // A running job is only asked; the runner owning its worker carries it out.
    store.update(a.id, { status: 'running' });
    expect(pauseJob(store, a.id)).toMatchObject({ status: 'running', requested: 'pause' });
    expect(resumeJob(store, a.id)).toMatchObject({ status: 'running', requested: null });
    expect(cancelJob(store, a.id)).toMatchObject({ status: 'running', requested: 'cancel' });
    const log = readFileSync(store.summary(a).logPath!, 'utf8');
    expect(log).toMatch(/queued pretrain job/);
    expect(log).toMatch(/paused by the user/);
    expect(log).toMatch(/cancel requested/);
    lib.close();
  });

  it('rejects bad parameters and schedules when queued, naming the field', () => {
    const { lib, store } = openStore(tempWorkspace());
    expect(() => enqueueJob(store, { kind: 'pretrain', params: { steps: -3 } })).toThrow(/invalid pretrain job parameters: steps: /);
    expect(() => enqueueJob(store, { kind: 'pretrain', params: { steps: 3, epochs: 2 } })).toThrow(/steps or epochs, not both/);
    expect(() => enqueueJob(store, { kind: 'pretrain', params: { stepz: 3 } })).toThrow(/Unrecognized key.*stepz/);
    expect(() => enqueueJob(store, { kind: 'import', params: {} })).toThrow(/paths: Required/);
    expect(() => enqueueJob(store, { kind: 'pretrain', params: {}, schedule: { start: '08:00', stop: '08:00' } })).toThrow(/empty/);
    expect(store.list()).toHaveLength(0);
    lib.close();
  });
});

describe('runner lock and start-up recovery', () => {
  it('one runner per workspace; a dead owner\'s lock is taken over', () => {
    const ws = tempWorkspace();
    const path = join(ws, 'runner.lock');
    const release = acquireLock(path);
    expect(() => acquireLock(path, process.ppid)).toThrow(RunnerLockedError);
    release();
    writeFileSync(path, JSON.stringify({ pid: deadPid(), startedAt: 'earlier' }));
    const again = acquireLock(path);
    expect(JSON.parse(readFileSync(path, 'utf8')).pid).toBe(process.pid);
    again();
    writeFileSync(path, 'half-writ');
    acquireLock(path)();
  });

  it('running jobs whose worker is gone become interrupted (reason kept); auto-resume re-queues them; requests are honoured', async () => {
    const ws = tempWorkspace();
    const { lib, store } = openStore(ws);
    const gone = deadPid();
    const mk = (autoResume: boolean, requested: 'pause' | 'cancel' | null) => {
      const r = enqueueJob(store, { kind: 'pretrain', params: { steps: 5 }, autoResume });
      store.update(r.id, { status: 'running', worker_pid: gone, runner_pid: gone, requested, checkpoint_step: 3, step: 4 });
      store.startRun(r.id, 'pretrain', gone, 0);
      return r.id;
    };
    const auto = mk(true, null);
    const manual = mk(false, null);
    const pausing = mk(true, 'pause');
    const cancelling = mk(true, 'cancel');
    const events: string[] = [];
    // No compute slot: the recovered job is re-queued but not started (no worker in this test).
    const runner = new JobRunner({ workspace: ws, computeSlots: 0, clock: new ManualClock(at(10, 12)), onEvent: (e) => events.push(`${e.event}:${'job' in e.data ? e.data.job.status : ''}`) });
    await runner.start();
    await expect(new JobRunner({ workspace: ws }).start()).rejects.toThrow(/another job runner \(pid \d+/);
    expect(store.get(auto)!).toMatchObject({ status: 'queued', worker_pid: null, waiting: 'waits for the running job to finish' });
    expect(store.get(manual)!).toMatchObject({ status: 'interrupted', error: `the job's runner (pid ${gone}) stopped while the job ran` });
    expect(store.get(pausing)!.status).toBe('paused');
    expect(store.get(cancelling)!.status).toBe('cancelled');
    expect(store.runs(manual)[0]).toMatchObject({ status: 'interrupted', end_step: 4 });
    expect(readFileSync(store.summary(store.get(auto)!).logPath!, 'utf8')).toMatch(/resuming automatically from the checkpoint at step 3/);
    expect(events).toContain('job.state:interrupted');
    await runner.stop();
    lib.close();
  });

  it('attachRunner relays runner events through the engine and yields to a runner that already holds the lock', async () => {
    const ws = tempWorkspace();
    const engine = createEngine({ workspace: ws });
    const events: string[] = [];
    engine.onEvent((e, d) => events.push(`${e}:${(d as { job: { status: string } }).job.status}`));
    const runner = await attachRunner(engine, { workspace: ws, computeSlots: 0 });
    expect(runner).not.toBeNull();
    expect(await attachRunner(createEngine({ workspace: ws }), { workspace: ws })).toBeNull();
    const job = await engine.call('jobs.enqueue', { kind: 'pretrain', params: { steps: 3 } });
    // The enqueue reached the runner at once (no poll wait): it is already marked as waiting for a slot.
    expect((await engine.call('jobs.get', { id: job.id })).waiting).toBe('waits for the running job to finish');
    expect(events[0]).toBe('job.state:queued');
    await runner!.stop();
  });

  it('a live pid counts as a job\'s worker only if it carries that job\'s id (pids are reused)', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { env: { ...process.env, PIX2REP_JOB_ID: 'job-x' }, stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      const fresh = new Date().toISOString();
      expect(isWorkerOf(child.pid!, 'job-x', null)).toBe(true);
      expect(isWorkerOf(child.pid!, 'job-y', fresh)).toBe(false);
      expect(isWorkerOf(process.ppid, 'job-x', fresh)).toBe(false);
      expect(isWorkerOf(deadPid(), 'job-x', fresh)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('worker exits in plain words', () => {
    expect(exitReason(null, 'SIGKILL', '').reason).toMatch(/killed by signal SIGKILL/);
    expect(exitReason(null, 'SIGKILL', '').retryable).toBe(true);
    expect(exitReason(134, null, '<--- Last few GCs --->\nFATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory')).toEqual({ reason: 'the worker ran out of memory', retryable: false });
    expect(exitReason(null, 'SIGSEGV', '')).toEqual({ reason: 'the worker crashed (signal SIGSEGV)', retryable: false });
    expect(exitReason(1, null, 'x\nError: boom\n').reason).toBe('the worker exited with code 1: Error: boom');
  });
});

describe('jobs.* through the engine contract', () => {
  it('enqueue, list, get, pause, setPriority, progress, log; unknown ids and bad params', async () => {
    const engine = createEngine({ workspace: tempWorkspace() });
    const seen: string[] = [];
    engine.onEvent((e, d) => seen.push(`${e}:${(d as { job: { status: string } }).job.status}`));
    const job = await engine.call('jobs.enqueue', { kind: 'pretrain', params: { steps: 10 }, schedule: { start: '22:00', stop: '07:00' } });
    expect(job).toMatchObject({ kind: 'pretrain', status: 'queued', priority: 0, autoResume: true, step: 0, schedule: { start: '22:00', stop: '07:00' } });
    expect((await engine.call('jobs.list')).jobs.map((j) => j.id)).toEqual([job.id]);
    expect((await engine.call('jobs.pause', { id: job.id })).status).toBe('paused');
    expect((await engine.call('jobs.setPriority', { id: job.id, priority: 7 })).priority).toBe(7);
    expect((await engine.call('jobs.list', { status: ['queued'] })).jobs).toHaveLength(0);
    expect((await engine.call('jobs.progress', { id: job.id })).points).toEqual([]);
    expect((await engine.call('jobs.log', { id: job.id })).text).toMatch(/paused by the user/);
    expect(seen).toEqual(['job.state:queued', 'job.state:paused', 'job.state:paused']);
    await expect(engine.call('jobs.get', { id: 'job-nope' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(engine.call('jobs.enqueue', { kind: 'pretrain', params: { steps: 0 } })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(engine.call('jobs.enqueue', { kind: 'pretrain', schedule: { start: '24:00' } })).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
  });
});
