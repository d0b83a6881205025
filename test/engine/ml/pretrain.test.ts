import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../main/ml/tf.js';
import { pretrainConfig, type PretrainConfig } from '../../../main/ml/config.js';
import { Rng } from '../../../main/ml/augment/rng.js';
import { createNet, disposeNet } from '../../../main/ml/unet.js';
import { gatherBilinear, gatherPixels, warpMap } from '../../../main/ml/warp.js';
import { Adam } from '../../../main/ml/pretrain/adam.js';
import { decodeCheckpoint, readCheckpoint } from '../../../main/ml/pretrain/checkpoint.js';
import { loadPretrainedNet, runPretraining, type PretrainProgress } from '../../../main/ml/pretrain/loop.js';
import { arraySliceSource, splitSlices } from '../../../main/ml/pretrain/source.js';
import { embedPairs, netFunctions, prepareBatch, samplePixelPairs, trainStep, type BatchViews } from '../../../main/ml/pretrain/step.js';
import { spatialGrid, gridValidity, sampleImage } from '../../../main/ml/augment/spatial.js';
import { phantomSlices } from './phantoms.js';
import { randomArray, useCpu } from './cpu.js';

beforeAll(useCpu);

const S = 16;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2r-pretrain-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function tinyConfig(method: 'pix2rep' | 'pix2rep-v2' = 'pix2rep'): PretrainConfig {
  return pretrainConfig('compact', {
    model: { unet: { levels: 2, base: 4, embedding: 8 }, head: { hidden: 8, out: 8 } },
    preprocess: { size: S },
    loss: { method, samples: 48 },
    train: { batch: 2, seed: 5, validationFraction: 0.2 },
  });
}

/** Views of a known transform, no intensity change. */
function knownViews(images: Float32Array[], angleRad: number, scale = 1): BatchViews {
  const grid = spatialGrid({ angleRad, scale, offset: [0, 0], flip: 'none' }, S, S);
  const n = S * S;
  const inputA = new Float32Array(images.length * n);
  const inputB = new Float32Array(images.length * n);
  images.forEach((im, b) => {
    inputA.set(im, b * n);
    inputB.set(sampleImage(im, S, S, grid), b * n);
  });
  return { size: S, inputA, inputB, grids: images.map(() => grid), valid: images.map(() => gridValidity(grid, S, S)) };
}

describe('equivariance of the two branches', () => {
  const images = phantomSlices(2, S, 1);
  const w = tf.tensor4d(randomArray(1 * 5, 3), [1, 1, 1, 5]);
  const b = tf.tensor1d(randomArray(5, 4));
  const pointwise = (x: tf.Tensor4D) => tf.relu(tf.add(tf.conv2d(x, w, 1, 'same'), b)) as tf.Tensor4D;
  const identity = (h: tf.Tensor2D) => h;

  it('a 90° rotation: warped branch-A map equals branch-B map on valid pixels (whole map and sampled pairs)', () => {
    const views = knownViews(images, Math.PI / 2);
    expect(views.valid.every((v) => v.every((x) => x === 1))).toBe(true);
    const fA = pointwise(tf.tensor4d(views.inputA, [2, S, S, 1]));
    const fB = pointwise(tf.tensor4d(views.inputB, [2, S, S, 1]));
    const warped = warpMap(fA, views.grids, S, S);
    expect(tf.max(tf.abs(tf.sub(warped, fB))).dataSync()[0]).toBeLessThan(1e-6);
    // and the two maps really differ before warping (the rotation is not a no-op)
    expect(tf.max(tf.abs(tf.sub(fA, fB))).dataSync()[0]).toBeGreaterThan(0.1);
    const pairs = samplePixelPairs(views, 100, new Rng(1));
    const { zA, zB } = embedPairs(pointwise, identity, views, pairs);
    expect(tf.max(tf.abs(tf.sub(zA, zB))).dataSync()[0]).toBeLessThan(1e-6);
  });

  it('any rotation and zoom: a linear per-pixel network commutes with bilinear warping on valid pixels', () => {
    const linear = (x: tf.Tensor4D) => tf.add(tf.conv2d(x, w, 1, 'same'), b) as tf.Tensor4D;
    const views = knownViews(images, 0.61, 0.7);
    const pairs = samplePixelPairs(views, 1000, new Rng(2));
    // only valid pixels are sampled
    for (let i = 0; i < pairs.batch.length; i++) expect(views.valid[pairs.batch[i]!]![pairs.ys[i]! * S + pairs.xs[i]!]).toBe(1);
    const { zA, zB } = embedPairs(linear, identity, views, pairs);
    expect(tf.max(tf.abs(tf.sub(zA, zB))).dataSync()[0]).toBeLessThan(1e-5);
  });

  it('branch A equals the whole projected map g(f(x)) warped by φ, read at the sampled pixels', () => {
    // Eval mode fixes g's BatchNorm, so sampling-then-projecting must match projecting-then-warping exactly.
    const cfg = tinyConfig();
    const net = createNet(cfg.model, 4);
    const { f, g } = netFunctions(net, false);
    const views = knownViews(images, 0.83, 0.8);
    const pairs = samplePixelPairs(views, 60, new Rng(5));
    tf.tidy(() => {
      const { zA } = embedPairs(f, g, views, pairs);
      const fA = f(tf.tensor4d(views.inputA, [2, S, S, 1]));
      const projected = tf.reshape(g(tf.reshape(fA, [-1, 8]) as tf.Tensor2D), [2, S, S, 8]) as tf.Tensor4D;
      const warped = warpMap(projected, views.grids, S, S);
      const expected = gatherPixels(warped, pairs.batch, pairs.xs, pairs.ys);
      expect(tf.max(tf.abs(tf.sub(zA, expected))).dataSync()[0]).toBeLessThan(1e-5);
      // Interpolating f first and projecting after is not the same (g is non-linear).
      const naive = g(gatherBilinear(fA, pairs.batch, pairs.src));
      expect(tf.max(tf.abs(tf.sub(naive, expected))).dataSync()[0]).toBeGreaterThan(1e-3);
    });
    disposeNet(net);
  });

  it('invalid pixels (sourced outside the image) are never sampled', () => {
    const views = knownViews(images, Math.PI / 4);
    const nValid = views.valid.reduce((n, v) => n + v.reduce((a, x) => a + x, 0), 0);
    expect(nValid).toBeLessThan(2 * S * S);
    const pairs = samplePixelPairs(views, 10_000, new Rng(3));
    expect(pairs.batch.length).toBe(nValid);
  });
});

describe('training step', () => {
  it('leaks no tensors across steps and lowers the loss on a fixed batch', () => {
    const cfg = tinyConfig();
    const net = createNet(cfg.model, 1);
    const adam = new Adam({ ...cfg.optimizer, lr: 3e-3 }, net.params);
    const rng = new Rng(9);
    const views = prepareBatch(phantomSlices(2, S, 2), S, cfg.augment, rng);
    const pairs = samplePixelPairs(views, 48, rng);
    const counts: number[] = [];
    const losses: number[] = [];
    for (let i = 0; i < 8; i++) {
      losses.push(trainStep(net, adam, views, pairs, cfg.loss));
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts).size).toBe(1);
    expect(losses[7]!).toBeLessThan(losses[0]!);
    adam.dispose();
    disposeNet(net);
  });
  it('Barlow Twins (v2) trains too', () => {
    const cfg = tinyConfig('pix2rep-v2');
    const net = createNet(cfg.model, 1);
    const adam = new Adam({ ...cfg.optimizer, lr: 3e-3 }, net.params);
    const rng = new Rng(9);
    const views = prepareBatch(phantomSlices(2, S, 2), S, cfg.augment, rng);
    const pairs = samplePixelPairs(views, 48, rng);
    const l0 = trainStep(net, adam, views, pairs, cfg.loss);
    let l = l0;
    for (let i = 0; i < 6; i++) l = trainStep(net, adam, views, pairs, cfg.loss);
    expect(l).toBeLessThan(l0);
    adam.dispose();
    disposeNet(net);
  });
});

describe('pretraining loop', () => {
  const images = phantomSlices(10, S, 3);
  const source = arraySliceSource(images, S, (i) => `vol${i % 3}`);

  it('splits slices stably and holds out about the fraction asked', () => {
    const refs = Array.from({ length: 1000 }, (_, i) => ({ id: `v/k${i}`, volumeId: 'v', k: i, frame: 0 }));
    const s = splitSlices(refs, 0.1, 1);
    expect(s.validation.length).toBeGreaterThan(70);
    expect(s.validation.length).toBeLessThan(130);
    expect(s.train.length + s.validation.length).toBe(1000);
    expect(splitSlices(refs.slice(0, 500), 0.1, 1).validation).toEqual(s.validation.filter((i) => i < 500));
    expect(splitSlices(refs.slice(0, 3), 0.1, 1).validation).toHaveLength(1);
  });

  it('runs by steps, reports progress, writes checkpoints that read back; resume is exact', async () => {
    const cfg = tinyConfig();
    const full = join(dir, 'full');
    const events: PretrainProgress[] = [];
    const tensorsBefore = tf.memory().numTensors;
    const counts: number[] = [];
    const a = await runPretraining({ config: cfg, source, outDir: full, steps: 8, onProgress: (p) => {
      events.push(p);
      if (p.kind === 'step') counts.push(tf.memory().numTensors);
    } });
    // Flat across steps, and everything (network, optimiser state) freed at the end.
    expect(new Set(counts).size).toBe(1);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(a.step).toBe(8);
    expect(a.stopped).toBe('steps');
    expect(a.history.map((h) => h.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const stepEvents = events.filter((e) => e.kind === 'step');
    expect(stepEvents).toHaveLength(8);
    expect(stepEvents[7]!.etaSeconds).toBe(0);
    expect(stepEvents[0]!.slicesPerSecond).toBeGreaterThan(0);
    expect(stepEvents[0]!.stepsPerEpoch).toBe(a.step / a.epoch);
    expect(events.some((e) => e.kind === 'validation' && Number.isFinite(e.validationLoss))).toBe(true);
    expect(a.validation[0]!.step).toBe(0);
    expect(a.validation.length).toBeGreaterThan(1);

    const ck = await readCheckpoint(a.lastCheckpoint);
    expect(ck.header.step).toBe(8);
    expect(ck.header.config).toEqual(cfg);
    expect(ck.header.provenance.kind).toBe('memory');
    expect(ck.header.provenance.slices).toBe(10);
    expect(ck.header.split.train + ck.header.split.validation).toBe(10);
    expect(ck.header.adamStep).toBe(8);
    expect(ck.header.rng.seed).toBe(5);
    expect(ck.header.history).toHaveLength(8);
    expect(a.bestCheckpoint).not.toBeNull();

    // Interrupted at step 3 (by steps), then resumed to 8: the same curve, the same weights.
    const part = join(dir, 'part');
    const b1 = await runPretraining({ config: cfg, source, outDir: part, steps: 3 });
    expect(b1.step).toBe(3);
    const b2 = await runPretraining({ config: cfg, source, outDir: part, steps: 8, resume: true });
    expect(b2.resumedFrom).toBe(3);
    expect(b2.step).toBe(8);
    expect(b2.history.map((h) => h.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    b2.history.forEach((h, i) => expect(h.loss).toBeCloseTo(a.history[i]!.loss, 5));
    const ckB = await readCheckpoint(b2.lastCheckpoint);
    const wa = ck.data;
    const wb = ckB.data;
    expect(wb.length).toBe(wa.length);
    let maxDiff = 0;
    for (let i = 0; i < wa.length; i++) maxDiff = Math.max(maxDiff, Math.abs(wa[i]! - wb[i]!));
    expect(maxDiff).toBeLessThan(1e-5);
    // The same validation slices: the best loss carries over the resume, as in the uninterrupted run.
    expect(b2.bestValidationLoss).toBe(a.bestValidationLoss);

    const { net, header } = await loadPretrainedNet(a.lastCheckpoint);
    expect(header.step).toBe(8);
    expect(Object.keys(net.params).some((k) => k.startsWith('head.'))).toBe(false);
    disposeNet(net);
  });

  it('starts the best validation loss afresh when a resume validates on other slices', async () => {
    const cfg = { ...tinyConfig(), train: { ...tinyConfig().train, validateEvery: 2 } };
    const out = join(dir, 'resplit');
    const c1 = await runPretraining({ config: cfg, source, outDir: out, steps: 4 });
    expect(c1.bestValidationLoss).not.toBeNull();
    const before = (await readCheckpoint(c1.lastCheckpoint)).header.validationSet;
    expect(before).toMatch(/^[0-9a-f]{16}$/);
    // The same images under other ids (as a library whose ids changed): another validation split.
    const renamed = arraySliceSource(images, S, (i) => `renamed${i % 3}`);
    const c2 = await runPretraining({ config: cfg, source: renamed, outDir: out, steps: 8, resume: true });
    expect(c2.resumedFrom).toBe(4);
    const after = c2.validation.filter((v) => v.step > 4);
    expect(after.map((v) => v.step)).toEqual([6, 8]);
    expect(c2.bestValidationLoss).toBe(Math.min(...after.map((v) => v.loss)));
    const best = await readCheckpoint(c2.bestCheckpoint!);
    expect(best.header.step).toBeGreaterThan(4);
    expect(best.header.validationSet).not.toBe(before);
  });

  it('stops on cancellation with a resumable checkpoint, and by epochs', async () => {
    const cfg = tinyConfig();
    const out = join(dir, 'cancel');
    const ac = new AbortController();
    const r = await runPretraining({ config: cfg, source, outDir: out, steps: 50, signal: ac.signal, onProgress: (p) => p.step === 2 && ac.abort() });
    expect(r.stopped).toBe('cancelled');
    expect(r.step).toBe(2);
    expect((await readCheckpoint(r.lastCheckpoint)).header.step).toBe(2);
    // 4 slices, 1 held out, batch 2: one step per epoch.
    const small = arraySliceSource(images.slice(0, 4), S);
    const e = await runPretraining({ config: { ...cfg, train: { ...cfg.train, validationFraction: 0.25 } }, source: small, outDir: join(dir, 'epochs'), epochs: 2 });
    expect(e.stopped).toBe('epochs');
    expect(e.step).toBe(2);
    expect(e.epoch).toBe(2);
    expect(e.validation.map((v) => v.step)).toEqual([0, 1, 2]);
    const u = await runPretraining({ config: cfg, source, outDir: join(dir, 'until'), until: new Date(Date.now() - 1000) });
    expect(u.stopped).toBe('until');
    expect(u.step).toBe(0);
  });

  it('rejects a damaged checkpoint with a clear message', async () => {
    const p = join(dir, 'full', 'last.p2r');
    const buf = await readFile(p);
    expect(() => decodeCheckpoint(buf.subarray(0, 100), p)).toThrow(/truncated/);
    await writeFile(join(dir, 'junk.p2r'), 'hello world, not a checkpoint');
    await expect(readCheckpoint(join(dir, 'junk.p2r'))).rejects.toThrow(/not a Pix2Rep checkpoint/);
    await expect(readCheckpoint(join(dir, 'missing.p2r'))).rejects.toThrow(/ENOENT/);
  });
});
