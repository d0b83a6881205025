import type { IntensityAugmentConfig } from '../config.js';
import { Rng } from './rng.js';

/**
 * The intensity family T_i on one slice scaled to [0, 1] per volume. A draw is plain data (which transforms
 * fire and their parameters, plus a seed for the noise), so the same draw always gives the same image.
 */
export interface IntensityDraw {
  gamma?: number;
  /** Polynomial coefficients of log(bias field), terms x^i y^j with i + j ≤ order, in `biasTerms` order. */
  bias?: { order: number; coefficients: number[] };
  blurSigma?: number;
  noise?: { sigma: number; seed: number };
  invert: boolean;
}

/** Exponents (i, j) of the bias polynomial terms, in a fixed order. */
export function biasTerms(order: number): [number, number][] {
  const t: [number, number][] = [];
  for (let i = 0; i <= order; i++) for (let j = 0; j <= order - i; j++) t.push([i, j]);
  return t;
}

export function drawIntensity(rng: Rng, cfg: IntensityAugmentConfig): IntensityDraw {
  // Every draw is taken whether or not its transform fires, so the sequence does not depend on probabilities.
  const d: IntensityDraw = { invert: false };
  const gOn = rng.chance(cfg.gamma.p);
  const g = Math.exp(rng.uniform(cfg.gamma.logGamma[0], cfg.gamma.logGamma[1]));
  if (gOn) d.gamma = g;
  const bOn = rng.chance(cfg.biasField.p);
  const coefficients = biasTerms(cfg.biasField.order).map(() => rng.uniform(-cfg.biasField.coefficient, cfg.biasField.coefficient));
  if (bOn) d.bias = { order: cfg.biasField.order, coefficients };
  const blOn = rng.chance(cfg.blur.p);
  const sigma = rng.uniform(cfg.blur.sigma[0], cfg.blur.sigma[1]);
  if (blOn) d.blurSigma = sigma;
  const nOn = rng.chance(cfg.noise.p);
  const nSigma = rng.uniform(0, cfg.noise.sigmaMax);
  const seed = Math.floor(rng.next() * 4294967296) >>> 0;
  if (nOn) d.noise = { sigma: nSigma, seed };
  d.invert = rng.chance(cfg.inversion.p);
  return d;
}

/** Separable Gaussian blur with edge clamping; radius 3σ. */
export function gaussianBlur(img: Float32Array, height: number, width: number, sigma: number): Float32Array {
  if (!(sigma > 0.05)) return img.slice();
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float64Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i]! /= sum;
  const tmp = new Float32Array(img.length);
  const out = new Float32Array(img.length);
  // Each sum runs over the taps in the same order (−r to r) as the clamped form, which is what the result
  // depends on; only the clamping is left to the columns and rows within r of an edge.
  const xLo = Math.min(r, width);
  const xHi = Math.max(xLo, width - r);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < xLo; x++) tmp[row + x] = clampedTap(img, row, 1, width, x, k, r);
    for (let x = xLo; x < xHi; x++) {
      let v = 0;
      for (let i = 0, j = row + x - r; i <= 2 * r; i++, j++) v += k[i]! * img[j]!;
      tmp[row + x] = v;
    }
    for (let x = xHi; x < width; x++) tmp[row + x] = clampedTap(img, row, 1, width, x, k, r);
  }
  const yLo = Math.min(r, height);
  const yHi = Math.max(yLo, height - r);
  for (let y = 0; y < height; y++) {
    const inner = y >= yLo && y < yHi;
    for (let x = 0; x < width; x++) {
      if (!inner) {
        out[y * width + x] = clampedTap(tmp, x, width, height, y, k, r);
        continue;
      }
      let v = 0;
      for (let i = 0, j = (y - r) * width + x; i <= 2 * r; i++, j += width) v += k[i]! * tmp[j]!;
      out[y * width + x] = v;
    }
  }
  return out;
}

/** One blurred value near an edge: taps at base + stride · clamp(at + i, 0, n − 1) for i = −r … r. */
function clampedTap(src: Float32Array, base: number, stride: number, n: number, at: number, k: Float64Array, r: number): number {
  let v = 0;
  for (let i = -r; i <= r; i++) v += k[i + r]! * src[base + stride * Math.min(n - 1, Math.max(0, at + i))]!;
  return v;
}

/** Above this relative distance from a float32 rounding boundary, exp(g·log v) rounds like v ** g (see `gammaF32`). */
const POW_MARGIN = 1e-10;
const POW_LO = 1 - POW_MARGIN;
const POW_HI = 1 + POW_MARGIN;

/**
 * Math.fround(v ** g) for v > 0, several times faster: a full-precision `**` per pixel made gamma a large part
 * of an augmentation. In the range checked below |g·log v| < 210, so exp(g·log v) is within ~1e-13 relative of the
 * exact power, and so is v ** g (within an ulp or two). When both y·(1 − 1e-10) and y·(1 + 1e-10) round to the
 * same float32, so does everything between them (rounding is monotonic), v ** g included; otherwise (about
 * 1 value in 400) the power itself is taken. Compared value by value in test/engine/ml/augment-pinned.test.ts.
 */
export function gammaF32(v: number, g: number): number {
  if (v > 1e-30 && v < 1e30 && g > -3 && g < 3) {
    const y = Math.exp(g * Math.log(v));
    const f = Math.fround(y);
    if (Math.fround(y * POW_LO) === f && Math.fround(y * POW_HI) === f) return f;
  }
  return Math.fround(v ** g);
}

/** Applies a draw in a fixed order: gamma, bias field, blur, noise, inversion. Returns a new array. */
export function applyIntensity(img: Float32Array, height: number, width: number, d: IntensityDraw): Float32Array {
  let out: Float32Array = img.slice();
  if (d.gamma !== undefined) {
    const g = d.gamma;
    // Sign-preserving power: values a little below 0 (after noise in an earlier pipeline) stay defined.
    for (let i = 0; i < out.length; i++) {
      const v = out[i]!;
      out[i] = v > 0 ? gammaF32(v, g) : v >= 0 ? v ** g : -((-v) ** g);
    }
  }
  if (d.bias) applyBias(out, height, width, d.bias.order, d.bias.coefficients);
  if (d.blurSigma !== undefined) out = gaussianBlur(out, height, width, d.blurSigma);
  if (d.noise) {
    const r = new Rng(d.noise.seed);
    const sigma = d.noise.sigma;
    for (let i = 0; i < out.length; i++) out[i]! += sigma * r.normal();
  }
  if (d.invert) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of out) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    for (let i = 0; i < out.length; i++) out[i] = lo + hi - out[i]!;
  }
  return out;
}

/**
 * Multiplies by exp(polynomial) in place. The powers of each column's x and each row's y, and each term's
 * coefficient times its x power, are taken once instead of per pixel; the per-pixel sum keeps the term order
 * and the (coefficient · x^i) · y^j grouping of the direct form, so the values are the same.
 */
function applyBias(out: Float32Array, height: number, width: number, order: number, coefficients: number[]): void {
  const terms = biasTerms(order);
  const T = terms.length;
  const cx = new Float64Array(width * T);
  for (let x = 0; x < width; x++) {
    const nx = width > 1 ? (2 * x) / (width - 1) - 1 : 0;
    for (let t = 0; t < T; t++) cx[x * T + t] = coefficients[t]! * nx ** terms[t]![0];
  }
  const py = new Float64Array(T);
  for (let y = 0; y < height; y++) {
    const ny = height > 1 ? (2 * y) / (height - 1) - 1 : 0;
    for (let t = 0; t < T; t++) py[t] = ny ** terms[t]![1];
    for (let x = 0; x < width; x++) {
      let p = 0;
      for (let t = 0, c = x * T; t < T; t++, c++) p += cx[c]! * py[t]!;
      out[y * width + x]! *= Math.exp(p);
    }
  }
}
