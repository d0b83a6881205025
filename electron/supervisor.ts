/**
 * Keeps one engine process alive and relays requests to it. Knows nothing of Electron: the host hands it a
 * `spawn` function (Electron's utilityProcess in the app, child_process.fork in tests), so the supervision
 * logic (pending requests failing with a typed error on a crash, visible notices, restart with backoff) is
 * tested against a real engine process where no Electron binary exists.
 */
import type { ErrorCode, EventData, ResponseEnvelope } from '../main/contract/index.js';
import { isEngineToHost, type EngineToHost, type HostToEngine } from '../main/engine/process-protocol.js';
import { methodOf, requestIdOf } from './trust.js';

/** A started engine process, whatever started it. */
export interface EngineProcess {
  postMessage(message: HostToEngine): void;
  onMessage(listener: (message: unknown) => void): void;
  onExit(listener: (code: number | null, signal: string | null) => void): void;
  kill(): void;
}

export interface SupervisorOptions {
  spawn: () => EngineProcess;
  /** Every event envelope (JSON) for the UI: the engine's own and the supervisor's engine.ready/engine.notice. */
  onEvent: (message: string) => void;
  /** Called once per streak when the engine keeps dying right after start (the shell shows a dialog). */
  onCrashLoop?: (info: { crashes: number; lastExit: string }) => void;
  log?: (line: string) => void;
  /** First restart delay; doubles per consecutive crash up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** An engine that stayed up this long is healthy again: the next crash restarts at the initial delay. */
  stableMs?: number;
  /** An engine that has not said 'ready' by then is treated as crashed. */
  startTimeoutMs?: number;
  /** Consecutive crashes that make a crash loop. */
  crashLoopThreshold?: number;
}

export type SupervisorState = 'idle' | 'starting' | 'ready' | 'waiting' | 'stopped';

interface Pending {
  seq: number;
  message: string;
  sent: boolean;
  resolve: (response: string) => void;
}

export class EngineSupervisor {
  private readonly opts: Required<Omit<SupervisorOptions, 'onCrashLoop' | 'log'>> & Pick<SupervisorOptions, 'onCrashLoop' | 'log'>;
  private child: EngineProcess | undefined;
  private stateValue: SupervisorState = 'idle';
  private readonly pending = new Map<number, Pending>();
  private nextSeq = 1;
  private starts = 0;
  private consecutiveCrashes = 0;
  private crashLoopReported = false;
  private readySince = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private workspaceValue: string | undefined;
  private lastFatal: string | undefined;
  private exitWaiters: (() => void)[] = [];

  constructor(options: SupervisorOptions) {
    this.opts = {
      initialDelayMs: 500,
      maxDelayMs: 30_000,
      stableMs: 60_000,
      startTimeoutMs: 60_000,
      crashLoopThreshold: 3,
      ...options,
    };
  }

  get state(): SupervisorState {
    return this.stateValue;
  }

  /** The workspace the running engine reported, once it is ready. */
  get workspace(): string | undefined {
    return this.workspaceValue;
  }

  /** How many times the engine was started after its first start. */
  get restarts(): number {
    return Math.max(0, this.starts - 1);
  }

  start(): void {
    if (this.stateValue !== 'idle') throw new Error(`the engine supervisor was already started (state ${this.stateValue})`);
    this.launch();
  }

  /**
   * Relay one request envelope (JSON) and resolve with its response envelope (JSON). Never rejects: a request
   * the engine cannot answer (it died while handling it, the app is closing) gets a typed error response.
   * Requests made while the engine is (re)starting wait for it.
   */
  request(message: string): Promise<string> {
    if (this.stateValue === 'stopped') {
      return Promise.resolve(failure(message, 'INTERNAL', 'the engine is stopped (the application is closing)'));
    }
    return new Promise<string>((resolve) => {
      const seq = this.nextSeq++;
      const p: Pending = { seq, message, sent: false, resolve };
      this.pending.set(seq, p);
      if (this.stateValue === 'ready') this.send(p);
    });
  }

  /** Ask the engine to exit, kill it if it has not within `graceMs`, and fail whatever is still pending. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.stateValue === 'stopped') return;
    const child = this.child;
    this.stateValue = 'stopped';
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.failPending(() => 'the engine was stopped (the application is closing)', true);
    if (!child) return;
    const exited = new Promise<void>((resolve) => this.exitWaiters.push(resolve));
    try {
      child.postMessage({ kind: 'shutdown' });
    } catch {
      /* the channel is already gone: the kill below does it */
    }
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref?.());
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      child.kill();
      await exited;
    }
  }

  private launch(): void {
    this.timer = undefined;
    this.stateValue = 'starting';
    this.lastFatal = undefined;
    this.starts++;
    let child: EngineProcess;
    try {
      child = this.opts.spawn();
    } catch (err) {
      this.handleExit(`could not be started: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    this.child = child;
    child.onMessage((m) => {
      if (this.child !== child) return;
      if (!isEngineToHost(m)) {
        this.opts.log?.('engine host: ignored a malformed message from the engine');
        return;
      }
      this.onEngineMessage(m);
    });
    child.onExit((code, signal) => {
      const waiters = this.exitWaiters;
      this.exitWaiters = [];
      for (const w of waiters) w();
      if (this.child !== child) return;
      this.child = undefined;
      if (this.stateValue === 'stopped') return;
      this.handleExit(signal ? `was killed by ${signal}` : `exited with code ${code ?? 'unknown'}`);
    });
    this.timer = setTimeout(() => {
      if (this.child === child && this.stateValue === 'starting') {
        this.opts.log?.(`engine host: no ready message within ${this.opts.startTimeoutMs} ms, killing the engine`);
        this.lastFatal = `did not start within ${Math.round(this.opts.startTimeoutMs / 1000)} s`;
        child.kill();
      }
    }, this.opts.startTimeoutMs);
  }

  private onEngineMessage(m: EngineToHost): void {
    switch (m.kind) {
      case 'ready': {
        if (this.timer) clearTimeout(this.timer);
        this.timer = undefined;
        this.stateValue = 'ready';
        this.readySince = Date.now();
        this.workspaceValue = m.workspace;
        const restarted = this.starts > 1;
        this.opts.log?.(`engine host: engine ready (pid ${m.pid}, workspace ${m.workspace}${restarted ? ', restarted' : ''})`);
        this.emit('engine.ready', { workspace: m.workspace, restarted });
        for (const p of this.pending.values()) if (!p.sent) this.send(p);
        return;
      }
      case 'response': {
        const p = this.pending.get(m.seq);
        if (!p) return;
        this.pending.delete(m.seq);
        p.resolve(m.message);
        return;
      }
      case 'event':
        this.opts.onEvent(m.message);
        return;
      case 'fatal':
        this.lastFatal = m.message;
        this.opts.log?.(`engine host: ${m.message}`);
        return;
    }
  }

  private send(p: Pending): void {
    try {
      this.child?.postMessage({ kind: 'request', seq: p.seq, message: p.message });
      p.sent = true;
    } catch (err) {
      this.pending.delete(p.seq);
      p.resolve(failure(p.message, 'INTERNAL', `the request could not be passed to the engine: ${err instanceof Error ? err.message : String(err)}`));
    }
  }

  private handleExit(how: string): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const wasStable = this.stateValue === 'ready' && Date.now() - this.readySince >= this.opts.stableMs;
    this.consecutiveCrashes = wasStable ? 1 : this.consecutiveCrashes + 1;
    if (wasStable) this.crashLoopReported = false;
    const reason = this.lastFatal ? `${how} (${this.lastFatal})` : how;
    // Requests the dead engine had received get an answer now; those it never saw wait for the next engine.
    this.failPending(
      (p) =>
        `the engine process stopped unexpectedly (${reason}) while handling ${methodOf(p.message) || 'this request'}; ` +
        'it is being restarted, try again',
      false,
    );
    const delay = Math.min(this.opts.initialDelayMs * 2 ** (this.consecutiveCrashes - 1), this.opts.maxDelayMs);
    this.opts.log?.(`engine host: engine ${reason}; restarting in ${delay} ms (crash ${this.consecutiveCrashes} in a row)`);
    this.emit('engine.notice', {
      level: 'error',
      message: `The engine stopped unexpectedly (${reason}). Restarting it in ${formatDelay(delay)}; work in progress was interrupted.`,
    });
    if (this.consecutiveCrashes >= this.opts.crashLoopThreshold && !this.crashLoopReported) {
      this.crashLoopReported = true;
      this.opts.onCrashLoop?.({ crashes: this.consecutiveCrashes, lastExit: reason });
    }
    this.stateValue = 'waiting';
    this.timer = setTimeout(() => this.launch(), delay);
  }

  private failPending(why: (p: Pending) => string, includeUnsent: boolean): void {
    for (const p of [...this.pending.values()]) {
      if (!p.sent && !includeUnsent) continue;
      this.pending.delete(p.seq);
      p.resolve(failure(p.message, 'ENGINE_UNAVAILABLE', why(p)));
    }
  }

  private emit<E extends 'engine.ready' | 'engine.notice'>(event: E, data: EventData<E>): void {
    this.opts.onEvent(JSON.stringify({ event, data }));
  }
}

function failure(message: string, code: ErrorCode, text: string, details?: unknown): string {
  const response: ResponseEnvelope = {
    id: requestIdOf(message),
    ok: false,
    error: { code, message: text, ...(details !== undefined ? { details } : {}) },
  };
  return JSON.stringify(response);
}

function formatDelay(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}
