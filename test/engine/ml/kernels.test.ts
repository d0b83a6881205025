import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../../main/ml/backends/init.js';
import { registerWasmTrainingKernels } from '../../../main/ml/kernels/register.js';
import { kernelsUsedBy, missingKernels } from '../../../main/ml/kernels/coverage.js';
import { createNet, disposeNet, headForward, unetForward } from '../../../main/ml/unet.js';
import type { ModelConfig } from '../../../main/ml/config.js';
import { ntXentLoss } from '../../../main/ml/losses.js';
import { gatherBilinear } from '../../../main/ml/warp.js';
import { randomArray } from './cpu.js';

/**
 * Our wasm kernels against the pure-JS cpu backend, which computes the same gradients by direct loops.
 * Tolerance: float32 with different summation orders; we require max |wasm − cpu| ≤ 1e-4 · max |cpu| for
 * every gradient (observed: ~3e-7).
 */
const REL_TOL = 1e-4;

type Backend = 'cpu' | 'wasm';

async function on<T>(backend: Backend, f: () => T | Promise<T>): Promise<T> {
  await initBackend({ backend });
  return f();
}

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** max |ref − got| / max |ref|; `floor` bounds the denominator below for gradients that are exactly zero in theory. */
function maxRelErr(ref: Float32Array, got: Float32Array, floor = 0): number {
  expect(got.length).toBe(ref.length);
  let err = 0;
  let scale = floor;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(ref[i]! - got[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  expect(scale).toBeGreaterThan(0);
  return err / scale;
}

/** Gradients of a non-linear scalar of conv2d(x, w), so that dy is not constant. */
async function convGrads(xShape: number[], wShape: number[], stride: number, pad: 'same' | 'valid'): Promise<Float32Array[]> {
  const x = tf.tensor4d(randomArray(xShape.reduce((a, b) => a * b), 11), xShape as [number, number, number, number]);
  const w = tf.tensor4d(randomArray(wShape.reduce((a, b) => a * b), 23), wShape as [number, number, number, number]);
  const loss = (a: tf.Tensor, b: tf.Tensor) => {
    const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad);
    return tf.sum(tf.mul(y, tf.sin(y)));
  };
  const grads = tf.grads(loss)([x, w]);
  const out = [(await grads[0]!.data()) as Float32Array, (await grads[1]!.data()) as Float32Array];
  tf.dispose([x, w, ...grads]);
  return out;
}

beforeAll(async () => {
  await initBackend({ backend: 'cpu' });
  await initBackend({ backend: 'wasm' });
});

describe('wasm conv2d gradients (Conv2DBackpropFilter, Conv2DBackpropInput) vs cpu', () => {
  const cases: [string, number[], number[], number, 'same' | 'valid'][] = [
    ['3x3 stride 1 same', [2, 7, 6, 3], [3, 3, 3, 5], 1, 'same'],
    ['3x3 stride 1 valid', [2, 9, 8, 2], [3, 3, 2, 3], 1, 'valid'],
    ['3x3 stride 2 same, odd size', [2, 7, 6, 3], [3, 3, 3, 4], 2, 'same'],
    ['3x3 stride 2 valid, unread last row', [3, 8, 7, 2], [3, 3, 2, 4], 2, 'valid'],
    ['2x2 stride 2 valid', [2, 8, 8, 3], [2, 2, 3, 5], 2, 'valid'],
    ['2x2 stride 2 same, odd size', [2, 7, 5, 3], [2, 2, 3, 5], 2, 'same'],
    ['2x2 stride 1 same (asymmetric padding)', [2, 6, 5, 4], [2, 2, 4, 2], 1, 'same'],
    ['1x1 stride 1', [3, 5, 6, 4], [1, 1, 4, 2], 1, 'same'],
    ['1x1 stride 2 valid', [3, 5, 6, 4], [1, 1, 4, 2], 2, 'valid'],
    ['5x5 stride 1 same, cin 1', [2, 8, 8, 1], [5, 5, 1, 3], 1, 'same'],
  ];
  for (const [name, xs, ws, s, p] of cases) {
    it(name, async () => {
      const ref = await on('cpu', () => convGrads(xs, ws, s, p));
      const got = await on('wasm', () => convGrads(xs, ws, s, p));
      expect(maxRelErr(ref[0]!, got[0]!), 'dx').toBeLessThan(REL_TOL);
      expect(maxRelErr(ref[1]!, got[1]!), 'dw').toBeLessThan(REL_TOL);
    });
  }

  it('conv2dTranspose (2x2 stride 2, the U-Net up-convolution): forward and both gradients', async () => {
    const run = async () => {
      const x = tf.tensor4d(randomArray(2 * 4 * 3 * 6, 5), [2, 4, 3, 6]);
      const w = tf.tensor4d(randomArray(2 * 2 * 3 * 6, 7), [2, 2, 3, 6]);
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, [2, 8, 6, 3], 2, 'valid');
      const y = f(x, w);
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(f(a, b))))([x, w]);
      const out = [await y.data(), await g[0]!.data(), await g[1]!.data()] as Float32Array[];
      tf.dispose([x, w, y, ...g]);
      return out;
    };
    const ref = await on('cpu', run);
    const got = await on('wasm', run);
    ['y', 'dx', 'dw'].forEach((what, i) => expect(maxRelErr(ref[i]!, got[i]!), what).toBeLessThan(REL_TOL));
  });

  it('conv2dTranspose 3x3 stride 2 same: forward and gradients', async () => {
    const run = async () => {
      const x = tf.tensor4d(randomArray(2 * 3 * 4 * 5, 9), [2, 3, 4, 5]);
      const w = tf.tensor4d(randomArray(3 * 3 * 2 * 5, 13), [3, 3, 2, 5]);
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, [2, 6, 7, 2], 2, 'same');
      const y = f(x, w);
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(f(a, b))))([x, w]);
      const out = [await y.data(), await g[0]!.data(), await g[1]!.data()] as Float32Array[];
      tf.dispose([x, w, y, ...g]);
      return out;
    };
    const ref = await on('cpu', run);
    const got = await on('wasm', run);
    ['y', 'dx', 'dw'].forEach((what, i) => expect(maxRelErr(ref[i]!, got[i]!), what).toBeLessThan(REL_TOL));
  });

  it('frees every intermediate: no tensor or wasm buffer is left behind', async () => {
    await initBackend({ backend: 'wasm' });
    const backend = tf.backend();
    const x = tf.tensor4d(randomArray(2 * 6 * 6 * 3, 1), [2, 6, 6, 3]);
    const w = tf.tensor4d(randomArray(3 * 3 * 3 * 4, 2), [3, 3, 3, 4]);
    const up = tf.tensor4d(randomArray(2 * 2 * 3 * 4, 3), [2, 2, 3, 4]);
    const step = () => {
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
        const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same');
        return tf.sum(tf.conv2dTranspose(y, up, [2, 6, 6, 3], 2, 'same'));
      })([x, w]);
      tf.dispose(g);
    };
    step();
    const tensors = tf.memory().numTensors;
    const buffers = backend.numDataIds();
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(backend.numDataIds()).toBe(buffers);
    tf.dispose([x, w, up]);
  });
});

describe('wasm UnsortedSegmentSum', () => {
  it('sums rows by segment, drops out-of-range ids (hand-computed)', async () => {
    await initBackend({ backend: 'wasm' });
    const x = tf.tensor2d([1, 2, 10, 20, 100, 200, 1000, 2000, 5, 5], [5, 2]);
    const ids = tf.tensor1d([2, 0, 2, -1, 3], 'int32');
    const out = tf.unsortedSegmentSum(x, ids, 3);
    expect(out.shape).toEqual([3, 2]);
    // segment 0: row 1; segment 1: nothing; segment 2: rows 0 + 2; ids −1 and 3 are outside [0, 3).
    expect(Array.from(await out.data())).toEqual([10, 20, 0, 0, 101, 202]);
    tf.dispose([x, ids, out]);
  });

  it('gives tf.gather (GatherV2) its gradient, repeated indices summed', async () => {
    const run = async () => {
      const m = tf.tensor2d(randomArray(7 * 3, 17), [7, 3]);
      const idx = tf.tensor1d([4, 0, 4, 6, 2, 4], 'int32');
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.gather(t, idx))))(m);
      const out = (await g.data()) as Float32Array;
      tf.dispose([m, idx, g]);
      return out;
    };
    const ref = await on('cpu', run);
    const got = await on('wasm', run);
    expect(maxRelErr(ref, got)).toBeLessThan(REL_TOL);
    // Row 4 is gathered three times: its gradient is 3 · 2 · m[4]; rows never gathered get 0.
    const m = randomArray(7 * 3, 17);
    for (let c = 0; c < 3; c++) expect(got[4 * 3 + c]).toBeCloseTo(6 * m[4 * 3 + c]!, 5);
    for (const r of [1, 3, 5]) for (let c = 0; c < 3; c++) expect(got[r * 3 + c]).toBe(0);
  });
});

describe('a U-Net training step on wasm', () => {
  const tiny: ModelConfig = {
    preset: 'custom',
    unet: { levels: 3, base: 4, inChannels: 1, embedding: 6, normalization: 'batch', bnMomentum: 0.1, bnEpsilon: 1e-5 },
    head: { hidden: 6, out: 5 },
  };
  const step = (net: ReturnType<typeof createNet>) => {
    const x = tf.tensor4d(randomArray(2 * 8 * 8, 3), [2, 8, 8, 1]);
    const batch = new Int32Array([0, 0, 1, 1]);
    const { value, grads } = tf.variableGrads(() => {
      const h = unetForward(net, x, { training: true });
      const zA = headForward(net, gatherBilinear(h, batch, new Float32Array([1.5, 2.2, 3, 4, 6.9, 0.1, 4, 4])), { training: true });
      const zB = headForward(net, gatherBilinear(h, batch, new Float32Array([1, 2, 3.5, 4, 6, 0.5, 4.5, 4])), { training: true });
      return ntXentLoss(zA, zB, 0.53);
    }, Object.values(net.params));
    x.dispose();
    return { value, grads };
  };

  it('needs no kernel that wasm lacks (conv, BN moments, ReLU, max-pool, transposed conv, concat, gather, losses)', async () => {
    await initBackend({ backend: 'cpu' });
    const net = createNet(tiny, 1);
    const used = await kernelsUsedBy(() => {
      const { value, grads } = step(net);
      return [value, ...Object.values(grads)];
    });
    disposeNet(net);
    expect(used).toEqual(expect.arrayContaining(['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad']));
    expect(missingKernels(used, 'wasm')).toEqual([]);
  });

  it('computes the same loss and parameter gradients as cpu', async () => {
    const run = async () => {
      const net = createNet(tiny, 1);
      const { value, grads } = step(net);
      const out: Record<string, Float32Array> = { loss: (await value.data()) as Float32Array };
      // Variable names are made unique per net (net2/…, net3/…): key the gradients by parameter name.
      for (const [name, v] of Object.entries(net.params)) out[name] = (await grads[v.name]!.data()) as Float32Array;
      tf.dispose([value, ...Object.values(grads)]);
      disposeNet(net);
      return out;
    };
    const ref = await on('cpu', run);
    const got = await on('wasm', run);
    expect(Object.keys(got).sort()).toEqual(Object.keys(ref).sort());
    // out.b feeds the head's BatchNorm, which cancels any bias: its true gradient is 0 and both backends give
    // rounding noise. Each tensor is therefore compared relative to at least 1% of the largest gradient.
    const largest = Math.max(...Object.entries(ref).filter(([k]) => k !== 'loss').map(([, v]) => maxAbs(v)));
    for (const name of Object.keys(ref)) expect(maxRelErr(ref[name]!, got[name]!, 0.01 * largest), name).toBeLessThan(REL_TOL);
  });
});

describe('wasm Identity shares buffers', () => {
  it('a clone reads the same values, survives its source and frees the buffer with the last user', async () => {
    await initBackend({ backend: 'wasm' });
    const backend = tf.backend();
    const buffers = backend.numDataIds();
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const y = tf.clone(x);
    expect(backend.numDataIds()).toBe(buffers + 1); // shared, not copied
    x.dispose();
    expect(Array.from(await y.data())).toEqual([1, 2, 3, 4]);
    const z = tf.add(y, 1);
    expect(Array.from(await z.data())).toEqual([2, 3, 4, 5]);
    y.dispose();
    z.dispose();
    expect(backend.numDataIds()).toBe(buffers);
  });

  it('leaves a variable\'s saved value intact when the variable is reassigned', async () => {
    await initBackend({ backend: 'wasm' });
    const v = tf.variable(tf.tensor1d([1, 2, 3]));
    const kept = tf.clone(v);
    v.assign(tf.tensor1d([7, 8, 9]));
    expect(Array.from(await kept.data())).toEqual([1, 2, 3]);
    expect(Array.from(await v.data())).toEqual([7, 8, 9]);
    tf.dispose([v, kept]);
  });
});

describe('wasm Sum and Mean over leading axes', () => {
  const run = async () => {
    const x = tf.tensor4d(randomArray(4 * 6 * 5 * 3, 31, 3), [4, 6, 5, 3]);
    const outs = [
      tf.sum(x, [0, 1, 2]),
      tf.mean(x, [0, 1, 2]),
      tf.sum(x, [0, 1, 2], true),
      tf.mean(x, [1, 0]),
      tf.sum(x, 0),
      tf.sum(x, [1, 2]), // not leading: stock kernel
      tf.mean(x, -1), // not leading: stock kernel
      tf.sum(x), // all axes: stock kernel
    ];
    const shapes = outs.map((t) => t.shape);
    const values = (await Promise.all(outs.map((t) => t.data()))) as Float32Array[];
    tf.dispose([x, ...outs]);
    return { shapes, values };
  };

  it('agree with cpu on values and shapes (keepDims included), other patterns falling back', async () => {
    const ref = await on('cpu', run);
    const got = await on('wasm', run);
    expect(got.shapes).toEqual(ref.shapes);
    expect(got.shapes[2]).toEqual([1, 1, 1, 3]);
    ref.values.forEach((r, i) => expect(maxRelErr(r, got.values[i]!), `output ${i}`).toBeLessThan(REL_TOL));
  });

  it('sum a hand-made tensor exactly', async () => {
    await initBackend({ backend: 'wasm' });
    // 128 rows of [1, 2, 3]: above the size where the matmul path is taken.
    const x = tf.tile(tf.tensor3d([1, 2, 3], [1, 1, 3]), [8, 16, 1]);
    expect(Array.from(await tf.sum(x, [0, 1]).data())).toEqual([128, 256, 384]);
    expect(Array.from(await tf.mean(x, [0, 1]).data())).toEqual([1, 2, 3]);
  });
});

describe('wasm SplitV', () => {
  it('splits along every axis like cpu (short and long runs, uneven sizes)', async () => {
    const run = async () => {
      const x = tf.tensor4d(randomArray(3 * 4 * 70 * 5, 41), [3, 4, 70, 5]);
      const parts = [tf.split(x, [2, 3], 3), tf.split(x, [30, 40], 2), tf.split(x, 2, 1), tf.split(x, [1, 2], 0)].flat();
      const shapes = parts.map((t) => t.shape);
      const values = (await Promise.all(parts.map((t) => t.data()))) as Float32Array[];
      tf.dispose([x, ...parts]);
      return { shapes, values };
    };
    const ref = await on('cpu', run);
    const got = await on('wasm', run);
    expect(got.shapes).toEqual(ref.shapes);
    ref.values.forEach((r, i) => expect(Array.from(got.values[i]!), `part ${i}`).toEqual(Array.from(r)));
  });

  it('splits an int32 tensor by hand', async () => {
    await initBackend({ backend: 'wasm' });
    const [a, b] = tf.split(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32'), [1, 2], 1);
    expect(Array.from(await a!.data())).toEqual([1, 4]);
    expect(Array.from(await b!.data())).toEqual([2, 3, 5, 6]);
  });
});

describe('registration', () => {
  it('is idempotent: a second registration changes nothing', () => {
    expect(registerWasmTrainingKernels()).toEqual([]);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });
});
