import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../../main/ml/backends/init.js';
import { batchNormTrain } from '../../../main/ml/kernels/batchNorm.js';
import { randomArray } from './cpu.js';

/** BatchNorm written the plain way (tf.moments and arithmetic), differentiated by tfjs: the reference. */
function plainBatchNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  const m = tf.moments(x, [0, 1, 2]);
  return tf.add(tf.mul(tf.mul(tf.sub(x, m.mean), tf.rsqrt(tf.add(m.variance, eps))), gamma), beta);
}

const shape: [number, number, number, number] = [2, 5, 6, 3];
const size = shape.reduce((a, b) => a * b);

function inputs() {
  const x = tf.tensor4d(Array.from(randomArray(size, 5), (v, i) => 2 * v + (i % 3)), shape);
  const gamma = tf.tensor1d([1.5, -0.5, 0.8]);
  const beta = tf.tensor1d([0.1, 0, -2]);
  // A fixed random weighting makes dy non-uniform, so every term of the gradient matters.
  const w = tf.tensor4d(randomArray(size, 9), shape);
  return { x, gamma, beta, w };
}

async function gradsOf(bn: (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor): Promise<Float32Array[]> {
  const { x, gamma, beta, w } = inputs();
  const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(tf.square(bn(a, b, c)), w)))([x, gamma, beta]);
  const out = (await Promise.all(g.map((t) => t.data()))) as Float32Array[];
  tf.dispose([x, gamma, beta, w, ...g]);
  return out;
}

function relErr(ref: Float32Array, got: Float32Array): number {
  let e = 0;
  let s = 0;
  for (let i = 0; i < ref.length; i++) {
    e = Math.max(e, Math.abs(ref[i]! - got[i]!));
    s = Math.max(s, Math.abs(ref[i]!));
  }
  return e / s;
}

describe('batchNormTrain (closed-form gradient)', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`matches tfjs's differentiation of the plain formula on ${backend} (1e-4 relative)`, async () => {
      await initBackend({ backend });
      const ref = await gradsOf((x, g, b) => plainBatchNorm(x, g, b, 1e-5));
      const got = await gradsOf((x, g, b) => batchNormTrain(x, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5).y);
      ['dx', 'dgamma', 'dbeta'].forEach((what, i) => expect(relErr(ref[i]!, got[i]!), what).toBeLessThan(1e-4));
    });
  }

  it('normalises each channel to mean β and standard deviation |γ| (hand-checkable)', async () => {
    await initBackend({ backend: 'wasm' });
    const x = tf.tensor4d([1, 10, 2, 20, 3, 30, 4, 40], [1, 2, 2, 2]);
    const { y, mean, variance } = batchNormTrain(x, tf.tensor1d([2, 1]), tf.tensor1d([0, 5]), 0);
    expect(Array.from(await mean.data())).toEqual([2.5, 25]);
    expect(Array.from(await variance.data())).toEqual([1.25, 125]);
    // channel 0: (v − 2.5)/√1.25 · 2; channel 1: (v − 25)/√125 + 5.
    const r = Math.sqrt(1.25);
    const expected = [(-1.5 / r) * 2, -15 / Math.sqrt(125) + 5, (-0.5 / r) * 2, -5 / Math.sqrt(125) + 5, (0.5 / r) * 2, 5 / Math.sqrt(125) + 5, (1.5 / r) * 2, 15 / Math.sqrt(125) + 5];
    Array.from(await y.data()).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    tf.dispose([x, y, mean, variance]);
  });

  it('leaves no tensor behind, with or without gradients', async () => {
    await initBackend({ backend: 'wasm' });
    const { x, gamma, beta, w } = inputs();
    const before = tf.memory().numTensors;
    const r = batchNormTrain(x, gamma, beta, 1e-5);
    tf.dispose([r.y, r.mean, r.variance]);
    tf.dispose(tf.grads((a: tf.Tensor) => tf.sum(tf.mul(batchNormTrain(a, gamma, beta, 1e-5).y, w)))([x]));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, gamma, beta, w]);
  });

  it('rejects γ or β of the wrong width', () => {
    const x = tf.zeros([1, 2, 2, 3]);
    expect(() => batchNormTrain(x, tf.ones([2]) as tf.Tensor1D, tf.zeros([3]) as tf.Tensor1D, 1e-5)).toThrow('3 channels but γ has 2');
  });
});
