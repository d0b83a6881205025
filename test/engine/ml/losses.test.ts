import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../main/ml/tf.js';
import { barlowTwinsLoss, diceCrossEntropyLoss, l2Normalize, ntXentLoss } from '../../../main/ml/losses.js';
import { useCpu } from './cpu.js';

beforeAll(useCpu);

const t2 = (rows: number[][]) => tf.tensor2d(rows);
const val = (s: tf.Scalar) => s.arraySync() as number;

/** NT-Xent written out loop by loop, for the hand cases. */
function ntXentRef(a: number[][], b: number[][], tau: number): number {
  const norm = (v: number[]) => {
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  };
  const z = [...a.map(norm), ...b.map(norm)];
  const k = a.length;
  let total = 0;
  for (let i = 0; i < 2 * k; i++) {
    const pos = i < k ? i + k : i - k;
    let den = 0;
    for (let j = 0; j < 2 * k; j++) if (j !== i) den += Math.exp(z[i]!.reduce((s, x, d) => s + x * z[j]![d]!, 0) / tau);
    const num = Math.exp(z[i]!.reduce((s, x, d) => s + x * z[pos]![d]!, 0) / tau);
    total -= Math.log(num / den);
  }
  return total / (2 * k);
}

describe('NT-Xent (Pix2Rep v1)', () => {
  it('two orthogonal pairs with coinciding positives: log(1 + 2e^(−1/τ))', () => {
    const e = [[1, 0], [0, 1]];
    const l = val(ntXentLoss(t2(e), t2(e), 0.5));
    expect(l).toBeCloseTo(Math.log(1 + 2 * Math.exp(-2)), 5);
  });
  it('matches the loop-by-loop definition on unnormalised vectors (normalisation inside)', () => {
    const a = [[1, 0], [1, 1], [0.2, -3]];
    const b = [[0, 2], [1, 0], [-1, -1]];
    expect(val(ntXentLoss(t2(a), t2(b), 0.53))).toBeCloseTo(ntXentRef(a, b, 0.53), 5);
  });
  it('with negatives kept orthogonal, coinciding positives are the minimum', () => {
    // K = 3 pairs in 6 dimensions: B_i = cos t · e_i + sin t · e_{i+3} keeps every negative pair orthogonal
    // while the positive cosine falls from 1; the loss must grow with t.
    const k = 3;
    const loss = (t: number) => {
      const a = Array.from({ length: k }, (_, i) => Array.from({ length: 2 * k }, (_, d) => (d === i ? 1 : 0)));
      const b = Array.from({ length: k }, (_, i) => Array.from({ length: 2 * k }, (_, d) => (d === i ? Math.cos(t) : d === i + k ? Math.sin(t) : 0)));
      return val(ntXentLoss(t2(a), t2(b), 0.53));
    };
    const l0 = loss(0);
    expect(l0).toBeCloseTo(Math.log(1 + 4 * Math.exp(-1 / 0.53)), 5);
    let prev = l0;
    for (const t of [0.1, 0.3, 0.8, 1.5]) {
      const l = loss(t);
      expect(l).toBeGreaterThan(prev);
      prev = l;
    }
  });
  it('is differentiable and leaks no tensors', () => {
    const a = tf.variable(t2([[1, 2], [3, -1]]));
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => ntXentLoss(a, t2([[1, 0], [0, 1]]) as tf.Tensor2D, 0.53), [a]);
    expect(Number.isFinite(val(value))).toBe(true);
    expect((grads[a.name] as tf.Tensor).shape).toEqual([2, 2]);
    value.dispose();
    tf.dispose(grads);
    // Intermediates (and the constant made inline for zB) are freed by the gradient's own scope.
    expect(tf.memory().numTensors).toBe(before);
    a.dispose();
  });
  it('l2Normalize gives unit rows', () => {
    const n = l2Normalize(t2([[3, 4], [0, -2]])).arraySync();
    expect(n[0]).toEqual([0.6000000238418579, 0.800000011920929]);
    expect(n[1]![1]).toBeCloseTo(-1, 6);
  });
});

describe('Barlow Twins over pixels (Pix2Rep v2)', () => {
  const c1 = [1, -1, 1, -1];
  const c2 = [1, 1, -1, -1];
  const cols = (...cs: number[][]) => t2(cs[0]!.map((_, r) => cs.map((c) => c[r]!)));
  it('is zero for identical, standardised, decorrelated branches', () => {
    expect(val(barlowTwinsLoss(cols(c1, c2), cols(c1, c2), 5e-3))).toBeCloseTo(0, 4);
  });
  it('is invariant to per-channel scale and shift (standardisation inside)', () => {
    const a = cols(c1.map((x) => 3 * x + 5), c2.map((x) => 0.5 * x - 1));
    expect(val(barlowTwinsLoss(a, cols(c1, c2), 5e-3))).toBeCloseTo(0, 4);
  });
  it('hand case: B = [c1, c1] gives C = [[1, 1], [0, 0]], loss = 1 + λ', () => {
    expect(val(barlowTwinsLoss(cols(c1, c2), cols(c1, c1), 0.25))).toBeCloseTo(1.25, 4);
  });
});

describe('Dice + cross-entropy', () => {
  it('one pixel, two classes, uniform prediction: 2/3 + ln 2', () => {
    const logits = tf.tensor4d([0, 0], [1, 1, 1, 2]);
    const target = tf.tensor4d([1, 0], [1, 1, 1, 2]);
    expect(val(diceCrossEntropyLoss(logits, target))).toBeCloseTo(2 / 3 + Math.log(2), 4);
    // Without background, only class 1 (absent, predicted 0.5) counts: Dice 0.
    expect(val(diceCrossEntropyLoss(logits, target, undefined, { includeBackground: false }))).toBeCloseTo(1 + Math.log(2), 4);
  });
  it('the mask ignores unlabelled pixels; a confident correct prediction costs ≈ 0', () => {
    const logits = tf.tensor4d([20, 0, 0, 20, 0, 20, 20, 0], [1, 2, 2, 2]);
    const target = tf.tensor4d([1, 0, 1, 0, 0, 1, 1, 0], [1, 2, 2, 2]);
    const mask = tf.tensor4d([1, 0, 1, 0], [1, 2, 2, 1]);
    expect(val(diceCrossEntropyLoss(logits, target, mask, { includeBackground: false }))).toBeLessThan(1e-4);
    expect(val(diceCrossEntropyLoss(logits, target))).toBeGreaterThan(1);
  });
  it('handles any number of classes (4, ACDC)', () => {
    const logits = tf.randomNormal([2, 4, 4, 4], 0, 1, 'float32', 1) as tf.Tensor4D;
    const lab = tf.reshape(tf.oneHot(tf.tensor1d(Array.from({ length: 32 }, (_, i) => i % 4), 'int32'), 4), [2, 4, 4, 4]) as tf.Tensor4D;
    const l = val(diceCrossEntropyLoss(logits, lab));
    expect(l).toBeGreaterThan(0);
    expect(Number.isFinite(l)).toBe(true);
  });
});
