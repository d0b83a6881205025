import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/ml/backends/init.js';
import { pretrainConfig } from '../../../../main/ml/config.js';
import { DEFAULT_DOWNSTREAM_AUGMENT, fewShotConfig } from '../../../../main/ml/fewshot/config.js';
import type { LabeledSlice } from '../../../../main/ml/fewshot/data.js';
import { balancedClassWeights, FEATURE_CACHE_BYTES, foldStandardization, MAX_PROBE_COPIES, probeCopies } from '../../../../main/ml/fewshot/probe.js';
import { disposeSegmenter, snapshot } from '../../../../main/ml/fewshot/segmenter.js';
import { runFewShot } from '../../../../main/ml/fewshot/train.js';
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

  it('copies that fit the cache, by hand', () => {
    // 128² × 64 floats = 4 MiB per slice, training slices twice (two layouts); 768 MiB:
    // (768 − 37·4) / (2·20·4) = 3.9 → 3 copies.
    expect(probeCopies(20, 37, 128, 64)).toBe(3);
    expect(probeCopies(10, 37, 128, 64)).toBe(MAX_PROBE_COPIES);
    // (768 − 100·4) / (2·40·4) = 1.15 → 1 copy.
    expect(probeCopies(40, 100, 128, 64)).toBe(1);
    // (768 − 100·4) / (2·50·4) = 0.92 → nothing fits: stream the backbone.
    expect(probeCopies(50, 100, 128, 64)).toBe(0);
    expect(probeCopies(1, 0, 16, 8, 0)).toBe(0);
    expect(FEATURE_CACHE_BYTES).toBe(768 * 2 ** 20);
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
});
