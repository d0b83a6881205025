import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_AUGMENT, type AugmentConfig } from '../../../main/ml/config.js';
import { makeViews, Rng } from '../../../main/ml/augment/index.js';
import { applyIntensity, biasTerms, drawIntensity, gammaF32, gaussianBlur } from '../../../main/ml/augment/intensity.js';
import { drawSpatial, gridValidity, sampleImage, spatialGrid } from '../../../main/ml/augment/spatial.js';
import { augmentLabel, augmentPair, consistencyViews } from '../../../main/ml/fewshot/augment.js';
import { DEFAULT_DOWNSTREAM_AUGMENT, type DownstreamAugmentConfig } from '../../../main/ml/fewshot/config.js';
import { bilinearTaps } from '../../../main/ml/bilinear.js';

/**
 * Augmentation outputs pinned to the bit: cached experiment results and seeded runs depend on the exact float32
 * values of every augmented image, so a faster implementation must reproduce them for the same seed. The
 * expected hashes were computed by the implementation before it was optimised (commit 971ddae); a mismatch
 * means the augmentation changed, not that this test needs new numbers.
 */

const N = 128;

/**
 * A 128² slice with the features the transforms react to: flat regions (disc, ring), smooth and fine texture,
 * sharp edges, and a few values slightly below 0 (gamma's sign-preserving branch).
 */
function slice(height: number, width: number): { image: Float32Array; label: Uint8Array } {
  const image = new Float32Array(height * width);
  const label = new Uint8Array(height * width);
  const r = new Rng(12345);
  const cx = width * 0.47;
  const cy = height * 0.53;
  const rad = Math.min(height, width) * 0.17;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const d = Math.hypot(x - cx, y - cy);
      const tex = 0.04 * Math.sin(x * 0.7 + y * 0.3) + 0.03 * r.next();
      const i = y * width + x;
      if (d < rad) [image[i], label[i]] = [0.85 + tex, 3];
      else if (d < rad * 1.5) [image[i], label[i]] = [0.45 + tex, 2];
      else if (x > width * 0.7 && y < height * 0.4) [image[i], label[i]] = [0.6 + tex, 1];
      else image[i] = 0.1 + tex;
    }
  }
  for (let k = 0; k < 40; k++) image[r.int(height * width)] = -0.02 * r.next();
  return { image, label };
}

function sha(...arrays: ArrayBufferView[]): string {
  const h = createHash('sha256');
  for (const a of arrays) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex');
}

const ALL_INTENSITY = {
  noise: { p: 1, sigmaMax: 0.1 },
  blur: { p: 1, sigma: [0, 2.5] as [number, number] },
  gamma: { p: 1, logGamma: [-0.5, 0.5] as [number, number] },
  biasField: { p: 1, coefficient: 0.9, order: 3 },
  inversion: { p: 1 },
};

// The downstream default until flips were turned on (27 Nov): the pinned hashes predate that change.
const NO_FLIPS: DownstreamAugmentConfig = { ...DEFAULT_DOWNSTREAM_AUGMENT, flipWeights: { x: 0, y: 0, none: 1 } };

const DOWNSTREAM: Record<string, DownstreamAugmentConfig> = {
  'default without flips': NO_FLIPS,
  'rotation 180 + flips': { ...DEFAULT_DOWNSTREAM_AUGMENT, spatialP: 1, rotationDeg: [-180, 180], flipWeights: { x: 1, y: 1, none: 1 } },
  'every intensity transform': { ...NO_FLIPS, intensity: ALL_INTENSITY },
};

const PRETRAIN: Record<string, { cfg: AugmentConfig; height: number; width: number }> = {
  default: { cfg: DEFAULT_AUGMENT, height: N, width: N },
  'elastic, 96×128': { cfg: { ...DEFAULT_AUGMENT, spatial: { ...DEFAULT_AUGMENT.spatial, elastic: { p: 1, magnitude: 4, controlPoints: 5 } } }, height: 96, width: 128 },
};

const SEEDS = Array.from({ length: 24 }, (_, i) => i * 7919 + 1);

/** Hashes computed by the pre-optimisation code; see the file comment. */
const EXPECTED: Record<string, string> = {
  'augmentPair default without flips': '9781978f2f277c80832a6f5a5e4a7b1ee6b861a05bf1dfee9843c7cbe02575e9',
  'augmentPair rotation 180 + flips': '3c2cd60f708a3f63542f5718a52a55991b889992e1147e122065e30f65752a77',
  'augmentPair every intensity transform': 'acce779f28954772e965d1f5997455d03980169dc9369b2bb3b64bafd0168a67',
  'consistencyViews default without flips': '7d9b96a7269c75d53b19aa13d58fcd7342a08e2c74401976b776242dbca8e6e5',
  'consistencyViews rotation 180 + flips': 'd9501649dfc2a38a808916946a0e0b9cc8a4758665dca8e5ba3f4695e9d7557e',
  'consistencyViews every intensity transform': '577d4f39b629b0cf8cbe9cd1b75f6bda203bb0459bc364ab471542de40d01b84',
  'makeViews default': 'e7e3e1e5b2ff54445c6dee55f9d6ea036008d5163da57161c0661543ca6a4007',
  'makeViews elastic, 96×128': 'a00ca65feea7c4d5201ddb7bb70e93c643af316b58c390fb200aba50a85e9550',
  'building blocks': 'b964e8a31ff1fbc9462eeaffaf50c947f82a99f7c9e4a05609c39f05e36b9898',
};

/** PIN_PRINT=1 prints the hashes instead of checking them (only for a deliberate change of the augmentation). */
function pin(name: string, hash: string): void {
  if (process.env.PIN_PRINT) console.log(`  '${name}': '${hash}',`);
  else expect(hash, name).toBe(EXPECTED[name]);
}

describe('augmentation outputs are pinned to the bit', () => {
  const { image, label } = slice(N, N);

  it.each(Object.keys(DOWNSTREAM))('downstream augmentPair, %s config', (name) => {
    const cfg = DOWNSTREAM[name]!;
    const parts: ArrayBufferView[] = [];
    for (const seed of SEEDS) {
      const rng = new Rng(seed);
      const a = augmentPair(rng, cfg, image, label, N);
      // augmentLabel promises the label of augmentPair without the image work.
      expect(Buffer.from(augmentLabel(new Rng(seed), cfg, label, N)).equals(Buffer.from(a.label))).toBe(true);
      // The state after the draws: the caller's later draws (next slice, dropout, order) continue from it.
      parts.push(a.image, a.label, Uint32Array.of(rng.state));
    }
    pin(`augmentPair ${name}`, sha(...parts));
  });

  it.each(Object.keys(DOWNSTREAM))('Mean Teacher consistencyViews, %s config', (name) => {
    const parts: ArrayBufferView[] = [];
    for (const seed of SEEDS) {
      const rng = new Rng(seed);
      parts.push(...consistencyViews(rng, DOWNSTREAM[name]!, image, N), Uint32Array.of(rng.state));
    }
    pin(`consistencyViews ${name}`, sha(...parts));
  });

  it.each(Object.keys(PRETRAIN))('pretraining makeViews, %s', (name) => {
    const { cfg, height, width } = PRETRAIN[name]!;
    const img = slice(height, width).image;
    const parts: ArrayBufferView[] = [];
    for (const seed of SEEDS) {
      const rng = new Rng(seed);
      const v = makeViews(rng, cfg, img, height, width);
      parts.push(v.viewA, v.viewB, v.grid, v.valid, Uint32Array.of(rng.state));
    }
    pin(`makeViews ${name}`, sha(...parts));
  });

  it('the building blocks one by one: grids, sampling at the border, blur widths, each intensity transform', () => {
    const r = new Rng(77);
    const parts: ArrayBufferView[] = [];
    for (let k = 0; k < 6; k++) {
      const g = spatialGrid(drawSpatial(r, PRETRAIN['elastic, 96×128']!.cfg.spatial, N, N), N, N);
      parts.push(g, gridValidity(g, N, N), sampleImage(image, N, N, g));
    }
    // Points on, just inside and just outside the border (the EDGE snap), and far outside.
    const edge = [0, -5e-5, -2e-4, N - 1, N - 1 + 5e-5, N - 1 + 2e-4, 0.5, -1, N, 63.25, -1e6];
    const pts: number[] = [];
    for (const x of edge) for (const y of edge) pts.push(x, y);
    parts.push(sampleImage(image, N, N, Float32Array.from(pts)));
    for (const sigma of [0.03, 0.3, 0.7, 1, 1.3, 2.5]) parts.push(gaussianBlur(image, N, N, sigma));
    parts.push(gaussianBlur(image.subarray(0, 96 * 128), 96, 128, 1.1));
    for (const d of [
      { invert: false, gamma: 0.7 },
      { invert: false, gamma: 1.4 },
      { invert: false, bias: { order: 3, coefficients: Array.from({ length: 10 }, () => r.uniform(-0.9, 0.9)) } },
      { invert: false, bias: { order: 2, coefficients: Array.from({ length: 6 }, () => r.uniform(-0.9, 0.9)) } },
      { invert: false, noise: { sigma: 0.08, seed: 4242 } },
      { invert: true },
    ]) {
      parts.push(applyIntensity(image, N, N, d));
    }
    for (let k = 0; k < 4; k++) parts.push(applyIntensity(image, N, N, drawIntensity(r, ALL_INTENSITY)));
    pin('building blocks', sha(...parts));
  });
});

/** The direct forms the fast ones replaced (as they were before the optimisation), for value-by-value checks. */
const direct = {
  sample(img: Float32Array, height: number, width: number, grid: Float32Array): Float32Array {
    const { index, weight } = bilinearTaps(grid, height, width);
    const out = new Float32Array(grid.length / 2);
    for (let i = 0; i < out.length; i++) {
      let v = 0;
      for (let k = 4 * i; k < 4 * i + 4; k++) v += weight[k]! * img[index[k]!]!;
      out[i] = v;
    }
    return out;
  },
  blur(img: Float32Array, height: number, width: number, sigma: number): Float32Array {
    const r = Math.max(1, Math.ceil(3 * sigma));
    const k = new Float64Array(2 * r + 1);
    let sum = 0;
    for (let i = -r; i <= r; i++) sum += k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
    for (let i = 0; i < k.length; i++) k[i]! /= sum;
    const tmp = new Float32Array(img.length);
    const out = new Float32Array(img.length);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let v = 0;
        for (let i = -r; i <= r; i++) v += k[i + r]! * img[y * width + Math.min(width - 1, Math.max(0, x + i))]!;
        tmp[y * width + x] = v;
      }
    }
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let v = 0;
        for (let i = -r; i <= r; i++) v += k[i + r]! * tmp[Math.min(height - 1, Math.max(0, y + i)) * width + x]!;
        out[y * width + x] = v;
      }
    }
    return out;
  },
  bias(img: Float32Array, height: number, width: number, order: number, coefficients: number[]): Float32Array {
    const out = img.slice();
    const terms = biasTerms(order);
    for (let y = 0; y < height; y++) {
      const ny = height > 1 ? (2 * y) / (height - 1) - 1 : 0;
      for (let x = 0; x < width; x++) {
        const nx = width > 1 ? (2 * x) / (width - 1) - 1 : 0;
        let p = 0;
        for (let t = 0; t < terms.length; t++) p += coefficients[t]! * nx ** terms[t]![0] * ny ** terms[t]![1];
        out[y * width + x]! *= Math.exp(p);
      }
    }
    return out;
  },
};

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe('the fast forms equal the direct forms, value by value', () => {
  const r = new Rng(2024);
  const SIZES: [number, number][] = [[1, 1], [1, 6], [5, 1], [2, 2], [3, 7], [6, 5], [9, 16], [31, 20]];
  const randomImage = (n: number) => Float32Array.from({ length: n }, () => r.uniform(-0.1, 1.2));

  it('bilinear sampling: inside, on and near the border, outside, non-finite positions and image values', () => {
    for (const [h, w] of SIZES) {
      const img = randomImage(h * w);
      const pts: number[] = [];
      const near = (n: number) => [0, -5e-5, -2e-4, -0.5, n - 1, n - 1 + 5e-5, n - 1 + 2e-4, n - 0.5, n, n + 3];
      for (const x of near(w)) for (const y of near(h)) pts.push(x, y);
      for (let k = 0; k < 400; k++) pts.push(r.uniform(-2, w + 1), r.uniform(-2, h + 1));
      pts.push(NaN, 0, 0, NaN, Infinity, 0, -Infinity, 1, 1e30, -1e30);
      const grid = Float32Array.from(pts);
      expect(sameBits(sampleImage(img, h, w, grid), direct.sample(img, h, w, grid)), `${h}×${w}`).toBe(true);
      // Products that are all −0 (−0 values, and zero weights on negative values): the sum must still be +0.
      for (const [what, f] of [['−0', () => -0], ['−0 or negative', () => (r.next() < 0.5 ? -0 : -r.next())]] as const) {
        const negative = img.map(f);
        expect(sameBits(sampleImage(negative, h, w, grid), direct.sample(negative, h, w, grid)), `${h}×${w}, ${what}`).toBe(true);
      }
      for (const bad of [NaN, Infinity]) {
        const withBad = img.slice();
        withBad[0] = bad;
        expect(sameBits(sampleImage(withBad, h, w, grid), direct.sample(withBad, h, w, grid)), `${h}×${w}, img[0] = ${bad}`).toBe(true);
      }
    }
    expect(sameBits(sampleImage(new Float32Array(4), 2, 2, Float32Array.of(0, 0.5, 1, 0)), Float32Array.of(0, 0))).toBe(true);
  });

  it('Gaussian blur: images narrower and shorter than the kernel, and wide ones', () => {
    for (const [h, w] of SIZES) {
      const img = randomImage(h * w);
      for (const sigma of [0.06, 0.4, 1, 1.7, 3]) {
        expect(sameBits(gaussianBlur(img, h, w, sigma), direct.blur(img, h, w, sigma)), `${h}×${w}, σ ${sigma}`).toBe(true);
      }
    }
  });

  it('bias field: every order up to 4, any size', () => {
    for (const [h, w] of [...SIZES, [128, 128] as [number, number]]) {
      const img = randomImage(h * w);
      for (let order = 0; order <= 4; order++) {
        const c = biasTerms(order).map(() => r.uniform(-0.9, 0.9));
        const got = applyIntensity(img, h, w, { invert: false, bias: { order, coefficients: c } });
        expect(sameBits(got, direct.bias(img, h, w, order, c)), `${h}×${w}, order ${order}`).toBe(true);
      }
    }
  });

  it('gamma: fround(v ** g) for float32 v over the drawn range of g and beyond, and at the edges', () => {
    const gs = [0, 1, 2, 0.5, Math.exp(-0.3), Math.exp(0.3), 1e-9, 2.999, 3, -1, -2.5, 7, NaN, Infinity];
    for (let k = 0; k < 40; k++) gs.push(Math.exp(r.uniform(-0.5, 0.5)));
    const vs = [1, 2, 0.5, 1e-30, 1.0000001e-30, 1e-38, 1e-45, 3.4e38, 1e30, 0.9999999, 1.0000001, Infinity, NaN];
    for (let k = 0; k < 5000; k++) vs.push(Math.fround(r.next() * 1.3), Math.fround(10 ** r.uniform(-40, 38)));
    let mismatches = 0;
    for (const g of gs) {
      for (const v0 of vs) {
        const v = Math.fround(v0);
        const got = gammaF32(v, g);
        const want = Math.fround(v ** g);
        if (!Object.is(got, want)) mismatches++;
      }
    }
    expect(mismatches).toBe(0);
  });
});
