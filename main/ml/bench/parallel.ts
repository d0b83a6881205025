import { loadavg } from 'node:os';
import type { BackendName } from '../../contract/engine.js';
import type { PretrainConfig } from '../config.js';
import { Rng } from '../augment/rng.js';
import { createNet, disposeNet, netTensors } from '../unet.js';
import { prepareBatch, samplePixelPairs } from '../pretrain/step.js';
import { ParallelTrainer } from '../parallel/trainer.js';
import { median, peakRssMb } from './trainStep.js';

export interface ParallelBenchResult {
  workers: number;
  backend: string;
  /** Median wall time of one full Pix2Rep step (both branches, head, loss, backward, averaged update). */
  ms_per_step: number;
  /** Median CPU time of the whole process (parent and every worker thread) per step. */
  cpu_ms_per_step: number;
  step_ms: number[];
  peak_rss_mb: number;
  load_average: number;
}

/** Smooth synthetic slices: the timing must not depend on data, only on shapes. */
function benchImages(count: number, size: number): Float32Array[] {
  return Array.from({ length: count }, (_, k) => {
    const img = new Float32Array(size * size);
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) img[y * size + x] = 0.5 + 0.4 * Math.sin((x + 3 * k) / 7) * Math.cos(y / 9);
    return img;
  });
}

/** Times full data-parallel Pix2Rep steps with `workers` worker threads. */
export async function benchParallelStep(cfg: PretrainConfig, opts: { workers: number; steps: number; warmup: number; backend?: BackendName; maxImages?: number; onStep?: (i: number, ms: number) => void }): Promise<ParallelBenchResult> {
  const size = cfg.preprocess.size;
  const net = createNet(cfg.model, cfg.train.seed);
  const tensors = netTensors(net).map(([n, v]) => [n, v.dataSync().slice() as Float32Array] as [string, Float32Array]);
  disposeNet(net);
  const trainer = await ParallelTrainer.start({ workers: opts.workers, model: cfg.model, loss: cfg.loss, optimizer: cfg.optimizer, tensors, backend: opts.backend, ...(opts.maxImages !== undefined ? { maxImages: opts.maxImages } : {}) });
  try {
    const rng = new Rng(cfg.train.seed);
    const images = benchImages(cfg.train.batch, size);
    const wall: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < opts.warmup + opts.steps; i++) {
      const views = prepareBatch(images, size, cfg.augment, rng);
      const pairs = samplePixelPairs(views, cfg.loss.samples, rng);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await trainer.step(views, pairs);
      const ms = performance.now() - t0;
      const c = process.cpuUsage(c0);
      if (i >= opts.warmup) {
        wall.push(ms);
        cpu.push((c.user + c.system) / 1000);
      }
      opts.onStep?.(i, ms);
    }
    const r1 = (x: number) => Math.round(x * 10) / 10;
    return { workers: opts.workers, backend: trainer.backend, ms_per_step: r1(median(wall)), cpu_ms_per_step: r1(median(cpu)), step_ms: wall.map(r1), peak_rss_mb: peakRssMb(), load_average: r1(loadavg()[0]!) };
  } finally {
    await trainer.close();
  }
}
