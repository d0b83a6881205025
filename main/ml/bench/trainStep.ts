import * as tf from '@tensorflow/tfjs-core';
import { totalFlops, type KernelRecord } from './flops.js';
import { accumulateGrads } from '../accumulate.js';
import { explainAbort, microBatchSizes, wasmHeapBytes } from '../memory.js';

/** A network as the benchmark sees it: what to train, how to score a batch, how to infer. */
export interface BenchNet {
  /** Variables the optimizer updates. */
  variables: tf.Variable[];
  /** Scalar loss of one batch, differentiated with respect to `variables`. */
  loss(x: tf.Tensor4D): tf.Scalar;
  /** The inference forward pass. */
  infer(x: tf.Tensor4D): tf.Tensor;
  dispose(): void;
}

export interface TrainStepBenchOptions {
  build: () => BenchNet;
  batch: number;
  size: number;
  inChannels?: number;
  /** Untimed steps first: operator caches, heap growth and JIT settle in them. */
  warmup?: number;
  /** Timed steps; the median is reported. */
  steps?: number;
  /** Adam learning rate of the timed update (the update is part of a step). */
  lr?: number;
  /** One extra, untimed, profiled step: FLOPs from kernel shapes and time per kernel. */
  profile?: boolean;
  /**
   * Most images per forward/backward pass: a larger batch is split into micro-batches whose gradients are
   * accumulated before the one Adam update (the batch's mean loss, exactly, as this loss has no cross-image
   * terms but BatchNorm's statistics). Default: the whole batch at once.
   */
  microBatch?: number;
  onStep?: (phase: 'warmup' | 'train' | 'infer', index: number, ms: number) => void;
}

export interface KernelTime {
  name: string;
  calls: number;
  ms: number;
}

export interface TrainStepBenchResult {
  backend: string;
  batch: number;
  size: number;
  warmup: number;
  steps: number;
  /** Median wall time of one training step (forward, backward, Adam update). */
  ms_per_step: number;
  step_ms: number[];
  /**
   * Median CPU time (user + system) of the process per step. On a loaded machine it stays close to what an
   * idle machine's wall time would be for a single-threaded backend, where wall time does not.
   */
  cpu_ms_per_step: number;
  /** Conv and matmul FLOPs of one training step as executed (forward, input and filter gradients), in 1e9. */
  gflop_per_step: number | null;
  /** gflop_per_step over the median step time. */
  gflop_per_s: number | null;
  /** Largest resident set of the process so far. */
  peak_rss_mb: number;
  /** Size of the wasm heap after the run (it only grows: its peak); null off the wasm backend. */
  wasm_heap_mb: number | null;
  /** Peak bytes of live tensors during the profiled step (tf.profile), in MB; null without profiling. */
  tensor_peak_mb: number | null;
  /** Images per forward/backward pass, and how many passes make a step. */
  micro_batch: number;
  micro_batches: number;
  /** Median inference time of a batch divided by the batch size. */
  ms_per_slice: number;
  /** Median CPU time of a batch's inference divided by the batch size. */
  cpu_ms_per_slice: number;
  /** Kernels by total time in the profiled step, longest first (profiling adds overhead: relative figures). */
  kernel_ms: KernelTime[] | null;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A fixed, smooth-ish input batch: the timing must not depend on a random draw. */
function benchInput(batch: number, size: number, channels: number): tf.Tensor4D {
  const v = new Float32Array(batch * size * size * channels);
  let s = 12345;
  for (let i = 0; i < v.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 4294967296;
  }
  return tf.tensor4d(v, [batch, size, size, channels]);
}

export function peakRssMb(): number {
  return Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;
}

/** The wasm heap in MB (see memory.ts), or null off the wasm backend. */
export function wasmHeapMb(): number | null {
  const b = wasmHeapBytes();
  return b === null ? null : Math.round(b / 2 ** 20);
}

const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * Times training steps and inference of `build()`'s network on the active tfjs backend (call initBackend
 * first). Every step reads its loss back, so the time covers the whole computation, not its dispatch.
 */
export async function benchTrainStep(opts: TrainStepBenchOptions): Promise<TrainStepBenchResult> {
  const { batch, size, inChannels = 1, warmup = 2, steps = 5, lr = 4.7e-4, profile = true } = opts;
  if (!(batch >= 1 && size >= 1 && steps >= 1 && warmup >= 0)) throw new Error(`bench: batch, size and steps must be positive (got ${batch}, ${size}, ${steps})`);
  const net = opts.build();
  const x = benchInput(batch, size, inChannels);
  const sizes = microBatchSizes(batch, opts.microBatch ?? batch);
  const parts = sizes.length === 1 ? [x] : (tf.split(x, sizes, 0) as tf.Tensor4D[]);
  const optimizer = tf.train.adam(lr);
  const trainOnce = (): tf.Scalar =>
    tf.tidy(() => {
      const { value, grads } = accumulateGrads(
        parts.map((p, i) => ({ weight: sizes[i]! / batch, loss: () => net.loss(p) })),
        net.variables,
      );
      optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
      return tf.scalar(value);
    });
  const cpuMs: number[] = [];
  const timed = async (f: () => tf.Tensor): Promise<number> => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const out = f();
    await out.data();
    out.dispose();
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    cpuMs.push((c.user + c.system) / 1000);
    return wall;
  };
  try {
    for (let i = 0; i < warmup; i++) opts.onStep?.('warmup', i, await timed(trainOnce));
    const stepMs: number[] = [];
    cpuMs.length = 0;
    for (let i = 0; i < steps; i++) {
      const ms = await timed(trainOnce);
      stepMs.push(ms);
      opts.onStep?.('train', i, ms);
    }
    const stepCpuMs = [...cpuMs];
    let flops: number | null = null;
    let kernelMs: KernelTime[] | null = null;
    let tensorPeak: number | null = null;
    if (profile) {
      const info = await tf.profile(() => trainOnce());
      tensorPeak = info.peakBytes;
      tf.dispose(info.result as tf.Tensor);
      flops = totalFlops(info.kernels as unknown as KernelRecord[]);
      const byName = new Map<string, KernelTime>();
      for (const k of info.kernels) {
        const e = byName.get(k.name) ?? { name: k.name, calls: 0, ms: 0 };
        e.calls++;
        e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
        byName.set(k.name, e);
      }
      kernelMs = [...byName.values()].sort((a, b) => b.ms - a.ms).map((k) => ({ ...k, ms: round(k.ms) }));
    }
    const inferMs: number[] = [];
    // In the same parts as training: a tidy keeps every intermediate until it ends, so one per part.
    const inferOnce = (): tf.Tensor => (parts.length === 1 ? tf.tidy(() => net.infer(x)) : tf.tidy(() => tf.concat(parts.map((p) => tf.tidy(() => net.infer(p))), 0)));
    await timed(inferOnce);
    cpuMs.length = 0;
    for (let i = 0; i < steps; i++) {
      const ms = await timed(inferOnce);
      inferMs.push(ms);
      opts.onStep?.('infer', i, ms);
    }
    const msPerStep = median(stepMs);
    return {
      backend: tf.getBackend(),
      batch,
      size,
      warmup,
      steps,
      ms_per_step: round(msPerStep),
      step_ms: stepMs.map((m) => round(m)),
      cpu_ms_per_step: round(median(stepCpuMs)),
      gflop_per_step: flops === null ? null : round(flops / 1e9, 2),
      gflop_per_s: flops === null ? null : round(flops / 1e9 / (msPerStep / 1000), 2),
      peak_rss_mb: peakRssMb(),
      wasm_heap_mb: wasmHeapMb(),
      tensor_peak_mb: tensorPeak === null ? null : round(tensorPeak / 2 ** 20),
      micro_batch: sizes[0]!,
      micro_batches: sizes.length,
      ms_per_slice: round(median(inferMs) / batch, 2),
      cpu_ms_per_slice: round(median(cpuMs) / batch, 2),
      kernel_ms: kernelMs,
    };
  } catch (err) {
    throw explainAbort(err, sizes[0]!, size);
  } finally {
    optimizer.dispose();
    if (parts.length > 1) tf.dispose(parts);
    x.dispose();
    net.dispose();
  }
}
