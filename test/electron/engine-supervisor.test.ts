/**
 * The engine host's supervision, against the real built engine process. In the app the process is an
 * Electron utilityProcess; here it is the same bundle (dist/engine/process-entry.js, built into a scratch
 * folder) started with child_process.fork, which speaks the same messages. Only the spawn differs.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineSupervisor, type EngineProcess, type SupervisorOptions } from '../../electron/supervisor.js';
import { buildElectron } from '../../scripts/build-electron.mjs';
import { projectRoot } from '../support/data.js';

let outdir: string;
let entry: string;
let workspace: string;
const supervisors: EngineSupervisor[] = [];

beforeAll(async () => {
  // Inside the project so the bundle's external packages resolve from its node_modules, as they do in dist/.
  outdir = join(projectRoot, '.tmp', `electron-build-${process.pid}`);
  await buildElectron({ outdir, quiet: true });
  entry = join(outdir, 'engine', 'process-entry.js');
  workspace = mkdtempSync(join(tmpdir(), 'p2r-supervisor-'));
});

afterAll(async () => {
  await Promise.all(supervisors.map((s) => s.stop(1000)));
  rmSync(outdir, { recursive: true, force: true });
  rmSync(workspace, { recursive: true, force: true });
});

interface Harness {
  supervisor: EngineSupervisor;
  events: { event: string; data: Record<string, unknown> }[];
  children: ChildProcess[];
  crashLoops: { crashes: number; lastExit: string }[];
}

function harness(args: () => string[], options: Partial<SupervisorOptions> = {}, onSpawn?: (child: ChildProcess, n: number) => void): Harness {
  const h: Harness = { supervisor: undefined as unknown as EngineSupervisor, events: [], children: [], crashLoops: [] };
  const spawn = (): EngineProcess => {
    const child = fork(entry, args(), { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    h.children.push(child);
    onSpawn?.(child, h.children.length);
    return {
      postMessage: (m) => void child.send(m),
      onMessage: (l) => void child.on('message', l),
      onExit: (l) => void child.on('exit', (code, signal) => l(code, signal)),
      kill: () => void child.kill('SIGKILL'),
    };
  };
  h.supervisor = new EngineSupervisor({
    spawn,
    onEvent: (m) => h.events.push(JSON.parse(m) as Harness['events'][number]),
    onCrashLoop: (info) => h.crashLoops.push(info),
    initialDelayMs: 20,
    maxDelayMs: 200,
    ...options,
  });
  supervisors.push(h.supervisor);
  return h;
}

async function until(what: string, cond: () => boolean, limitMs = 30_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const req = (id: string | number, method: string, params?: unknown) => JSON.stringify({ id, method, ...(params === undefined ? {} : { params }) });

describe('engine supervisor (real engine process over child_process.fork)', () => {
  it('relays requests, answers a malformed one with a typed error and keeps serving', async () => {
    const h = harness(() => ['--workspace', workspace]);
    h.supervisor.start();
    // Asked before the engine is up: waits for it instead of failing.
    const status = JSON.parse(await h.supervisor.request(req(1, 'engine.status')));
    expect(status).toMatchObject({ id: 1, ok: true, result: { workspace, electronVersion: null } });
    expect(h.events[0]).toEqual({ event: 'engine.ready', data: { workspace, restarted: false } });

    const bad = JSON.parse(await h.supervisor.request('{not json'));
    expect(bad).toEqual({ id: null, ok: false, error: { code: 'BAD_REQUEST', message: 'message is not valid JSON' } });
    const unknown = JSON.parse(await h.supervisor.request(req('u', 'no.such.method')));
    expect(unknown).toMatchObject({ id: 'u', ok: false, error: { code: 'UNKNOWN_METHOD' } });

    // The same caller id twice at once is the engine's business; the host's own numbering keeps both apart.
    const [a, b] = await Promise.all([h.supervisor.request(req(5, 'engine.ping', { echo: 'a' })), h.supervisor.request(req(6, 'engine.ping', { echo: 'b' }))]);
    expect(JSON.parse(a)).toMatchObject({ id: 5, ok: true, result: { echo: 'a' } });
    expect(JSON.parse(b)).toMatchObject({ id: 6, ok: true, result: { echo: 'b' } });
    expect(h.supervisor.state).toBe('ready');
    expect(h.supervisor.workspace).toBe(workspace);

    await h.supervisor.stop();
    expect(h.children[0]!.exitCode).toBe(0); // asked to shut down, it exited cleanly
    const after = JSON.parse(await h.supervisor.request(req(9, 'engine.ping')));
    expect(after).toMatchObject({ id: 9, ok: false, error: { code: 'INTERNAL' } });
  });

  it('fails in-flight requests with a typed error when the engine dies, tells the user, and restarts it', async () => {
    const h = harness(() => ['--workspace', workspace]);
    h.supervisor.start();
    await until('first ready', () => h.supervisor.state === 'ready');
    const first = h.children[0]!;

    // A stopped process reads nothing: the request is certainly in flight when the kill lands.
    first.kill('SIGSTOP');
    const inflight = h.supervisor.request(req('doomed', 'engine.status'));
    await new Promise((r) => setTimeout(r, 50));
    first.kill('SIGKILL');
    const failed = JSON.parse(await inflight);
    expect(failed).toMatchObject({ id: 'doomed', ok: false, error: { code: 'ENGINE_UNAVAILABLE' } });
    expect(failed.error.message).toContain('engine.status');
    expect(failed.error.message).toContain('SIGKILL');

    const notice = h.events.find((e) => e.event === 'engine.notice');
    expect(notice?.data.level).toBe('error');
    expect(String(notice?.data.message)).toContain('stopped unexpectedly');

    // Asked while the engine is down: answered by the restarted one.
    const later = JSON.parse(await h.supervisor.request(req('later', 'engine.ping', { echo: 'back' })));
    expect(later).toMatchObject({ id: 'later', ok: true, result: { echo: 'back' } });
    expect(h.events.filter((e) => e.event === 'engine.ready').map((e) => e.data.restarted)).toEqual([false, true]);
    expect(h.supervisor.restarts).toBe(1);
    expect(h.children).toHaveLength(2);
    expect(h.children[1]!.pid).not.toBe(first.pid);
    await h.supervisor.stop();
  });

  it('reports an engine that cannot start, backs off, and flags the crash loop once', async () => {
    // `--workspace` without a value: the engine sends a fatal message and exits 1, every time.
    const h = harness(() => ['--workspace'], { crashLoopThreshold: 3 });
    h.supervisor.start();
    await until('three crashes', () => h.children.length >= 4);
    const notices = h.events.filter((e) => e.event === 'engine.notice').map((e) => String(e.data.message));
    expect(notices[0]).toContain('exited with code 1');
    expect(notices[0]).toContain('--workspace needs a folder path');
    expect(h.crashLoops).toHaveLength(1);
    expect(h.crashLoops[0]!.crashes).toBe(3);
    expect(h.events.some((e) => e.event === 'engine.ready')).toBe(false);

    // A request made meanwhile waits for an engine; stopping the app answers it instead of leaving it hanging.
    const waiting = h.supervisor.request(req('w', 'engine.ping'));
    await h.supervisor.stop();
    expect(JSON.parse(await waiting)).toMatchObject({ id: 'w', ok: false, error: { code: 'ENGINE_UNAVAILABLE' } });
    expect(h.supervisor.state).toBe('stopped');
  });

  it('kills an engine that never says ready and counts it as a crash', async () => {
    // The first engine is frozen at birth, so it never says ready; the start timeout must not leave callers
    // waiting forever. The limit leaves room for a real engine's start (about a second here, more under load).
    const h = harness(() => ['--workspace', workspace], { startTimeoutMs: 8000 }, (child, n) => {
      if (n === 1) child.kill('SIGSTOP');
    });
    h.supervisor.start();
    const ok = JSON.parse(await h.supervisor.request(req('t', 'engine.ping')));
    expect(ok).toMatchObject({ id: 't', ok: true });
    const notice = h.events.find((e) => e.event === 'engine.notice');
    expect(String(notice?.data.message)).toContain('did not start within');
    expect(h.events.filter((e) => e.event === 'engine.ready').map((e) => e.data.restarted)).toEqual([true]);
    await h.supervisor.stop();
  });
});
