import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BackendName } from '../../contract/engine.js';
import type { LossConfig, ModelConfig, OptimizerConfig } from '../config.js';
import type { BatchViews, PixelPairs } from '../pretrain/step.js';
import type { AdamState, FromWorker, NamedArrays, ToWorker } from './protocol.js';
import { splitBatch } from './shard.js';

/** File name of the compiled training worker that scripts/build-electron.mjs writes beside the engine bundle. */
export const BUNDLED_TRAIN_WORKER = 'train-worker.js';

const here = fileURLToPath(import.meta.url);
/**
 * From the sources (this module is .ts), boot the TypeScript worker through tsx; from a bundle (the packaged
 * app, which ships neither tsx nor the sources), the compiled worker beside the bundle.
 */
const BOOT = join(dirname(here), here.endsWith('.js') ? BUNDLED_TRAIN_WORKER : 'worker-boot.mjs');

/**
 * Data-parallel Pix2Rep training over worker threads (default: one per core), each with its own tfjs/wasm
 * instance (tfjs disables wasm threads in Node, so this is how a step uses more than one core).
 *
 * Each step: the batch (views and the pixel pairs drawn over the whole batch) is split into contiguous
 * image shards; every worker returns the loss and gradients of its shard; the parent averages them weighted
 * by the shard's pair count, in worker order (deterministic), and sends the same averaged gradient to every
 * worker, which applies it with its own, identical, Adam state: the weights stay bit-identical.
 *
 * What differs from one worker on the whole batch, by design (documented in docs/PERFORMANCE.md):
 *  - BatchNorm normalises with per-shard batch statistics (as PyTorch's DataParallel without SyncBatchNorm);
 *    running statistics become the average of the shards' (exact for the mean, the variance misses the
 *    spread between shard means);
 *  - the contrastive loss of a shard only sees that shard's pixels as negatives (NT-Xent) or standardises over
 *    them (Barlow Twins): the objective is the pair-weighted mean of the per-shard losses.
 * With one worker everything is exactly the single-process step.
 */
export interface ParallelTrainerOptions {
  workers?: number;
  model: ModelConfig;
  loss: LossConfig;
  optimizer: OptimizerConfig;
  /** Initial parameters and BatchNorm statistics by name (e.g. from createNet or a checkpoint). */
  tensors: NamedArrays;
  /** Adam's state to start from (a resumed run); default: fresh. */
  adam?: AdamState;
  /** Backend of the workers (default: initBackend's choice). */
  backend?: BackendName;
  /**
   * Most images one worker puts through a step at once (its heap's capacity, memory.ts); a larger shard is
   * split into micro-batches whose gradients the worker accumulates. Default: no limit.
   */
  maxImages?: number;
}

export interface ParallelStepResult {
  /** Pair-weighted mean of the shard losses, before the update. */
  loss: number;
  /** The averaged gradient every worker applied, by parameter name. */
  grads: Map<string, Float32Array>;
  /** The running statistics every worker now holds (average of the shards'). */
  stats: Map<string, Float32Array>;
}

class Channel {
  private pending: { resolve: (m: FromWorker) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  constructor(readonly worker: Worker, readonly index: number) {
    worker.on('message', (m: FromWorker) => {
      const p = this.pending;
      this.pending = null;
      if (!p) return;
      if (m.type === 'error') p.reject(new Error(`training worker ${index}: ${m.message}`));
      else p.resolve(m);
    });
    const fail = (err: Error) => {
      this.failure = err;
      this.pending?.reject(err);
      this.pending = null;
    };
    worker.on('error', (err) => fail(new Error(`training worker ${index} crashed: ${err.message}`)));
    worker.on('exit', (code) => fail(new Error(`training worker ${index} exited (code ${code})`)));
  }

  request(msg: ToWorker, transfer: ArrayBuffer[] = []): Promise<FromWorker> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending) return Promise.reject(new Error(`training worker ${this.index} is busy`));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage(msg, transfer);
    });
  }
}

function expectType<T extends FromWorker['type']>(m: FromWorker, type: T): Extract<FromWorker, { type: T }> {
  if (m.type !== type) throw new Error(`training worker answered ${m.type}, expected ${type}`);
  return m as Extract<FromWorker, { type: T }>;
}

export class ParallelTrainer {
  private closed = false;
  /** The workers' backend, as initBackend named it. */
  backend = '';
  private constructor(
    private readonly channels: Channel[],
    private readonly maxImages = Infinity,
  ) {}

  get workers(): number {
    return this.channels.length;
  }

  static async start(opts: ParallelTrainerOptions): Promise<ParallelTrainer> {
    const n = opts.workers ?? cpus().length;
    if (!Number.isInteger(n) || n < 1) throw new Error(`workers must be a positive integer, got ${n}`);
    const channels = Array.from({ length: n }, (_, i) => new Channel(new Worker(BOOT, { execArgv: [] }), i));
    const trainer = new ParallelTrainer(channels, opts.maxImages);
    try {
      const replies = await Promise.all(
        channels.map((c) => c.request({ type: 'init', backend: opts.backend, model: opts.model, loss: opts.loss, optimizer: opts.optimizer, tensors: opts.tensors, adam: opts.adam })),
      );
      trainer.backend = expectType(replies[0]!, 'ready').backend;
      return trainer;
    } catch (err) {
      await trainer.close();
      throw err;
    }
  }

  /**
   * One data-parallel step. Returns the loss and the update the workers applied, so that a copy of the
   * network kept elsewhere (the pretraining loop's, for checkpoints and validation) can apply the same one.
   */
  async step(views: BatchViews, pairs: PixelPairs): Promise<ParallelStepResult> {
    if (this.closed) throw new Error('the parallel trainer is closed');
    const shards = splitBatch(views, pairs, this.channels.length);
    const total = pairs.batch.length;
    if (shards.some((s) => s.pairs.batch.length < 2)) throw new Error('a shard has fewer than 2 valid pixel pairs: cannot form a contrastive loss (use fewer workers or more samples)');
    const replies = (await Promise.all(this.channels.map((c, i) => c.request({ type: 'grad', views: shards[i]!.views, pairs: shards[i]!.pairs, microBatches: Math.ceil(shards[i]!.views.grids.length / this.maxImages) })))).map((r) => expectType(r, 'grad'));
    let loss = 0;
    const grads = new Map<string, Float32Array>();
    const stats = new Map<string, Float32Array>();
    replies.forEach((r, i) => {
      const w = r.pairs / total;
      loss += w * r.loss;
      for (const [name, g] of r.grads) {
        const acc = grads.get(name) ?? new Float32Array(g.length);
        for (let j = 0; j < g.length; j++) acc[j]! += w * g[j]!;
        grads.set(name, acc);
      }
      for (const [name, s] of r.stats) {
        const acc = stats.get(name) ?? new Float32Array(s.length);
        for (let j = 0; j < s.length; j++) acc[j]! += s[j]! / replies.length;
        stats.set(name, acc);
      }
      if (!Number.isFinite(r.loss)) throw new Error(`training worker ${i}: loss is ${r.loss}`);
    });
    // Every worker gets its own copy (transfers detach the sender's buffer).
    await Promise.all(
      this.channels.map((c) => {
        const g: NamedArrays = [...grads].map(([k, v]) => [k, v.slice()]);
        const s: NamedArrays = [...stats].map(([k, v]) => [k, v.slice()]);
        return c.request({ type: 'apply', grads: g, stats: s }, [...g, ...s].map(([, a]) => a.buffer as ArrayBuffer)).then((r) => expectType(r, 'applied'));
      }),
    );
    return { loss, grads, stats };
  }

  /** Parameters and statistics of worker `i` (all workers hold the same values). */
  async weights(i = 0): Promise<Map<string, Float32Array>> {
    const c = this.channels[i];
    if (!c) throw new Error(`no training worker ${i}`);
    return new Map(expectType(await c.request({ type: 'weights' }), 'weights').tensors);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.channels.map((c) => c.worker.terminate()));
  }
}
