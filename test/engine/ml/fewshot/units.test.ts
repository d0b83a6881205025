import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/ml/backends/init.js';
import { augmentPair, warpLabel } from '../../../../main/ml/fewshot/augment.js';
import { DEFAULT_DOWNSTREAM_AUGMENT, fewShotConfig } from '../../../../main/ml/fewshot/config.js';
import { splitLabeled, type LabeledSlice } from '../../../../main/ml/fewshot/data.js';
import { meanForegroundDice, rampup, runFewShot } from '../../../../main/ml/fewshot/train.js';
import { createSegmenter, disposeSegmenter, emaUpdate, snapshot } from '../../../../main/ml/fewshot/segmenter.js';
import { Rng } from '../../../../main/ml/augment/rng.js';
import { spatialGrid } from '../../../../main/ml/augment/spatial.js';
import { arraySliceSource } from '../../../../main/ml/pretrain/source.js';
import { pretrainConfig } from '../../../../main/ml/config.js';
import { runPretraining } from '../../../../main/ml/pretrain/loop.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TINY = { preset: 'custom' as const, unet: { levels: 2, base: 4, embedding: 8, inChannels: 1, normalization: 'batch' as const, bnMomentum: 0.1, bnEpsilon: 1e-5 }, head: { hidden: 8, out: 8 } };
const PRE = { spacingMm: 1, size: 16, clipPercentiles: [0.5, 99.5] as [number, number] };

/** A bright square (class 1) on a dark field, one per slice at a different position. */
function squares(n: number): LabeledSlice[] {
  return Array.from({ length: n }, (_, s) => {
    const image = new Float32Array(256);
    const label = new Uint8Array(256);
    for (let y = 4; y < 10; y++) for (let x = 2 + s; x < 8 + s; x++) {
      image[y * 16 + x] = 1;
      label[y * 16 + x] = 1;
    }
    return { volumeId: `v${s % 2}`, group: 'g', k: s, frame: 0, image, label };
  });
}

describe('few-shot building blocks', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'cpu' });
  });

  it('mean foreground Dice by hand', () => {
    // class 1: pred {0,1}, ref {1,2} → 2·1/4 = 0.5; class 2: pred {3}, ref {3} → 1; mean 0.75.
    expect(meanForegroundDice(Uint8Array.from([1, 1, 0, 2]), Uint8Array.from([0, 1, 1, 2]), 3)).toBeCloseTo(0.75, 12);
    // Classes absent from both are skipped; nothing anywhere counts as perfect.
    expect(meanForegroundDice(new Uint8Array(4), new Uint8Array(4), 4)).toBe(1);
    expect(meanForegroundDice(Uint8Array.from([0, 0]), Uint8Array.from([1, 0]), 2)).toBe(0);
  });

  it('sigmoid ramp-up exp(−5(1−t)²)', () => {
    expect(rampup(0, 100)).toBeCloseTo(Math.exp(-5), 12);
    expect(rampup(50, 100)).toBeCloseTo(Math.exp(-1.25), 12);
    expect(rampup(100, 100)).toBe(1);
    expect(rampup(500, 100)).toBe(1);
    expect(rampup(0, 0)).toBe(1);
  });

  it('a quarter turn moves labels exactly with the image', () => {
    const grid = spatialGrid({ angleRad: Math.PI / 2, scale: 1, offset: [0, 0], flip: 'none' }, 4, 4);
    const label = Uint8Array.from({ length: 16 }, (_, i) => i);
    const out = warpLabel(label, 4, grid);
    // Output pixel p reads the label at grid(p): the same mapping the image uses, and a permutation here.
    for (let p = 0; p < 16; p++) expect(out[p]).toBe(Math.round(grid[2 * p + 1]!) * 4 + Math.round(grid[2 * p]!));
    expect([...out].sort((a, b) => a - b)).toEqual([...label]);
  });

  it('augmented labels stay on the augmented image (bright pixels carry the square label)', () => {
    const [s] = squares(1);
    const cfg = { ...DEFAULT_DOWNSTREAM_AUGMENT, spatialP: 1, intensity: { ...DEFAULT_DOWNSTREAM_AUGMENT.intensity, noise: { p: 0, sigmaMax: 0 }, blur: { p: 0, sigma: [0, 0] as [number, number] }, gamma: { p: 0, logGamma: [0, 0] as [number, number] }, biasField: { p: 0, coefficient: 0, order: 3 } } };
    for (let seed = 0; seed < 10; seed++) {
      const a = augmentPair(new Rng(seed), cfg, s!.image, s!.label, 16);
      for (let p = 0; p < 256; p++) {
        if (a.image[p]! > 0.99) expect(a.label[p]).toBe(1);
        if (a.image[p]! < 0.01) expect(a.label[p]).toBe(0);
      }
    }
  });

  it('held-back slices: at least one, a stable function of the seed', () => {
    const sl = squares(6);
    const a = splitLabeled(sl, 0.2, 1);
    expect(a.validation).toHaveLength(1);
    expect(a.train).toHaveLength(5);
    expect(splitLabeled(sl, 0.2, 1).validation[0]).toBe(a.validation[0]);
    expect(splitLabeled(sl.slice(0, 1), 0.5, 1).train).toHaveLength(1);
  });

  it('EMA moves the teacher by (1 − decay) towards the student', () => {
    const t = createSegmenter(TINY, [1], 1);
    const s = createSegmenter(TINY, [1], 2);
    try {
      const before = snapshot(t).get('seg.w')!;
      const st = snapshot(s).get('seg.w')!;
      emaUpdate(t, s, 0.99);
      const after = snapshot(t).get('seg.w')!;
      for (let i = 0; i < before.length; i++) expect(after[i]).toBeCloseTo(0.99 * before[i]! + 0.01 * st[i]!, 6);
    } finally {
      disposeSegmenter(t);
      disposeSegmenter(s);
    }
  });

  it('finetune trains the backbone; linear leaves it untouched; mean-teacher records its consistency term', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'p2r-units-'));
    try {
      const sl = squares(6);
      const pre = pretrainConfig('compact', { model: { unet: TINY.unet, head: TINY.head }, preprocess: PRE, train: { batch: 2, validationFraction: 0 }, loss: { samples: 64 } });
      const pt = await runPretraining({ config: pre, source: arraySliceSource(sl.map((s) => s.image), 16), outDir: dir, steps: 2 });
      const backbone = { path: pt.lastCheckpoint };
      const common = { model: pre.model, preprocess: PRE, steps: 3, batch: 2, validateEvery: 1, patience: 0 };
      const ref = createSegmenter(TINY, [1], 0);
      const { restoreInto, readCheckpoint } = await import('../../../../main/ml/pretrain/checkpoint.js');
      restoreInto(await readCheckpoint(pt.lastCheckpoint), ref.net, null);
      const w0 = snapshot(ref).get('enc0.c1.w')!;
      disposeSegmenter(ref);

      const lin = await runFewShot({ config: fewShotConfig('linear', common), data: { labeled: sl, classes: [1] }, backbone });
      const ft = await runFewShot({ config: fewShotConfig('finetune', { ...common, validationFraction: 0 }), data: { labeled: sl, classes: [1] }, backbone });
      const mt = await runFewShot({
        config: fewShotConfig('mean-teacher', { ...common, meanTeacher: { batch: 2, rampupSteps: 2 } }),
        data: { labeled: sl, classes: [1], unlabeled: arraySliceSource(sl.map((s) => s.image), 16) },
        backbone,
      });
      try {
        expect(snapshot(lin.segmenter).get('enc0.c1.w')).toEqual(w0);
        // Without validation slices the last step is kept, so the fine-tuned weights are the trained ones.
        expect(ft.record.validationDice).toBeNull();
        expect(snapshot(ft.segmenter).get('enc0.c1.w')).not.toEqual(w0);
        expect(ft.record.config.lr).toEqual({ head: 1e-2, backbone: 1e-3 });
        expect(mt.record.curves.loss.every((l) => typeof l.consistency === 'number' && l.consistency >= 0)).toBe(true);
        expect(mt.record.meanTeacherBase).toBe('finetune');
        expect(mt.record.data.unlabeledSlices).toBe(6);
        expect(lin.record.curves.validation.length).toBe(4);
      } finally {
        for (const r of [lin, ft, mt]) disposeSegmenter(r.segmenter);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses bad input in words', async () => {
    await expect(runFewShot({ config: fewShotConfig('supervised', { model: TINY, preprocess: PRE }), data: { labeled: [], classes: [1] } })).rejects.toThrow(/no annotated slices/);
    await expect(runFewShot({ config: fewShotConfig('finetune', { model: TINY, preprocess: PRE }), data: { labeled: squares(2), classes: [1] } })).rejects.toThrow(/needs a pretrained backbone/);
    await expect(runFewShot({ config: fewShotConfig('supervised', { model: TINY, preprocess: { ...PRE, size: 32 } }), data: { labeled: squares(2), classes: [1] } })).rejects.toThrow(/is not 32×32/);
    expect(() => fewShotConfig('supervised', { steps: 0 })).toThrow(/steps must be a positive integer/);
  });
});
