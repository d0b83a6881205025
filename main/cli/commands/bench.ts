import { cpus } from 'node:os';
import { initBackend } from '../../ml/backends/init.js';
import { benchTrainStep } from '../../ml/bench/trainStep.js';
import { unetBenchNet } from '../../ml/bench/unetNet.js';
import { benchInfer } from '../../ml/bench/infer.js';
import type { RuntimeName } from '../../ml/infer/runtime.js';
import { levelChannels } from '../../ml/unet.js';
import { modelPreset, pretrainConfig, type PresetName } from '../../ml/config.js';
import { benchParallelStep } from '../../ml/bench/parallel.js';
import { maxImagesPerInstance } from '../../ml/memory.js';
import { parse, jsonOption, positiveInt, UsageError, type Command } from '../command.js';
import { SUMMARIES } from '../summaries.js';

const USAGE = [
  'pix2rep bench train-step [--preset compact|paper] [--batch B] [--size PX] [--steps N] [--warmup N] [--workers N]',
  '                         [--micro-batch M] [--json]',
  '',
  'Times training steps (forward, backward and Adam update of the U-Net backbone) and inference on the compute',
  'backend that training would use (PIX2REP_BACKEND forces one). Reports the median step after warm-up, its',
  'conv/matmul GFLOPs counted from the executed kernels, peak resident memory, inference time per slice and the',
  'time per kernel of one profiled step. --json prints one JSON object.',
  'Memory: peak resident set, wasm heap size and peak tensor bytes. A batch larger than one wasm heap holds is',
  'run as micro-batches of at most M images (default: estimated from the activation memory, ml/memory.ts) whose',
  'gradients are accumulated before the update.',
  'With --workers N it times full Pix2Rep steps (both branches, head, loss) data-parallel over N worker threads',
  '(each its own wasm instance; N = 1 is the single-engine step) instead.',
  '',
  'pix2rep bench infer [--preset compact|paper] [--batch B] [--size PX] [--steps N] [--threads T]',
  '                    [--runtime tfjs|onnxruntime|all] [--json]',
  '',
  'Times inference of the U-Net backbone through tfjs (the active backend) and onnxruntime-node (when',
  'installed; T threads, default every core), same weights and input: median ms and CPU ms per slice.',
  '',
  'pix2rep bench import [--runs N] [--json]     import of the 100 ACDC volumes and of the 150-file MR series',
  '                                             (files/s; real data from PIX2REP_TEST_DATA, default ../shared/data)',
  'pix2rep bench library [--samples N] [--json] library.listStudies latency while a pretraining job trains',
  'pix2rep bench embed [--json]                 embedding of a slice, similarity against 10 slices, projections',
  'pix2rep bench augment [--runs N] [--size PX] [--json]',
  '                                             augmentation of one slice (default 128×128): a downstream image+label',
  '                                             pair, the Mean Teacher views, the pretraining views (median ms per',
  '                                             slice over N runs of 50, default 7; wall and CPU time)',
].join('\n');


export const benchCommand: Command = {
  name: 'bench',
  summary: SUMMARIES.bench,
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      {
        ...jsonOption,
        preset: { type: 'string', default: 'compact' },
        batch: { type: 'string' },
        size: { type: 'string' },
        steps: { type: 'string' },
        warmup: { type: 'string' },
        threads: { type: 'string' },
        workers: { type: 'string' },
        runtime: { type: 'string' },
        runs: { type: 'string' },
        samples: { type: 'string' },
        'micro-batch': { type: 'string' },
      },
      true,
    );
    const kind = positionals[0];
    if (positionals.length === 1 && (kind === 'import' || kind === 'library' || kind === 'embed' || kind === 'augment')) {
      const { runDataBench } = await import('./bench-data.js');
      return runDataBench(kind, {
        json: values.json,
        runs: positiveInt('runs', values.runs) ?? (kind === 'augment' ? 7 : 1),
        samples: positiveInt('samples', values.samples) ?? 100,
        size: positiveInt('size', values.size) ?? 128,
      });
    }
    if (positionals.length !== 1 || (kind !== 'train-step' && kind !== 'infer')) throw new UsageError(`expected train-step, infer, import, library, embed or augment, got "${positionals.join(' ')}"`);
    const preset = values.preset as PresetName;
    if (preset !== 'compact' && preset !== 'paper') throw new UsageError(`--preset must be compact or paper, got "${values.preset}"`);
    const batch = positiveInt('batch', values.batch) ?? 8;
    const size = positiveInt('size', values.size) ?? 128;
    const steps = positiveInt('steps', values.steps) ?? 5;
    const warmup = values.warmup === '0' ? 0 : positiveInt('warmup', values.warmup) ?? 2;
    const cfg = modelPreset(preset);
    const div = 2 ** (cfg.unet.levels - 1);
    if (size % div !== 0) throw new UsageError(`--size must be a multiple of ${div} for the ${preset} U-Net (${cfg.unet.levels} levels), got ${size}`);

    const active = await initBackend();
    let microBatch: number;
    try {
      // Per engine instance: with --workers each worker plans its own shard.
      microBatch = positiveInt('micro-batch', values['micro-batch']) ?? maxImagesPerInstance(active.name, cfg.unet, size, values.workers !== undefined ? 2 : 1);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (positionals[0] === 'infer') return runInferBench(values, { preset, batch, size, steps, backend: `${active.name} (${active.reason})` });
    if (values.workers !== undefined) {
      const workers = positiveInt('workers', values.workers) ?? cpus().length;
      if (workers > batch) throw new UsageError(`--workers ${workers} exceeds --batch ${batch}: each worker needs at least one image`);
      const pcfg = pretrainConfig(preset, { preprocess: { size }, train: { batch } });
      const r = await benchParallelStep(pcfg, { workers, steps, warmup, backend: active.name, maxImages: microBatch, onStep: (i, ms) => values.json || process.stderr.write(`  step ${i + 1}: ${(ms / 1000).toFixed(2)} s\n`) });
      const report = { ...r, kind: 'pix2rep-step', preset, batch, size, samples: pcfg.loss.samples, max_images_per_worker: Number.isFinite(microBatch) ? microBatch : null, machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version } };
      process.stdout.write(values.json ? JSON.stringify(report) + '\n' : `pix2rep step ${(r.ms_per_step / 1000).toFixed(2)} s median with ${workers} worker(s) (CPU ${(r.cpu_ms_per_step / 1000).toFixed(2)} s, all threads), backend ${r.backend}, load ${r.load_average}\n`);
      return 0;
    }
    const log = (text: string) => {
      if (!values.json) process.stderr.write(text + '\n');
    };
    log(`backend ${active.name} (${active.reason}); ${preset} U-Net ${levelChannels(cfg.unet).join('-')}, D ${cfg.unet.embedding}; batch ${batch}, ${size}×${size}`);
    const result = await benchTrainStep({
      build: () => unetBenchNet(cfg),
      batch,
      size,
      steps,
      warmup,
      microBatch,
      onStep: (phase, i, ms) => log(`  ${phase} ${i + 1}: ${(ms / 1000).toFixed(2)} s`),
    });
    const report = {
      ...result,
      backend: active.name,
      preset,
      levels: cfg.unet.levels,
      base: cfg.unet.base,
      embedding: cfg.unet.embedding,
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform}-${process.arch}` },
    };
    if (values.json) {
      process.stdout.write(JSON.stringify(report) + '\n');
      return 0;
    }
    const top = (report.kernel_ms ?? []).slice(0, 8).map((k) => `${k.name} ${(k.ms / 1000).toFixed(2)} s (${k.calls}×)`);
    process.stdout.write(
      [
        `train step   ${(report.ms_per_step / 1000).toFixed(2)} s median of ${steps} (CPU ${(report.cpu_ms_per_step / 1000).toFixed(2)} s)`,
        `work         ${report.gflop_per_step ?? '?'} GFLOP per step, ${report.gflop_per_s ?? '?'} GFLOP/s`,
        `inference    ${report.ms_per_slice} ms per slice (batch ${batch})`,
        `peak memory  ${report.peak_rss_mb} MB resident, wasm heap ${report.wasm_heap_mb ?? '-'} MB, tensors ${report.tensor_peak_mb ?? '-'} MB at peak`,
        `passes       ${report.micro_batches} micro-batch(es) of up to ${report.micro_batch} images`,
        `kernels      ${top.join(', ')}`,
      ].join('\n') + '\n',
    );
    return 0;
  },
};

async function runInferBench(
  values: { json?: boolean; threads?: string; runtime?: string },
  o: { preset: PresetName; batch: number; size: number; steps: number; backend: string },
): Promise<number> {
  const runtime = values.runtime ?? 'all';
  if (!['tfjs', 'onnxruntime', 'all'].includes(runtime)) throw new UsageError(`--runtime must be tfjs, onnxruntime or all, got "${runtime}"`);
  const runtimes: RuntimeName[] = runtime === 'all' ? ['tfjs', 'onnxruntime'] : [runtime as RuntimeName];
  const threads = positiveInt('threads', values.threads) ?? cpus().length;
  const cfg = modelPreset(o.preset);
  const log = (text: string) => {
    if (!values.json) process.stderr.write(text + '\n');
  };
  log(`tfjs backend ${o.backend}; ${o.preset} U-Net ${levelChannels(cfg.unet).join('-')}, D ${cfg.unet.embedding}; batch ${o.batch}, ${o.size}×${o.size}`);
  const result = await benchInfer({ model: cfg, batch: o.batch, size: o.size, iterations: o.steps, threads, runtimes, onBatch: (r, i, ms) => log(`  ${r} batch ${i + 1}: ${ms.toFixed(0)} ms`) });
  const report = {
    ...result,
    preset: o.preset,
    threads,
    // Flat figures for scripts: ms per slice of each runtime that ran.
    ...Object.fromEntries(result.results.map((r) => [`ms_per_slice_${r.runtime}`, r.ms_per_slice])),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform}-${process.arch}` },
  };
  if (values.json) {
    process.stdout.write(JSON.stringify(report) + '\n');
    return 0;
  }
  const lines = result.results.map((r) => `${r.runtime.padEnd(12)} ${r.ms_per_slice} ms per slice (CPU ${r.cpu_ms_per_slice} ms), ${r.detail}`);
  for (const u of result.unavailable) lines.push(`${u.runtime.padEnd(12)} not available: ${u.reason}`);
  lines.push(`peak memory  ${result.peak_rss_mb} MB resident; load average ${result.load_average}`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
