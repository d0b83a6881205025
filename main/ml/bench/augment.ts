import { cpus, loadavg } from 'node:os';
import { deriveSeed, makeViews, Rng } from '../augment/index.js';
import { DEFAULT_AUGMENT } from '../config.js';
import { augmentPair, consistencyViews } from '../fewshot/augment.js';
import { DEFAULT_DOWNSTREAM_AUGMENT } from '../fewshot/config.js';
import { median } from './trainStep.js';

/**
 * Augmentation on the CPU, per slice: the downstream pair (image + label, what every supervised, fine-tune
 * and Mean Teacher step does for each of its 8 slices, and the linear probe for each cached copy), the two
 * Mean Teacher views of an unlabeled slice, and the two pretraining views. Each run augments `perRun` slices
 * with seeds that differ per slice, so the transforms fire as often as in training (gamma on half the
 * downstream slices, the bias field on 30 %, …); the three cases are interleaved run by run, so that a load
 * that comes and goes on a shared machine falls on each of them alike.
 */

export interface AugmentBenchCase {
  name: string;
  /** Median over the runs of the wall time per slice. */
  ms_per_slice: number;
  /** Median over the runs of the process CPU time per slice: closer to an idle machine's figure when loaded. */
  cpu_ms_per_slice: number;
  run_ms: number[];
  run_cpu_ms: number[];
}

export interface AugmentBenchResult {
  size: number;
  runs: number;
  slices_per_run: number;
  cases: AugmentBenchCase[];
  /** 1-minute load average when the measurement ended (the machine may be shared). */
  load_average: number;
  machine: { cpus: number; model: string; node: string };
}

/** A short-axis-like slice in [0, 1] (blood pool, myocardium, texture) with a label map, the same every time. */
export function benchSlice(size: number): { image: Float32Array; label: Uint8Array } {
  const image = new Float32Array(size * size);
  const label = new Uint8Array(size * size);
  const r = new Rng(7);
  const c = (size - 1) / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const d = Math.hypot(x - c, y - c) / size;
      const i = y * size + x;
      const tex = 0.05 * Math.sin(x * 0.7 + y * 0.3) + 0.04 * r.next();
      image[i] = (d < 0.12 ? 0.85 : d < 0.18 ? 0.4 : 0.15) + tex;
      label[i] = d < 0.12 ? 3 : d < 0.18 ? 2 : 0;
    }
  }
  return { image, label };
}

export function benchAugment(opts: { size?: number; runs?: number; slicesPerRun?: number; onRun?: (name: string, run: number, msPerSlice: number) => void } = {}): AugmentBenchResult {
  const size = opts.size ?? 128;
  const runs = opts.runs ?? 7;
  const perRun = opts.slicesPerRun ?? 50;
  const { image, label } = benchSlice(size);
  const cases: Array<{ name: string; once: (seed: number) => unknown }> = [
    { name: 'downstream pair (augmentPair)', once: (seed) => augmentPair(new Rng(seed), DEFAULT_DOWNSTREAM_AUGMENT, image, label, size) },
    { name: 'Mean Teacher views (consistencyViews)', once: (seed) => consistencyViews(new Rng(seed), DEFAULT_DOWNSTREAM_AUGMENT, image, size) },
    { name: 'pretraining views (makeViews)', once: (seed) => makeViews(new Rng(seed), DEFAULT_AUGMENT, image, size, size) },
  ];
  const wall = cases.map((): number[] => []);
  const cpu = cases.map((): number[] => []);
  // Run −1 warms the JIT up and is not counted.
  for (let run = -1; run < runs; run++) {
    cases.forEach((c, k) => {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      for (let i = 0; i < perRun; i++) c.once(deriveSeed(run + 1, i));
      const used = process.cpuUsage(c0);
      const ms = (performance.now() - t0) / perRun;
      if (run < 0) return;
      wall[k]!.push(ms);
      cpu[k]!.push((used.user + used.system) / 1000 / perRun);
      opts.onRun?.(c.name, run, ms);
    });
  }
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    size,
    runs,
    slices_per_run: perRun,
    cases: cases.map((c, k) => ({
      name: c.name,
      ms_per_slice: r3(median(wall[k]!)),
      cpu_ms_per_slice: r3(median(cpu[k]!)),
      run_ms: wall[k]!.map(r3),
      run_cpu_ms: cpu[k]!.map(r3),
    })),
    load_average: Math.round(loadavg()[0]! * 10) / 10,
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
  };
}
