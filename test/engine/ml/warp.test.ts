import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../main/ml/tf.js';
import { gatherBilinear, gatherPixels, gatherRows, validityMask, warpMap } from '../../../main/ml/warp.js';
import { sampleImage, spatialGrid } from '../../../main/ml/augment/spatial.js';
import { randomArray, useCpu } from './cpu.js';

beforeAll(useCpu);

describe('differentiable bilinear warp', () => {
  it('agrees with the image resampler used to render view B', () => {
    const img = randomArray(36, 1);
    const grid = spatialGrid({ angleRad: 0.7, scale: 0.8, offset: [0.3, -0.4], flip: 'y' }, 6, 6);
    const ref = sampleImage(img, 6, 6, grid);
    const out = warpMap(tf.tensor4d(img, [1, 6, 6, 1]), [grid], 6, 6).dataSync();
    for (let i = 0; i < 36; i++) expect(out[i]).toBeCloseTo(ref[i]!, 5);
  });
  it('picks the right image of the batch and interpolates every channel', () => {
    // Image 1 has value 100 + 10·x + y in channel 0 and its negative in channel 1.
    const data = new Float32Array(2 * 3 * 3 * 2);
    for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) {
      const k = ((9 + y * 3 + x) * 2);
      data[k] = 100 + 10 * x + y;
      data[k + 1] = -(100 + 10 * x + y);
    }
    const m = tf.tensor4d(data, [2, 3, 3, 2]);
    const v = gatherBilinear(m, Int32Array.from([1, 0]), Float32Array.from([1.5, 0.25, 1, 1])).arraySync();
    expect(v[0]![0]).toBeCloseTo(115.25, 4);
    expect(v[0]![1]).toBeCloseTo(-115.25, 4);
    expect(v[1]).toEqual([0, 0]);
    expect(gatherPixels(m, Int32Array.from([1]), Int32Array.from([2]), Int32Array.from([1])).arraySync()).toEqual([[121, -121]]);
  });
  it('gradient matches finite differences', () => {
    const [b, h, w, c] = [2, 4, 5, 3];
    const base = randomArray(b * h * w * c, 7);
    const weights = tf.tensor2d(randomArray(6 * c, 9), [6, c]);
    const batch = Int32Array.from([0, 1, 1, 0, 1, 0]);
    const pts = Float32Array.from([0.3, 0.7, 3.9, 2.2, 1.5, 1.5, 4, 3, -0.5, 1.2, 2.25, 2.75]);
    const f = (m: tf.Tensor) => tf.sum(tf.mul(gatherBilinear(m as tf.Tensor4D, batch, pts), weights)) as tf.Scalar;
    const grad = tf.grad(f)(tf.tensor4d(base, [b, h, w, c])).dataSync();
    const eps = 1e-2;
    for (let i = 0; i < base.length; i++) {
      const up = base.slice();
      up[i]! += eps;
      const dn = base.slice();
      dn[i]! -= eps;
      const fd = ((f(tf.tensor4d(up, [b, h, w, c])).arraySync() as number) - (f(tf.tensor4d(dn, [b, h, w, c])).arraySync() as number)) / (2 * eps);
      expect(grad[i]).toBeCloseTo(fd, 3);
    }
    // Some taps fall outside the image (x = −0.5): their weight is zero, the rest still gets gradient.
    expect(Array.from(grad).some((g) => g !== 0)).toBe(true);
  });
  it('gatherRows: gradient sums duplicate rows (scatter-add) and frees its saved index', () => {
    const x = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
    const before = tf.memory().numTensors;
    const g = tf.grad((t: tf.Tensor) => tf.sum(gatherRows(t as tf.Tensor2D, Int32Array.from([2, 0, 2, 2]))))(x);
    expect(g.arraySync()).toEqual([[1, 1], [0, 0], [3, 3]]);
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
  it('validity mask marks sources outside the image', () => {
    const grid = Float32Array.from([0, 0, 1, 1, -0.6, 0, 1, 1.2]);
    expect(Array.from(validityMask([grid], 2, 2, 2, 2).dataSync())).toEqual([1, 1, 0, 0]);
  });
  it('rejects mismatched inputs with a clear message', () => {
    const m = tf.zeros([1, 2, 2, 1]) as tf.Tensor4D;
    expect(() => gatherBilinear(m, Int32Array.from([1]), Float32Array.from([0, 0]))).toThrow(/batch index 1/);
    expect(() => warpMap(m, [], 2, 2)).toThrow(/0 grids for a batch of 1/);
  });
});
