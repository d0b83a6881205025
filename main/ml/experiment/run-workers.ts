import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BackendName } from '../../contract/engine.js';
import type { ErrorCode } from '../../contract/protocol.js';
import { EngineFailure } from '../../engine/errors.js';
import type { RunInputs, RunResult, RunSpec } from './run.js';

/** What a run worker is started with: the experiment's inputs (paths and ids) and the parent's backend. */
export interface RunWorkerData {
  inputs: RunInputs;
  backend?: BackendName;
}

export type ToRunWorker = { type: 'run'; spec: RunSpec };
export type FromRunWorker = { type: 'result'; result: RunResult } | { type: 'error'; message: string; code?: ErrorCode; stack?: string };

/** File name a bundle would need beside it; no build makes one today (the experiment is CLI-only, run by tsx). */
export const BUNDLED_RUN_WORKER = 'experiment-run-worker.js';

const here = fileURLToPath(import.meta.url);

/**
 * The worker's entry: from the sources (this module is .ts), the TypeScript worker booted through tsx; from a
 * bundle, a compiled worker beside it, which must exist: a bundle ships neither tsx nor the sources, and a
 * missing worker must fail the request, not run something else.
 */
export function runWorkerEntry(): string {
  if (!here.endsWith('.js')) return join(dirname(here), 'run-worker-boot.mjs');
  const bundled = join(dirname(here), BUNDLED_RUN_WORKER);
  if (!existsSync(bundled)) {
    throw new EngineFailure('BAD_INPUT', `--jobs above 1 needs the experiment's run worker ${bundled}, which this build does not include: use --jobs 1, or run pix2rep from the sources`);
  }
  return bundled;
}

export const runLabel = (s: Pick<RunSpec, 'regime' | 'seed' | 'method' | 'base'>): string => `regime ${s.regime} seed ${s.seed} ${s.method}${s.base ? ` (on ${s.base})` : ''}`;

interface Slot {
  worker: Worker;
  pending: { resolve: (r: RunResult) => void; reject: (e: Error) => void; spec: RunSpec } | null;
  /** Why the thread can no longer run anything (it crashed or exited). */
  dead: Error | null;
}

/**
 * One worker thread per slot, started on the slot's first run (an experiment whose runs are all cached starts
 * none), each running one run at a time.
 */
export class RunWorkers {
  private readonly slots: Array<Slot | undefined>;
  private closed = false;

  constructor(
    readonly size: number,
    private readonly data: RunWorkerData,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`worker count must be a positive integer, got ${size}`);
    // Resolved now so that a build without the worker fails before anything is trained.
    runWorkerEntry();
    this.slots = new Array(size);
  }

  private slot(i: number): Slot {
    const existing = this.slots[i];
    if (existing) return existing;
    const s: Slot = { worker: new Worker(runWorkerEntry(), { workerData: this.data, execArgv: [] }), pending: null, dead: null };
    const settle = (fn: (p: NonNullable<Slot['pending']>) => void) => {
      const p = s.pending;
      s.pending = null;
      if (p) fn(p);
    };
    s.worker.on('message', (m: FromRunWorker) =>
      settle((p) => {
        if (m.type === 'result') p.resolve(m.result);
        else p.reject(new EngineFailure(m.code ?? 'INTERNAL', `${runLabel(p.spec)} failed on worker ${i}: ${m.message}`, m.stack ? { workerStack: m.stack } : undefined));
      }),
    );
    const die = (why: string) => {
      s.dead ??= new Error(why);
      settle((p) => p.reject(new EngineFailure('INTERNAL', `${runLabel(p.spec)}: run worker ${i} ${why}`)));
    };
    s.worker.on('error', (err) => die(`crashed: ${err.message}`));
    s.worker.on('exit', (code) => die(`exited (code ${code})`));
    this.slots[i] = s;
    return s;
  }

  /** Trains and scores one run on slot `i`'s thread. */
  run(i: number, spec: RunSpec): Promise<RunResult> {
    if (this.closed) return Promise.reject(new Error('the run workers are closed'));
    if (!Number.isInteger(i) || i < 0 || i >= this.size) return Promise.reject(new Error(`no run worker ${i}`));
    const s = this.slot(i);
    if (s.dead) return Promise.reject(new EngineFailure('INTERNAL', `${runLabel(spec)}: run worker ${i} ${s.dead.message}`));
    if (s.pending) return Promise.reject(new Error(`run worker ${i} is busy with ${runLabel(s.pending.spec)}`));
    return new Promise<RunResult>((resolve, reject) => {
      s.pending = { resolve, reject, spec };
      s.worker.postMessage({ type: 'run', spec } satisfies ToRunWorker);
    });
  }

  /** Terminates every thread (a run in progress is abandoned and rejects). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.slots.filter((s): s is Slot => s !== undefined).map((s) => s.worker.terminate()));
  }
}
