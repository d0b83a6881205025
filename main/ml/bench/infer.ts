import { cpus, loadavg } from 'node:os';
import { tf } from '../tf.js';
import type { ModelConfig } from '../config.js';
import { createNet, disposeNet } from '../unet.js';
import { createInferenceRuntime, loadOnnxRuntime, type InferenceRuntime, type RuntimeName } from '../infer/runtime.js';
import { median, peakRssMb } from './trainStep.js';

export interface InferBenchOptions {
  model: ModelConfig;
  batch: number;
  size: number;
  /** Timed batches per runtime (the median is reported). */
  iterations?: number;
  warmup?: number;
  /** onnxruntime session threads (default: every core). */
  threads?: number;
  runtimes?: RuntimeName[];
  onBatch?: (runtime: RuntimeName, index: number, ms: number) => void;
}

export interface InferRuntimeFigure {
  runtime: RuntimeName;
  /** What ran: tfjs's backend or onnxruntime's version and threads. */
  detail: string;
  /** Median wall time of one batch divided by the batch size. */
  ms_per_slice: number;
  /** Median process CPU time (all threads) of one batch divided by the batch size. */
  cpu_ms_per_slice: number;
  batch_ms: number[];
}

export interface InferBenchResult {
  batch: number;
  size: number;
  iterations: number;
  results: InferRuntimeFigure[];
  /** Runtimes asked for that could not run here, with the reason. */
  unavailable: Array<{ runtime: RuntimeName; reason: string }>;
  peak_rss_mb: number;
  /** 1-minute load average when the measurement ended (the machine may be shared). */
  load_average: number;
}

const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

function benchImages(n: number): Float32Array {
  const v = new Float32Array(n);
  let s = 777;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 4294967296;
  }
  return v;
}

/** Inference of the U-Net backbone (embedding output) through each runtime, same weights and input. */
export async function benchInfer(opts: InferBenchOptions): Promise<InferBenchResult> {
  const { batch, size, iterations = 5, warmup = 1 } = opts;
  if (!(batch >= 1 && size >= 1 && iterations >= 1 && warmup >= 0)) throw new Error(`bench infer: batch, size and iterations must be positive (got ${batch}, ${size}, ${iterations})`);
  const wanted = opts.runtimes ?? ['tfjs', 'onnxruntime'];
  const net = createNet(opts.model, 1, false);
  const x = benchImages(batch * size * size * opts.model.unet.inChannels);
  const results: InferRuntimeFigure[] = [];
  const unavailable: InferBenchResult['unavailable'] = [];
  try {
    for (const name of wanted) {
      if (name === 'onnxruntime') {
        const ort = await loadOnnxRuntime();
        if (ort instanceof Error) {
          unavailable.push({ runtime: name, reason: ort.message.split('\n')[0]! });
          continue;
        }
      }
      const rt: InferenceRuntime = await createInferenceRuntime(net, { prefer: name, threads: opts.threads ?? cpus().length });
      try {
        for (let i = 0; i < warmup; i++) await rt.run(x, batch, size);
        const wall: number[] = [];
        const cpu: number[] = [];
        for (let i = 0; i < iterations; i++) {
          const c0 = process.cpuUsage();
          const t0 = performance.now();
          await rt.run(x, batch, size);
          const ms = performance.now() - t0;
          const c = process.cpuUsage(c0);
          wall.push(ms);
          cpu.push((c.user + c.system) / 1000);
          opts.onBatch?.(name, i, ms);
        }
        results.push({
          runtime: name,
          detail: rt.name === 'tfjs' ? `tfjs-${tf.getBackend()}` : rt.reason.split(':')[0]!,
          ms_per_slice: round(median(wall) / batch),
          cpu_ms_per_slice: round(median(cpu) / batch),
          batch_ms: wall.map((m) => round(m, 1)),
        });
      } finally {
        await rt.dispose();
      }
    }
  } finally {
    disposeNet(net);
  }
  return { batch, size, iterations, results, unavailable, peak_rss_mb: peakRssMb(), load_average: round(loadavg()[0]!, 1) };
}
