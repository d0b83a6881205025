import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/ml/backends/init.js';
import { pretrainConfig } from '../../../../main/ml/config.js';
import { DEFAULT_DOWNSTREAM_AUGMENT, fewShotConfig } from '../../../../main/ml/fewshot/config.js';
import type { LabeledSlice } from '../../../../main/ml/fewshot/data.js';
import { DEFAULT_OPTIMIZER } from '../../../../main/ml/config.js';
import { balancedClassWeights, FeatureProbe, foldStandardization } from '../../../../main/ml/fewshot/probe.js';
import { FEATURE_CACHE_BYTES, featureCacheBytes, keptPixels, MAX_PROBE_COPIES, planProbe, probeCopies, probeItem, probeItemLabel } from '../../../../main/ml/fewshot/probe-budget.js';
import { createSegmenter, disposeSegmenter, parameterGroups, snapshot } from '../../../../main/ml/fewshot/segmenter.js';
import { runFewShot, type TrainProgress } from '../../../../main/ml/fewshot/train.js';
import { Adam } from '../../../../main/ml/pretrain/adam.js';
import { readCheckpoint, restoreInto } from '../../../../main/ml/pretrain/checkpoint.js';
import { tf } from '../../../../main/ml/tf.js';
import { runPretraining } from '../../../../main/ml/pretrain/loop.js';
import { arraySliceSource } from '../../../../main/ml/pretrain/source.js';

const UNET = { levels: 2, base: 4, embedding: 8, inChannels: 1, normalization: 'batch' as const, bnMomentum: 0.1, bnEpsilon: 1e-5 };
const PRE = { spacingMm: 1, size: 16, clipPercentiles: [0.5, 99.5] as [number, number] };

/** A bright disk of radius 3 + s/3 (class 1) on a dark field, centred differently per slice, with a dim ring (class 2). */
function disks(n: number): LabeledSlice[] {
  return Array.from({ length: n }, (_, s) => {
    const image = new Float32Array(256);
    const label = new Uint8Array(256);
    const cx = 6 + (s % 4);
    const cy = 7 + (s % 3);
    for (let y = 0; y < 16; y++) {
      for (let x = 0; x < 16; x++) {
        const r = Math.hypot(x - cx, y - cy);
        if (r <= 2.5) {
          image[y * 16 + x] = 1;
          label[y * 16 + x] = 1;
        } else if (r <= 4) {
          image[y * 16 + x] = 0.4;
          label[y * 16 + x] = 2;
        } else image[y * 16 + x] = 0.05 * ((x * 7 + y * 3 + s) % 5);
      }
    }
    return { volumeId: `v${s}`, group: `g${s}`, k: s, frame: 0, image, label };
  });
}

/** A 128² label map whose foreground is the square x, y ∈ [32, 96): 4096 pixels of class 1. */
function square128(): Uint8Array {
  const label = new Uint8Array(128 * 128);
  for (let y = 32; y < 96; y++) label.fill(1, y * 128 + 32, y * 128 + 96);
  return label;
}

/**
 * ACDC-like 128² slices (measured on the 50 ACDC training patients' ED and ES labels at 1.5 mm: 12% foreground,
 * 34% of the pixels kept): a left-ventricle disk, its myocardial ring and a right-ventricle disk beside them,
 * sizes varying per slice; the images do not matter to the budget.
 */
function acdcLike(n: number): LabeledSlice[] {
  return Array.from({ length: n }, (_, s) => {
    const label = new Uint8Array(128 * 128);
    const r = 11 + (s % 7);
    for (let y = 0; y < 128; y++) {
      for (let x = 0; x < 128; x++) {
        const lv = Math.hypot(x - 66, y - 62);
        if (lv <= r) label[y * 128 + x] = 3;
        else if (lv <= r + 6) label[y * 128 + x] = 2;
        else if (Math.hypot(x - 66 + r + 14, y - 60) <= r) label[y * 128 + x] = 1;
      }
    }
    return { volumeId: `a${s}`, group: `p${Math.floor(s / 18)}`, k: s % 18, frame: 0, image: new Float32Array(128 * 128), label };
  });
}

const NO_AUGMENT = {
  ...DEFAULT_DOWNSTREAM_AUGMENT,
  spatialP: 0,
  intensity: { noise: { p: 0, sigmaMax: 0 }, blur: { p: 0, sigma: [0, 1] as [number, number] }, gamma: { p: 0, logGamma: [0, 0] as [number, number] }, biasField: { p: 0, coefficient: 0, order: 3 }, inversion: { p: 0 } },
};

describe('linear probe on cached features', () => {
  let dir: string;
  let backbone: { path: string };
  let model: ReturnType<typeof pretrainConfig>['model'];
  beforeAll(async () => {
    await initBackend({ backend: 'cpu' });
    dir = mkdtempSync(join(tmpdir(), 'p2r-probe-'));
    const pre = pretrainConfig('compact', { model: { unet: UNET, head: { hidden: 8, out: 8 } }, preprocess: PRE, train: { batch: 2, validationFraction: 0 }, loss: { samples: 64 } });
    model = pre.model;
    const pt = await runPretraining({ config: pre, source: arraySliceSource(disks(6).map((s) => s.image), 16), outDir: dir, steps: 2 });
    backbone = { path: pt.lastCheckpoint };
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the cache counts the pixels it keeps, by hand', () => {
    // The square's rows hold 64 background pixels each, the other rows 128; rows are 128 long, a multiple of the
    // stride, so every shift of the raster keeps a quarter of each row's background: 64·16 + 64·32 = 3072
    // background pixels, plus the 4096 of the square: 7168 kept of 16384.
    const label = square128();
    for (const item of [0, 1, 2, 3, 17]) expect(keptPixels(label, item).length).toBe(7168);
    // 128², D = 64: a kept pixel takes 2 layouts × 64 floats = 512 B (3.5 MiB a slice), a validation slice 4 MiB.
    expect(featureCacheBytes(7168, 0, 128, 64)).toBe(3.5 * 2 ** 20);
    expect(featureCacheBytes(7168, 37, 128, 64)).toBe((3.5 + 37 * 4) * 2 ** 20);
    const copies = (slices: number, validation: number) => probeCopies(new Array<number>(MAX_PROBE_COPIES).fill(slices * 7168), validation, 128, 64);
    // 768 MiB. 20 slices, 37 validation: (768 − 148) / (20 · 3.5) = 8.9 → the 4 copies (every pixel counted: 3).
    expect(copies(20, 37)).toBe(MAX_PROBE_COPIES);
    // 60 slices: 620 / 210 = 2.95 → 2 copies (every pixel counted: 1).
    expect(copies(60, 37)).toBe(2);
    // 100 slices, 100 validation: (768 − 400) / 350 = 1.05 → 1 copy (every pixel counted: 0, streaming).
    expect(copies(100, 100)).toBe(1);
    // 110 slices: 368 / 385 = 0.96 → nothing fits: stream the backbone.
    expect(copies(110, 100)).toBe(0);
    // Copies are a prefix: one that does not fit ends the count, a smaller one after it is not taken.
    expect(probeCopies([100, 300, 50], 0, 16, 8, featureCacheBytes(250, 0, 16, 8))).toBe(1);
    // The limit itself fits; a byte less does not.
    expect(probeCopies([7168], 37, 128, 64, featureCacheBytes(7168, 37, 128, 64))).toBe(1);
    expect(probeCopies([7168], 37, 128, 64, featureCacheBytes(7168, 37, 128, 64) - 1)).toBe(0);
    expect(probeCopies([1], 0, 16, 8, 0)).toBe(0);
    expect(FEATURE_CACHE_BYTES).toBe(768 * 2 ** 20);
  });

  it('plans copies from the labels the cache will hold: exact without augmentation, the images\' own draws with it', () => {
    const unet = { ...model.unet, embedding: 64 };
    const pre = { ...PRE, size: 128 };
    const slices = Array.from({ length: 60 }, (_, s) => ({ volumeId: `q${s}`, group: 'g', k: s, frame: 0, image: new Float32Array(128 * 128), label: square128() }));
    // Without spatial augmentation every copy keeps 60 · 7168 pixels: 2 copies of 60 next to 37 validation slices (above).
    const plain = planProbe(slices, 37, fewShotConfig('linear', { model: { ...model, unet }, preprocess: pre, augment: NO_AUGMENT }));
    expect(plain).toEqual({ copies: 2, keptPixels: 2 * 60 * 7168, bytes: featureCacheBytes(2 * 60 * 7168, 37, 128, 64) });
    // With it, the copies' labels come from the same draws as their images (without the image work), and the
    // plan counts the copies that fit, whole, in order.
    const cfg = fewShotConfig('linear', { model: { ...model, unet }, preprocess: pre, seed: 4 });
    for (const item of [0, 61, 130, 239]) expect(probeItemLabel(slices, cfg, item)).toEqual(probeItem(slices, cfg, item).label);
    const keptOfCopy = (c: number) => slices.reduce((a, _, i) => a + keptPixels(probeItemLabel(slices, cfg, c * 60 + i), c * 60 + i).length, 0);
    const perCopy = [0, 1, 2, 3].map(keptOfCopy);
    expect(perCopy[1]).not.toBe(perCopy[0]);
    const drawn = planProbe(slices, 37, cfg);
    expect(drawn.copies).toBe(probeCopies(perCopy, 37, 128, 64));
    expect(drawn.keptPixels).toBe(perCopy.slice(0, drawn.copies).reduce((a, b) => a + b, 0));
    expect(drawn.bytes).toBeLessThanOrEqual(FEATURE_CACHE_BYTES);
    expect(featureCacheBytes(drawn.keptPixels + perCopy[drawn.copies]!, 37, 128, 64)).toBeGreaterThan(FEATURE_CACHE_BYTES);
  });

  it('about 200 ACDC-like training slices at 128², D = 64 get the cached probe', () => {
    const cfg = fewShotConfig('linear', { model: { ...model, unet: { ...model.unet, embedding: 64 } }, preprocess: { ...PRE, size: 128 } });
    const plan = planProbe(acdcLike(200), 37, cfg);
    // Every pixel counted, nothing fitted: (768 − 37 · 4) / (2 · 200 · 4) = 0.39 → streaming. Kept pixels only (a
    // third of each slice here, as on ACDC): the slices once; a second copy would not fit.
    expect(plan.copies).toBe(1);
    expect(plan.keptPixels / (200 * 128 * 128)).toBeGreaterThan(0.3);
    expect(plan.keptPixels / (200 * 128 * 128)).toBeLessThan(0.4);
    expect(plan.bytes).toBeLessThanOrEqual(FEATURE_CACHE_BYTES);
  });

  it('class weights and the folded head, by hand', () => {
    // 90 background pixels, 10 of class 1, none of class 2: each present class weighs 100 / (2 · count).
    expect(balancedClassWeights([90, 10, 0])).toEqual([100 / 180, 5, 0]);
    // D = 2, K = 2; z = (f − [1, 2]) / [2, 4]; W = identity, b = [0.5, 0]:
    // logit 0 = (f0 − 1) / 2 + 0.5 = f0 / 2; logit 1 = (f1 − 2) / 4 = f1 / 4 − 0.5.
    const { w, b } = foldStandardization(Float32Array.of(1, 0, 0, 1), Float32Array.of(0.5, 0), Float32Array.of(1, 2), Float32Array.of(2, 4));
    expect([...w]).toEqual([0.5, 0, 0, 0.25]);
    expect([...b]).toEqual([0, -0.5]);
  });

  it('fits all cached pixels at each step: the batch size changes nothing, the first loss is ln K, the fit converges', async () => {
    const data = { labeled: disks(6), validation: disks(6), classes: [1, 2] };
    const run = (batch: number) => runFewShot({ config: fewShotConfig('linear', { model, preprocess: PRE, augment: NO_AUGMENT, steps: 150, batch, validateEvery: 150, patience: 0, seed: 5 }), data, backbone });
    const a = await run(2);
    const b = await run(5);
    try {
      expect(a.record.probe).toEqual({ cachedSlices: 6 * MAX_PROBE_COPIES, copies: MAX_PROBE_COPIES });
      expect(snapshot(b.segmenter).get('seg.w')).toEqual(snapshot(a.segmenter).get('seg.w'));
      expect(b.record.curves.loss).toEqual(a.record.curves.loss);
      // A zero head gives every class probability 1/3, and the balanced weights sum to 1.
      expect(a.record.curves.loss[0]!.loss).toBeCloseTo(Math.log(3), 5);
      // Converged: a convex objective on fixed features, so the last 50 steps barely move it (0.812 → 0.808 here).
      const loss = a.record.curves.loss;
      expect(loss.at(-1)!.loss).toBeLessThan(0.8 * Math.log(3));
      expect(loss.at(-51)!.loss - loss.at(-1)!.loss).toBeLessThan(0.005 * loss.at(-1)!.loss);
      // Validation on the training slices themselves, through the folded head on raw features: at step 0 the zero
      // head predicts background everywhere (Dice 0); fitted, it finds the disk and the ring (0.35 on this
      // 2-step, 8-channel backbone, whose features do not keep the three intensities linearly apart).
      expect(a.record.curves.validation[0]).toEqual({ step: 0, dice: 0 });
      expect(a.record.validationDice).toBeGreaterThan(0.25);
    } finally {
      disposeSegmenter(a.segmenter);
      disposeSegmenter(b.segmenter);
    }
  }, 60_000);

  it('caches augmented copies, deterministically, and leaves the backbone untouched', async () => {
    const cfg = fewShotConfig('linear', { model, preprocess: PRE, steps: 30, batch: 4, validateEvery: 10, patience: 0, seed: 2 });
    const data = { labeled: disks(6), validation: disks(8).slice(6), classes: [1, 2] };
    const first = await runFewShot({ config: cfg, data, backbone });
    const again = await runFewShot({ config: cfg, data, backbone });
    try {
      expect(first.record.probe).toEqual({ cachedSlices: 6 * MAX_PROBE_COPIES, copies: MAX_PROBE_COPIES });
      expect(snapshot(again.segmenter).get('seg.w')).toEqual(snapshot(first.segmenter).get('seg.w'));
      const { restoreInto, readCheckpoint } = await import('../../../../main/ml/pretrain/checkpoint.js');
      const { createSegmenter } = await import('../../../../main/ml/fewshot/segmenter.js');
      const ref = createSegmenter(model, [1, 2], 0);
      restoreInto(await readCheckpoint(backbone.path), ref.net, null);
      expect(snapshot(first.segmenter).get('enc0.c1.w')).toEqual(snapshot(ref).get('enc0.c1.w'));
      disposeSegmenter(ref);
    } finally {
      disposeSegmenter(first.segmenter);
      disposeSegmenter(again.segmenter);
    }
  }, 60_000);

  it('a cancel while caching features ends the run as cancelled, before any step', async () => {
    const cfg = fewShotConfig('linear', { model, preprocess: PRE, steps: 30, batch: 1, patience: 0 });
    const ac = new AbortController();
    ac.abort();
    const r = await runFewShot({ config: cfg, data: { labeled: disks(4), classes: [1, 2] }, backbone, signal: ac.signal });
    try {
      expect(r.record.stopped).toBe('cancelled');
      expect(r.record.steps).toBe(0);
      expect(r.record.probe).toBeUndefined();
    } finally {
      disposeSegmenter(r.segmenter);
    }
  }, 60_000);

  it('reports caching progress before the first step: from 0 to every item, monotone', async () => {
    const events: TrainProgress[] = [];
    const cfg = fewShotConfig('linear', { model, preprocess: PRE, steps: 3, batch: 4, validateEvery: 3, patience: 0, seed: 2 });
    const r = await runFewShot({ config: cfg, data: { labeled: disks(6), validation: disks(8).slice(6), classes: [1, 2] }, backbone, onProgress: (p) => events.push(p) });
    try {
      expect(r.record.probe).toEqual({ cachedSlices: 6 * MAX_PROBE_COPIES, copies: MAX_PROBE_COPIES });
      // 6 slices × 4 copies in batches of 4, then the 2 validation slices.
      const caching = events.flatMap((e) => (e.kind === 'features' ? [[e.done, e.total]] : []));
      expect(caching).toEqual([0, 4, 8, 12, 16, 20, 24, 26].map((done) => [done, 26]));
      expect(events.slice(0, caching.length).every((e) => e.kind === 'features')).toBe(true);
      expect(events.slice(caching.length).map((e) => e.kind)).toEqual(['step', 'step', 'step', 'validation']);
    } finally {
      disposeSegmenter(r.segmenter);
    }
  }, 60_000);

  it('never outgrows its limit: it holds the bytes planned, and a byte less stops it before it grows further', async () => {
    const cfg = fewShotConfig('linear', { model, preprocess: PRE, batch: 4, seed: 2 });
    const train = disks(6);
    const validation = disks(8).slice(6);
    const plan = planProbe(train, validation.length, cfg);
    expect(plan.copies).toBe(MAX_PROBE_COPIES);
    const seg = createSegmenter(cfg.model, [1, 2], 0);
    restoreInto(await readCheckpoint(backbone.path), seg.net, null);
    const adam = new Adam({ ...DEFAULT_OPTIMIZER, lr: cfg.lr.head }, parameterGroups(seg).head);
    const build = (limitBytes: number) => FeatureProbe.build({ segmenter: seg, train, validation, cfg, copies: plan.copies, limitBytes, adam });
    try {
      const before = tf.memory();
      await expect(build(plan.bytes - 1)).rejects.toThrow(/feature cache would take .* over its limit/);
      expect(tf.memory().numTensors).toBe(before.numTensors);
      const probe = (await build(plan.bytes))!;
      // Held: the budgeted features (kept pixels in two layouts, validation slices whole), the targets and pixel
      // weights (K + 1 floats per kept pixel) and the standardised head (D·K + K).
      const k = 3;
      const d = UNET.embedding;
      expect(tf.memory().numBytes - before.numBytes).toBe(plan.bytes + 4 * plan.keptPixels * (k + 1) + 4 * (d * k + k));
      probe.dispose();
      expect(tf.memory().numTensors).toBe(before.numTensors);
    } finally {
      adam.dispose();
      disposeSegmenter(seg);
    }
  }, 60_000);
});
