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
}

/** Applies a draw in a fixed order: gamma, bias field, blur, noise, inversion. Returns a new array. */
export function applyIntensity(img: Float32Array, height: number, width: number, d: IntensityDraw): Float32Array {
  let out: Float32Array = img.slice();
  if (d.gamma !== undefined) {
    const g = d.gamma;
    // Sign-preserving power: values a little below 0 (after noise in an earlier pipeline) stay defined.
    for (let i = 0; i < out.length; i++) {
      const v = out[i]!;
      out[i] = v >= 0 ? v ** g : -((-v) ** g);
    }
  }
  if (d.bias) {
    const terms = biasTerms(d.bias.order);
    for (let y = 0; y < height; y++) {
      const ny = height > 1 ? (2 * y) / (height - 1) - 1 : 0;
      for (let x = 0; x < width; x++) {
        const nx = width > 1 ? (2 * x) / (width - 1) - 1 : 0;
        let p = 0;
        for (let t = 0; t < terms.length; t++) p += d.bias.coefficients[t]! * nx ** terms[t]![0] * ny ** terms[t]![1];
        out[y * width + x]! *= Math.exp(p);
      }
    }
  }
  if (d.blurSigma !== undefined) out = gaussianBlur(out, height, width, d.blurSigma);
  if (d.noise) {
    const r = new Rng(d.noise.seed);
    for (let i = 0; i < out.length; i++) out[i]! += d.noise.sigma * r.normal();
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
