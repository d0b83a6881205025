import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../library/atomic.js';
import type { PretrainConfig } from '../config.js';
import { fewShotConfig } from '../fewshot/config.js';
import type { LabeledSlice } from '../fewshot/data.js';
import { disposeSegmenter, predictClasses } from '../fewshot/segmenter.js';
import { classOverlap } from '../fewshot/dice.js';
import { keptPixels, probeCopies } from '../fewshot/probe-budget.js';
import { runFewShot } from '../fewshot/train.js';

/**
 * Readout along pretraining: the linear probe (ml/fewshot, mode `linear`, frozen backbone) trained on a few
 * labeled slices from a checkpoint of the running pretraining, scored by Dice per structure on other labeled
 * slices. It is the cheap measure of representation quality (issue 10): a falling contrastive loss says the
 * network solves its pretext task, the readout says whether that task taught it anything about the heart.
 *
 * The readout is a property of the run, not of the network's configuration: it lives in PretrainOptions and in
 * readout.json beside the checkpoints, never in the checkpoint's config, so switching it on does not change
 * what a resumed run compares against, nor any cache key built from the configuration.
 */

export interface ReadoutOptions {
  /** Steps between readouts (also one at step 0 of a fresh run, and one at the last step). */
  every: number;
  /** Slices the probe trains on (e.g. one dev patient's ED and ES): never the test split. */
  labeled: LabeledSlice[];
  /** Slices the probe is scored on (other dev patients). */
  validation: LabeledSlice[];
  /** Label values of the classes, in the slices' class-index order (index 1 = classes[0]). */
  classes: number[];
  /** A name per class for the record (default `label N`). */
  names?: string[];
  probeSteps: number;
  /** Probe batch (default 8) and seed (default 1: every readout of a run trains its probe identically). */
  batch?: number;
  seed?: number;
  /** Where the slices come from, for the record (patient ids). */
  description?: string;
}

export interface ReadoutPoint {
  step: number;
  epoch: number;
  /** Dice per structure, pooled over the validation slices (overlap summed over slices, then 2|A∩B|/(|A|+|B|)). */
  dice: Record<string, number>;
  /** Mean of the per-structure Dice. */
  mean: number;
  probeSteps: number;
  /**
   * How the probe trained: `balanced-full-batch`, the current probe (probe.ts: cached, standardised features,
   * every pixel in every step, class-balanced cross-entropy); `cached-features`, its predecessor (cached
   * features, mini-batches, soft Dice + cross-entropy, raw features); `streaming`, the backbone streamed at
   * every step (points recorded before the cache existed; absent in those records). Points of different probes
   * are not comparable and are never mixed in one curve.
   */
  probe?: ProbeKind;
  seconds: number;
}

export type ProbeKind = 'balanced-full-batch' | 'cached-features' | 'streaming';

export interface ReadoutRecord {
  version: 1;
  description: string | null;
  structures: string[];
  labeledSlices: number;
  validationSlices: number;
  points: ReadoutPoint[];
}

export const READOUT_FILE = 'readout.json';

/**
 * Probe steps of a readout unless told otherwise. A full-batch step on cached features costs 0.15–0.25 s (128², 4
 * copies of 20 slices, wasm, pretraining sharing the machine), and the fit converges within about 100 steps
 * (issue 10 measurements): 300 leaves a margin for larger or harder label sets.
 */
export const DEFAULT_READOUT_PROBE_STEPS = 300;

/** The readout stored with a pretraining run (null when the run never measured one). */
export function readReadout(outDir: string): ReadoutRecord | null {
  const path = join(outDir, READOUT_FILE);
  if (!existsSync(path)) return null;
  let rec: ReadoutRecord;
  try {
    rec = JSON.parse(readFileSync(path, 'utf8')) as ReadoutRecord;
  } catch (err) {
    throw new Error(`${path}: not a readout record (${(err as Error).message})`);
  }
  if (rec.version !== 1 || !Array.isArray(rec.points)) throw new Error(`${path}: not a readout record (version ${String(rec.version)})`);
  return rec;
}

export function writeReadout(outDir: string, rec: ReadoutRecord): void {
  writeFileAtomic(join(outDir, READOUT_FILE), Buffer.from(JSON.stringify(rec, null, 1), 'utf8'));
}

/**
 * Dice per class index 1..classes−1 pooled over all pixels given; a class absent from both prediction and
 * reference scores 1 (nothing to find, nothing found).
 */
export function pooledDice(pred: Uint8Array, ref: Uint8Array, classes: number): number[] {
  const { inter, ps, rs } = classOverlap(pred, ref, classes);
  const out: number[] = [];
  for (let c = 1; c < classes; c++) out.push(ps[c]! + rs[c]! === 0 ? 1 : (2 * inter[c]!) / (ps[c]! + rs[c]!));
  return out;
}

export function validateReadout(o: ReadoutOptions): void {
  const bad = (m: string): never => {
    throw new Error(`invalid readout: ${m}`);
  };
  if (!Number.isInteger(o.every) || o.every < 1) bad(`every must be a positive integer (got ${o.every})`);
  if (!Number.isInteger(o.probeSteps) || o.probeSteps < 1) bad(`probeSteps must be a positive integer (got ${o.probeSteps})`);
  if (o.labeled.length === 0) bad('no labeled slices to train the probe on');
  if (o.validation.length === 0) bad('no validation slices to score the probe on');
  if (o.classes.length === 0) bad('no classes');
  if (o.names && o.names.length !== o.classes.length) bad(`${o.names.length} names for ${o.classes.length} classes`);
}

/** The probe a readout of this run uses: cached features when they fit the cache (as runFewShot decides). */
export function expectedProbe(o: ReadoutOptions, config: PretrainConfig): ProbeKind {
  // measureReadout scores the validation slices itself: only the labeled slices are cached, and whether the
  // slices themselves (copy 0, no augmentation needed to count it) fit decides cached or streamed.
  const kept = o.labeled.reduce((a, s, i) => a + keptPixels(s.label, i).length, 0);
  return probeCopies([kept], 0, config.preprocess.size, config.model.unet.embedding) > 0 ? 'balanced-full-batch' : 'streaming';
}

/** One readout: a linear probe on the backbone in `checkpoint`, scored on the validation slices. */
export async function measureReadout(checkpoint: string, config: PretrainConfig, o: ReadoutOptions, at: { step: number; epoch: number }): Promise<ReadoutPoint> {
  const t0 = performance.now();
  const size = config.preprocess.size;
  const cfg = fewShotConfig('linear', {
    model: config.model,
    preprocess: config.preprocess,
    steps: o.probeSteps,
    batch: o.batch ?? 8,
    // No selection: the probe after probeSteps is what is scored, on slices it never saw.
    validateEvery: o.probeSteps,
    patience: 0,
    seed: o.seed ?? 1,
  });
  const { segmenter, record } = await runFewShot({
    config: cfg,
    data: { labeled: o.labeled, validation: [], classes: o.classes, description: o.description },
    backbone: { path: checkpoint, name: 'readout' },
  });
  try {
    const n = size * size;
    const pred = new Uint8Array(o.validation.length * n);
    const ref = new Uint8Array(o.validation.length * n);
    const batch = o.batch ?? 8;
    for (let i = 0; i < o.validation.length; i += batch) {
      const part = o.validation.slice(i, i + batch);
      const x = new Float32Array(part.length * n);
      part.forEach((sl, b) => {
        if (sl.image.length !== n) throw new Error(`readout slice ${sl.volumeId} k${sl.k} is not ${size}×${size}`);
        x.set(sl.image, b * n);
        ref.set(sl.label, (i + b) * n);
      });
      pred.set(predictClasses(segmenter, x, part.length, size), i * n);
    }
    const per = pooledDice(pred, ref, o.classes.length + 1);
    const names = o.names ?? o.classes.map((c) => `label ${c}`);
    const dice = Object.fromEntries(names.map((name, i) => [name, per[i]!]));
    return {
      step: at.step,
      epoch: at.epoch,
      dice,
      mean: per.reduce((a, b) => a + b, 0) / per.length,
      probeSteps: o.probeSteps,
      probe: record.probe ? 'balanced-full-batch' : 'streaming',
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    disposeSegmenter(segmenter);
  }
}

/**
 * The readout of one run: which steps are due, the points so far (kept across resumes: points after the
 * resumed step belong to a future the resumed run will measure again) and their atomic storage.
 */
export class ReadoutTracker {
  readonly record: ReadoutRecord;
  constructor(
    private readonly outDir: string,
    private readonly opts: ReadoutOptions,
    resumedStep: number,
    config: PretrainConfig,
  ) {
    validateReadout(opts);
    const old = readReadout(outDir);
    this.record = {
      version: 1,
      description: opts.description ?? null,
      structures: opts.names ?? opts.classes.map((c) => `label ${c}`),
      labeledSlices: opts.labeled.length,
      validationSlices: opts.validation.length,
      // Points of an earlier probe (other step count, or the streaming probe), or scored on other slices (the
      // experiment's `--eval dev` and `--eval test` share a pretraining folder, not their readout patients),
      // would mix two measures in one curve.
      points: (old && (old.description ?? null) === (opts.description ?? null) ? old.points : []).filter(
        (p) => p.step <= resumedStep && p.probeSteps === opts.probeSteps && (p.probe ?? 'streaming') === expectedProbe(opts, config),
      ),
    };
  }

  has(step: number): boolean {
    return this.record.points.some((p) => p.step === step);
  }

  due(step: number, totalSteps: number): boolean {
    return !this.has(step) && (step % this.opts.every === 0 || step === totalSteps);
  }

  async measure(checkpoint: string, config: PretrainConfig, at: { step: number; epoch: number }): Promise<ReadoutPoint> {
    const p = await measureReadout(checkpoint, config, this.opts, at);
    this.record.points = [...this.record.points.filter((q) => q.step !== p.step), p].sort((a, b) => a.step - b.step);
    writeReadout(this.outDir, this.record);
    return p;
  }
}
