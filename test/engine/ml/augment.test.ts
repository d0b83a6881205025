import { describe, expect, it } from 'vitest';
import { DEFAULT_AUGMENT, type AugmentConfig } from '../../../main/ml/config.js';
import { makeViews, Rng, deriveSeed } from '../../../main/ml/augment/index.js';
import { applyIntensity, biasTerms, drawIntensity, gaussianBlur } from '../../../main/ml/augment/intensity.js';
import { drawSpatial, gridValidity, sampleImage, spatialGrid, type SpatialDraw } from '../../../main/ml/augment/spatial.js';

const H = 16;
const W = 16;
const ramp = Float32Array.from({ length: H * W }, (_, i) => (i % W) / (W - 1) * 0.5 + Math.floor(i / W) / (H - 1) * 0.5);

describe('Rng', () => {
  it('same seed, same sequence; state restores the stream', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    const c = Rng.fromState(a.state);
    expect(c.next()).toBe(a.next());
    expect(new Rng(43).next()).not.toBe(new Rng(42).next());
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });
  it('permutation is a permutation; derived seeds differ', () => {
    const p = Array.from(new Rng(3).permutation(50)).sort((x, y) => x - y);
    expect(p).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(deriveSeed(1, 2)).not.toBe(deriveSeed(1, 3));
    expect(deriveSeed(1, 2)).toBe(deriveSeed(1, 2));
  });
  it('normal draws have mean ≈ 0 and variance ≈ 1', () => {
    const r = new Rng(9);
    const xs = Array.from({ length: 20000 }, () => r.normal());
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    const v = xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length;
    expect(Math.abs(m)).toBeLessThan(0.03);
    expect(Math.abs(v - 1)).toBeLessThan(0.05);
  });
});

describe('spatial family', () => {
  it('identity draw gives the identity grid', () => {
    const d: SpatialDraw = { angleRad: 0, scale: 1, offset: [0, 0], flip: 'none' };
    const g = spatialGrid(d, 3, 4);
    expect(Array.from(g.slice(0, 4))).toEqual([0, 0, 1, 0]);
    expect(Array.from(sampleImage(ramp, H, W, spatialGrid(d, H, W)))).toEqual(Array.from(ramp));
    expect(gridValidity(spatialGrid(d, H, W), H, W).every((v) => v === 1)).toBe(true);
  });
  it('a quarter turn maps pixel centres exactly: 90° rotation of a 2×2 image', () => {
    const img = Float32Array.from([1, 2, 3, 4]);
    const g = spatialGrid({ angleRad: Math.PI / 2, scale: 1, offset: [0, 0], flip: 'none' }, 2, 2);
    // s(p) = c + R(90°)(p − c): output (0,0) samples source (1,0), (1,0) samples (1,1), (0,1) samples (0,0).
    expect(Array.from(sampleImage(img, 2, 2, g))).toEqual([2, 4, 1, 3]);
  });
  it('flip x mirrors columns; zoom 0.5 about the centre halves distances', () => {
    const gx = spatialGrid({ angleRad: 0, scale: 1, offset: [0, 0], flip: 'x' }, 1, 4);
    expect(Array.from(gx.filter((_, i) => i % 2 === 0))).toEqual([3, 2, 1, 0]);
    const gz = spatialGrid({ angleRad: 0, scale: 0.5, offset: [1, 0], flip: 'none' }, 1, 5);
    expect(Array.from(gz.filter((_, i) => i % 2 === 0))).toEqual([2, 2.5, 3, 3.5, 4]);
  });
  it('bilinear sampling interpolates, and outside-the-image sources are invalid and zero', () => {
    const img = Float32Array.from([0, 10, 20, 30]);
    const out = sampleImage(img, 2, 2, Float32Array.from([0.5, 0.5, 0.25, 0, -1, 0, 1, 1.5]));
    expect(out[0]).toBeCloseTo(15, 5);
    expect(out[1]).toBeCloseTo(2.5, 5);
    expect(out[2]).toBe(0);
    expect(Array.from(gridValidity(Float32Array.from([0.5, 0.5, 0.25, 0, -1, 0, 1, 1.5]), 2, 2))).toEqual([1, 1, 0, 0]);
  });
  it('draws respect the configured ranges', () => {
    const r = new Rng(5);
    const flips = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const d = drawSpatial(r, DEFAULT_AUGMENT.spatial, H, W);
      expect(Math.abs(d.angleRad)).toBeLessThanOrEqual(Math.PI / 2);
      expect(d.scale).toBeGreaterThanOrEqual(0.33);
      expect(d.scale).toBeLessThanOrEqual(0.95);
      expect(Math.abs(d.offset[0])).toBeLessThanOrEqual(((1 - d.scale) * W) / 2);
      expect(d.elastic).toBeUndefined();
      flips.add(d.flip);
    }
    expect(flips).toEqual(new Set(['x', 'y', 'none']));
  });
  it('elastic is off by default and drawn when enabled', () => {
    const cfg = structuredClone(DEFAULT_AUGMENT.spatial);
    cfg.elastic.p = 1;
    const d = drawSpatial(new Rng(1), cfg, H, W);
    expect(d.elastic?.d.length).toBe(cfg.elastic.controlPoints ** 2 * 2);
    const plain = spatialGrid({ ...d, elastic: undefined }, H, W);
    expect(spatialGrid(d, H, W)).not.toEqual(plain);
  });
});

describe('intensity family', () => {
  it('gamma, inversion and a constant bias field act as defined', () => {
    const img = Float32Array.from([0, 0.25, 1, 0.5]);
    expect(Array.from(applyIntensity(img, 2, 2, { gamma: 2, invert: false }))).toEqual([0, 0.0625, 1, 0.25]);
    expect(Array.from(applyIntensity(img, 2, 2, { invert: true }))).toEqual([1, 0.75, 0, 0.5]);
    const coefficients = biasTerms(3).map((_, i) => (i === 0 ? Math.log(2) : 0));
    const b = applyIntensity(img, 2, 2, { bias: { order: 3, coefficients }, invert: false });
    expect(b[1]).toBeCloseTo(0.5, 6);
    expect(biasTerms(3)).toHaveLength(10);
  });
  it('blur keeps a constant image and the mean of an impulse; noise has the drawn sigma', () => {
    const c = new Float32Array(64).fill(0.7);
    for (const v of gaussianBlur(c, 8, 8, 1.3)) expect(v).toBeCloseTo(0.7, 5);
    const imp = new Float32Array(15 * 15);
    imp[7 * 15 + 7] = 1;
    const bl = gaussianBlur(imp, 15, 15, 1);
    expect(bl.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    expect(bl[7 * 15 + 7]).toBeLessThan(0.2);
    const z = applyIntensity(new Float32Array(10000), 100, 100, { noise: { sigma: 0.1, seed: 3 }, invert: false });
    const sd = Math.sqrt(z.reduce((a, b) => a + b * b, 0) / z.length);
    expect(sd).toBeCloseTo(0.1, 2);
  });
  it('draw frequencies follow the configured probabilities', () => {
    const r = new Rng(11);
    const n = 4000;
    const counts = { gamma: 0, bias: 0, blur: 0, noise: 0, invert: 0 };
    for (let i = 0; i < n; i++) {
      const d = drawIntensity(r, DEFAULT_AUGMENT.intensity);
      if (d.gamma !== undefined) {
        counts.gamma++;
        expect(Math.abs(Math.log(d.gamma))).toBeLessThanOrEqual(0.3 + 1e-9);
      }
      if (d.bias) counts.bias++;
      if (d.blurSigma !== undefined) {
        counts.blur++;
        expect(d.blurSigma).toBeLessThanOrEqual(1.3);
      }
      if (d.noise) {
        counts.noise++;
        expect(d.noise.sigma).toBeLessThanOrEqual(0.12);
      }
      if (d.invert) counts.invert++;
    }
    expect(counts.gamma / n).toBeCloseTo(0.9, 1);
    expect(counts.bias / n).toBeCloseTo(0.75, 1);
    expect(counts.blur / n).toBeCloseTo(0.5, 1);
    expect(counts.noise / n).toBeCloseTo(0.3, 1);
    expect(counts.invert / n).toBeCloseTo(0.35, 1);
  });
});

describe('views', () => {
  it('same seed gives the same views; another seed gives others', () => {
    const a = makeViews(new Rng(7), DEFAULT_AUGMENT, ramp, H, W);
    const b = makeViews(new Rng(7), DEFAULT_AUGMENT, ramp, H, W);
    expect(b.viewA).toEqual(a.viewA);
    expect(b.viewB).toEqual(a.viewB);
    expect(b.grid).toEqual(a.grid);
    const c = makeViews(new Rng(8), DEFAULT_AUGMENT, ramp, H, W);
    expect(c.viewB).not.toEqual(a.viewB);
  });
  it('with no intensity change, view B is the image resampled by the grid, view A the image', () => {
    const cfg: AugmentConfig = structuredClone(DEFAULT_AUGMENT);
    for (const k of ['noise', 'blur', 'gamma', 'biasField', 'inversion'] as const) cfg.intensity[k].p = 0;
    const v = makeViews(new Rng(2), cfg, ramp, H, W);
    expect(v.viewA).toEqual(ramp);
    expect(v.viewB).toEqual(sampleImage(ramp, H, W, v.grid));
    expect(v.valid.some((x) => x === 1)).toBe(true);
  });
});
