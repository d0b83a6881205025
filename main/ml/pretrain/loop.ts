import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tf } from '../tf.js';
import { writeViaTemp } from '../../library/atomic.js';
import type { PretrainConfig } from '../config.js';
import { validateConfig } from '../config.js';
import { stepsPerEpochOf } from './expectation.js';
import { deriveSeed, Rng } from '../augment/rng.js';
import { createNet, disposeNet, type Net } from '../unet.js';
import { Adam } from './adam.js';
import { buildCheckpoint, readCheckpoint, restoreInto, writeCheckpoint, type CheckpointHeader, type HistoryPoint, type ValidationPoint } from './checkpoint.js';
import { splitSlices, type SliceSource } from './source.js';
import { batchLoss, prepareBatch, samplePixelPairs, trainStep, type BatchViews, type PixelPairs } from './step.js';
import { ParallelTrainer } from '../parallel/trainer.js';
import { splitBatch } from '../parallel/shard.js';
import { maxImagesPerInstance } from '../memory.js';
import { ReadoutTracker, type ReadoutOptions, type ReadoutPoint } from './readout.js';

/**
 * The pretraining loop: by steps, epochs or until a clock time; validation loss on a held-out 10% of slices;
 * best and last checkpoints; exact resume. Every random stream is derived from (seed, stream, index), so the
 * data order of epoch e, the views of step s and the validation views are functions of the seed alone and a
 * resumed run repeats exactly what the uninterrupted run would have done.
 */

/** Random streams (second argument of deriveSeed). */
const STREAM = { init: 0, step: 1, validation: 2, order: 3 } as const;

export interface PretrainProgress {
  kind: 'step' | 'validation';
  step: number;
  /** Step at which the run stops by steps or epochs (config.train.maxEpochs when neither was given). */
  totalSteps: number;
  epoch: number;
  stepsPerEpoch: number;
  loss: number;
  /** Exponential moving average of the step loss (what a progress bar shows). */
  smoothedLoss: number;
  validationLoss?: number;
  bestValidationLoss?: number;
  /** Training slices per second over recent steps. */
  slicesPerSecond: number;
  etaSeconds: number | null;
}

export type StopReason = 'steps' | 'epochs' | 'until' | 'cancelled';

export interface PretrainOptions {
  config: PretrainConfig;
  source: SliceSource;
  /** Directory for last.p2r and best.p2r (created). */
  outDir: string;
  /** Total steps to reach (a resumed run counts the steps already done). */
  steps?: number;
  /** Total epochs to reach. Without steps or epochs: config.train.maxEpochs. */
  epochs?: number;
  /** Stop at this wall-clock time (checked before every step). */
  until?: Date;
  /** Continue from outDir/last.p2r when it exists; the checkpoint's configuration is used. */
  resume?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: PretrainProgress) => void;
  /** Steps between last.p2r writes besides validations and the end (default: once per epoch). */
  checkpointEvery?: number;
  /**
   * Also write last.p2r when this many minutes passed since the last write (default 10), so that a killed
   * run on a large library loses minutes, not an epoch.
   */
  checkpointMinutes?: number;
  /**
   * Data-parallel training over this many worker threads (ml/parallel: per-shard BatchNorm statistics and
   * per-shard contrastive losses, see its notes). 1 or unset: the single-engine step. This process keeps its
   * own copy of the network, applying the same averaged update, for validation and checkpoints.
   */
  workers?: number;
  /**
   * Most images one engine puts through a step at once; a larger batch (or worker shard) is split into
   * micro-batches whose gradients are accumulated (pretrain/step.ts microBatchGrads). Default: what one
   * engine's memory holds (ml/memory.ts: the wasm heap cap; no limit on native backends).
   */
  maxImagesPerStep?: number;
  /**
   * Linear-probe readout every N steps (off when absent). Not part of the configuration: a checkpoint's
   * config and resume are unaffected; the points go to outDir/readout.json and to `onReadout`.
   */
  readout?: ReadoutOptions;
  onReadout?: (p: ReadoutPoint) => void;
  /**
   * Keep the checkpoint each readout measured as `step-<N>.p2r` beside last.p2r (about 6 MB each for the compact
   * U-Net), so that downstream training can later start from any point of the curve, not only the last.
   */
  keepReadoutCheckpoints?: boolean;
}

export interface PretrainResult {
  step: number;
  epoch: number;
  stopped: StopReason;
  lastLoss: number | null;
  bestValidationLoss: number | null;
  history: HistoryPoint[];
  validation: ValidationPoint[];
  lastCheckpoint: string;
  bestCheckpoint: string | null;
  resumedFrom: number | null;
  /** The configuration trained with (the checkpoint's when resumed). */
  config: PretrainConfig;
  /** Readout points of the whole run (earlier sessions' included); empty without `readout`. */
  readout: ReadoutPoint[];
  /** Data-parallel workers the steps ran on (1: this process alone). */
  workers: number;
}

export const LAST = 'last.p2r';
export const BEST = 'best.p2r';

/** The kept checkpoint of the readout at this step (PretrainOptions.keepReadoutCheckpoints). */
export const readoutCheckpointName = (step: number): string => `step-${step}.p2r`;

/** The steps whose readout checkpoint a run folder keeps, ascending (none for a missing folder). */
export function keptReadoutSteps(outDir: string): number[] {
  if (!existsSync(outDir)) return [];
  return readdirSync(outDir)
    .map((n) => /^step-(\d+)\.p2r$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

export async function runPretraining(opts: PretrainOptions): Promise<PretrainResult> {
  const { source } = opts;
  await mkdir(opts.outDir, { recursive: true });
  const lastPath = join(opts.outDir, LAST);
  const bestPath = join(opts.outDir, BEST);

  let config = opts.config;
  let resumeHeader: CheckpointHeader | null = null;
  let resumeCk: Awaited<ReturnType<typeof readCheckpoint>> | null = null;
  if (opts.resume && existsSync(lastPath)) {
    resumeCk = await readCheckpoint(lastPath);
    resumeHeader = resumeCk.header;
    config = resumeHeader.config;
  }
  validateConfig(config);
  if (source.size !== config.preprocess.size) throw new Error(`slice source delivers ${source.size}² slices, the configuration expects ${config.preprocess.size}²`);

  const { seed, batch, validationFraction } = config.train;
  const split = splitSlices(source.slices, validationFraction, seed);
  if (split.train.length === 0) throw new Error('no training slices (the source is empty)');
  const batchSize = Math.min(batch, split.train.length);
  const stepsPerEpoch = stepsPerEpochOf(split.train.length, batch);
  const totalSteps = opts.steps ?? (opts.epochs ?? config.train.maxEpochs) * stepsPerEpoch;
  const byEpochs = opts.steps === undefined;
  const validateEvery = config.train.validateEvery > 0 ? config.train.validateEvery : stepsPerEpoch;
  const checkpointEvery = opts.checkpointEvery ?? stepsPerEpoch;
  const valSlices = split.validation.slice(0, config.train.validationMaxSlices);
  const validationSet = createHash('sha256').update(JSON.stringify(valSlices.map((i) => source.slices[i]!.id))).digest('hex').slice(0, 16);

  const net = createNet(config.model, deriveSeed(seed, STREAM.init));
  const adam = new Adam(config.optimizer, net.params);
  let step = 0;
  let history: HistoryPoint[] = [];
  let validation: ValidationPoint[] = [];
  let best: number | null = null;
  if (resumeCk && resumeHeader) {
    try {
      restoreInto(resumeCk, net, adam);
    } catch (err) {
      adam.dispose();
      disposeNet(net);
      throw new Error(`cannot resume from ${lastPath}: ${(err as Error).message}`);
    }
    step = resumeHeader.step;
    history = resumeHeader.history;
    validation = resumeHeader.validation;
    // The best loss carries over only when it was measured on these validation slices: another split (a grown
    // library, or a checkpoint from before slice ids stopped naming the data's folder) starts best afresh, so
    // best.p2r is chosen among losses that compare.
    best = resumeHeader.validationSet === validationSet ? resumeHeader.bestValidationLoss : null;
    resumeCk = null;
  }
  const resumedFrom = resumeHeader ? step : null;
  const readout = opts.readout ? new ReadoutTracker(opts.outDir, opts.readout, step, config) : null;
  let maxImages: number;
  try {
    maxImages = opts.maxImagesPerStep ?? maxImagesPerInstance(tf.getBackend(), config.model.unet, source.size, 2);
  } catch (err) {
    adam.dispose();
    disposeNet(net);
    throw err;
  }
  const microBatches = (images: number) => Math.ceil(images / maxImages);
  let parallel: ParallelTrainer | null = null;
  if ((opts.workers ?? 1) > 1) {
    try {
      // Every worker needs at least one image of the batch.
      parallel = await startParallel(Math.min(opts.workers!, batchSize), config, net, adam, maxImages);
    } catch (err) {
      adam.dispose();
      disposeNet(net);
      throw err;
    }
  }

  const orderCache = new Map<number, Int32Array>();
  const epochOrder = (e: number) => {
    let p = orderCache.get(e);
    if (!p) {
      orderCache.clear();
      p = new Rng(deriveSeed(seed, STREAM.order, e)).permutation(split.train.length);
      orderCache.set(e, p);
    }
    return p;
  };
  const loadImages = (indices: number[]) => Promise.all(indices.map((i) => source.load(i)));

  let savedStep = -1;
  let savedAt = Date.now();
  const checkpointMs = (opts.checkpointMinutes ?? 10) * 60_000;
  const checkpoint = async (path: string) => {
    if (path === lastPath) {
      savedStep = step;
      savedAt = Date.now();
    }
    const ck = buildCheckpoint(net, adam, {
      backend: tf.getBackend(),
      step,
      epoch: step / stepsPerEpoch,
      rng: { seed, scheme: 'mulberry32(deriveSeed(seed, stream, index))' },
      config,
      provenance: source.provenance(),
      split: { train: split.train.length, validation: split.validation.length },
      validationSet,
      history,
      validation,
      bestValidationLoss: best,
    });
    await writeCheckpoint(path, ck);
  };

  const validate = async (): Promise<number | null> => {
    if (valSlices.length === 0) return null;
    let total = 0;
    let count = 0;
    for (let i = 0; i < valSlices.length; i += batchSize) {
      const idx = valSlices.slice(i, i + batchSize);
      // Fixed views per validation batch: losses of different passes compare the network, not the draws.
      const rng = new Rng(deriveSeed(seed, STREAM.validation, i));
      const views = prepareBatch(await loadImages(idx), source.size, config.augment, rng);
      const pairs = samplePixelPairs(views, config.loss.samples, rng);
      if (pairs.batch.length < 2) continue;
      // In parts as training is, when the batch exceeds what one engine holds (pair-weighted, as there).
      const parts = microBatches(idx.length);
      const shards = parts > 1 ? splitBatch(views, pairs, parts).filter((s) => s.pairs.batch.length >= 2) : [{ views, pairs }];
      const used = shards.reduce((n, s) => n + s.pairs.batch.length, 0);
      for (const s of shards) {
        const l = batchLoss(net, s.views, s.pairs, config.loss, false);
        total += shards.length === 1 ? l.dataSync()[0]! * idx.length : (l.dataSync()[0]! * idx.length * s.pairs.batch.length) / used;
        l.dispose();
      }
      count += idx.length;
    }
    return count > 0 ? total / count : null;
  };

  let smoothed = history.length ? history[history.length - 1]!.loss : NaN;
  let rate = 0;
  let lastLoss: number | null = history.length ? history[history.length - 1]!.loss : null;
  let stopped: StopReason = byEpochs ? 'epochs' : 'steps';
  try {
    if (step === 0 && validation.length === 0 && totalSteps > 0 && !opts.signal?.aborted && !(opts.until && Date.now() >= opts.until.getTime())) {
      // The untrained network's validation loss: the baseline every later point of the curve compares with.
      const v0 = await validate();
      if (v0 !== null) validation.push({ step: 0, epoch: 0, loss: v0 });
    }
    const measureReadout = async () => {
      // The probe reads the backbone from a checkpoint of this very step (written now if it is not yet).
      if (savedStep !== step) await checkpoint(lastPath);
      // Not inside `onReadout?.(…)`: an absent callback would skip evaluating its argument, the measurement too.
      const point = await readout!.measure(lastPath, config, { step, epoch: step / stepsPerEpoch });
      if (opts.keepReadoutCheckpoints) await writeViaTemp(join(opts.outDir, readoutCheckpointName(step)), (tmp) => copyFile(lastPath, tmp));
      opts.onReadout?.(point);
    };
    // Step 0 of a fresh run, and a resumed step whose point is missing (a run stopped between the checkpoint of a
    // due step and its readout, or earlier points of another probe dropped).
    if (readout && totalSteps > 0 && readout.due(step, totalSteps) && !opts.signal?.aborted) await measureReadout();
    while (step < totalSteps) {
      if (opts.signal?.aborted) {
        stopped = 'cancelled';
        break;
      }
      if (opts.until && Date.now() >= opts.until.getTime()) {
        stopped = 'until';
        break;
      }
      const t0 = performance.now();
      const epoch = Math.floor(step / stepsPerEpoch);
      const pos = step % stepsPerEpoch;
      const order = epochOrder(epoch);
      const idx = Array.from(order.subarray(pos * batchSize, (pos + 1) * batchSize), (j) => split.train[j]!);
      const rng = new Rng(deriveSeed(seed, STREAM.step, step));
      const views = prepareBatch(await loadImages(idx), source.size, config.augment, rng);
      const pairs = samplePixelPairs(views, config.loss.samples, rng);
      const loss = parallel ? await applyParallelStep(parallel, net, adam, views, pairs) : trainStep(net, adam, views, pairs, config.loss, microBatches(idx.length));
      step += 1;
      lastLoss = loss;
      history.push({ step, loss });
      smoothed = Number.isNaN(smoothed) ? loss : 0.9 * smoothed + 0.1 * loss;
      const dt = (performance.now() - t0) / 1000;
      rate = rate === 0 ? idx.length / dt : 0.8 * rate + 0.2 * (idx.length / dt);
      const secPerStep = batchSize / rate;
      let eta: number | null = (totalSteps - step) * secPerStep;
      if (opts.until) eta = Math.min(eta, Math.max(0, (opts.until.getTime() - Date.now()) / 1000));
      const progress: PretrainProgress = {
        kind: 'step',
        step,
        totalSteps,
        epoch: step / stepsPerEpoch,
        stepsPerEpoch,
        loss,
        smoothedLoss: smoothed,
        slicesPerSecond: rate,
        etaSeconds: Number.isFinite(eta) ? eta : null,
        ...(best !== null ? { bestValidationLoss: best } : {}),
      };
      opts.onProgress?.(progress);

      let wroteLast = false;
      if (step % validateEvery === 0 || step === totalSteps) {
        const v = await validate();
        if (v !== null) {
          validation.push({ step, epoch: step / stepsPerEpoch, loss: v });
          const improved = best === null || v < best;
          if (improved) best = v;
          if (improved) await checkpoint(bestPath);
          opts.onProgress?.({ ...progress, kind: 'validation', validationLoss: v, bestValidationLoss: best! });
        }
        await checkpoint(lastPath);
        wroteLast = true;
      }
      if (!wroteLast && (step % checkpointEvery === 0 || Date.now() - savedAt >= checkpointMs)) await checkpoint(lastPath);
      if (readout?.due(step, totalSteps)) await measureReadout();
    }
    if (savedStep !== step) await checkpoint(lastPath);
  } finally {
    await parallel?.close();
    adam.dispose();
    disposeNet(net);
  }
  return {
    workers: parallel?.workers ?? 1,
    step,
    epoch: step / stepsPerEpoch,
    stopped,
    lastLoss,
    bestValidationLoss: best,
    history,
    validation,
    lastCheckpoint: lastPath,
    bestCheckpoint: existsSync(bestPath) ? bestPath : null,
    resumedFrom,
    config,
    readout: readout?.record.points ?? [],
  };
}

const named = (dict: Record<string, tf.Variable>): Array<[string, Float32Array]> => Object.entries(dict).map(([n, v]) => [n, v.dataSync().slice() as Float32Array]);

async function startParallel(workers: number, config: PretrainConfig, net: Net, adam: Adam, maxImages: number): Promise<ParallelTrainer> {
  const b = tf.getBackend();
  // Workers compute on this process's backend, so that its copy of the network stays bit-identical to theirs.
  const backend = b === 'wasm' || b === 'cpu' ? b : undefined;
  return ParallelTrainer.start({
    workers,
    model: config.model,
    loss: config.loss,
    optimizer: config.optimizer,
    tensors: [...named(net.params), ...named(net.stats)],
    adam: { step: adam.step, m: named(adam.m), v: named(adam.v) },
    backend,
    maxImages,
  });
}

/** One data-parallel step, then the same averaged update on this process's copy of the network. */
async function applyParallelStep(parallel: ParallelTrainer, net: Net, adam: Adam, views: BatchViews, pairs: PixelPairs): Promise<number> {
  const r = await parallel.step(views, pairs);
  for (const [name, values] of r.stats) {
    const v = net.stats[name];
    if (!v) continue;
    const t = tf.tensor(values, v.shape, 'float32');
    v.assign(t);
    t.dispose();
  }
  const grads: Record<string, tf.Tensor> = {};
  for (const [name, g] of r.grads) grads[name] = tf.tensor(g, net.params[name]!.shape, 'float32');
  try {
    adam.apply(net.params, grads);
  } finally {
    tf.dispose(Object.values(grads));
  }
  return r.loss;
}

/** A network from a checkpoint (for inference, embedding maps and downstream training). */
export async function loadPretrainedNet(path: string, withHead = false): Promise<{ net: Net; header: CheckpointHeader }> {
  const ck = await readCheckpoint(path);
  const net = createNet(ck.header.config.model, 0, withHead);
  restoreInto(ck, net, null);
  return { net, header: ck.header };
}
