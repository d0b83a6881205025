import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../main/ml/tf.js';
import { modelPreset, type ModelConfig } from '../../../main/ml/config.js';
import { countParams, createNet, disposeNet, gradsByParam, headForward, modelSpecs, unetForward } from '../../../main/ml/unet.js';
import { randomArray, useCpu } from './cpu.js';

beforeAll(useCpu);

const tiny: ModelConfig = {
  preset: 'custom',
  unet: { levels: 2, base: 4, inChannels: 1, embedding: 6, normalization: 'batch', bnMomentum: 0.1, bnEpsilon: 1e-5 },
  head: { hidden: 6, out: 5 },
};

describe('U-Net', () => {
  it('counts parameters by configuration: compact ≈ 0.5 M, paper ≈ 124 M', () => {
    const compact = countParams(modelPreset('compact'));
    const paper = countParams(modelPreset('paper'));
    expect(compact).toBeGreaterThan(450_000);
    expect(compact).toBeLessThan(550_000);
    // DESIGN.md quotes ~135 M; this U-Net (2×2 transposed conv halving channels, no conv bias before BN)
    // counts 124.4 M; the gap is the authors' layer details, not the level/width layout.
    expect(paper).toBeGreaterThan(120e6);
    expect(paper).toBeLessThan(140e6);
  });
  it('counts a tiny net by hand', () => {
    // enc0: 3·3·1·4 + 3·3·4·4 + 2·(4+4) BN = 36 + 144 + 16; enc1: 3·3·4·8 + 3·3·8·8 + 2·(8+8) = 288 + 576 + 32
    // dec0: up 2·2·8·4 + 4, c1 3·3·8·4 + 8, c2 3·3·4·4 + 8; out 4·6 + 6.
    const backbone = 196 + 896 + (128 + 4) + (288 + 8) + (144 + 8) + 30;
    expect(countParams(tiny)).toBe(backbone);
    // head: 6·6 + 12 (BN) + 6·5 + 5
    expect(countParams(tiny, true)).toBe(backbone + 36 + 12 + 35);
    const net = createNet(tiny, 1);
    const allocated = Object.values(net.params).reduce((n, v) => n + v.size, 0);
    expect(allocated).toBe(countParams(tiny, true));
    disposeNet(net);
  });
  it('embeds at input resolution with D channels; train and eval modes differ; running stats move', () => {
    const net = createNet(tiny, 3);
    const x = tf.tensor4d(randomArray(2 * 8 * 8, 5), [2, 8, 8, 1]);
    const before = tf.memory().numTensors;
    const yEval = tf.tidy(() => unetForward(net, x, { training: false }));
    expect(yEval.shape).toEqual([2, 8, 8, 6]);
    const mean0 = net.stats['enc0.c1.mean']!.dataSync().slice();
    const yTrain = tf.tidy(() => unetForward(net, x, { training: true }));
    const mean1 = net.stats['enc0.c1.mean']!.dataSync();
    expect(Array.from(mean1)).not.toEqual(Array.from(mean0));
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(yTrain, yEval))).dataSync()[0])).toBeGreaterThan(1e-3);
    tf.dispose([yEval, yTrain]);
    expect(tf.memory().numTensors).toBe(before);
    disposeNet(net);
  });
  it('training-mode BatchNorm normalises each channel over the batch', () => {
    const cfg: ModelConfig = { ...tiny, unet: { ...tiny.unet, levels: 1 } };
    const net = createNet(cfg, 4, false);
    // One level: conv-BN-ReLU ×2 then 1×1; check the first BN by running the same ops here.
    const x = tf.tensor4d(randomArray(3 * 4 * 4, 8), [3, 4, 4, 1]);
    const conv = tf.conv2d(x, net.params['enc0.c1.w'] as unknown as tf.Tensor4D, 1, 'same');
    const { mean, variance } = tf.moments(conv, [0, 1, 2]);
    const n = 3 * 4 * 4;
    const expectMean = tf.mul(mean, 0.1).dataSync();
    const expectVar = tf.add(0.9, tf.mul(variance, (0.1 * n) / (n - 1))).dataSync();
    tf.tidy(() => unetForward(net, x, { training: true }));
    const m = net.stats['enc0.c1.mean']!.dataSync();
    const v = net.stats['enc0.c1.var']!.dataSync();
    for (let i = 0; i < 4; i++) {
      expect(m[i]).toBeCloseTo(expectMean[i]!, 5);
      expect(v[i]).toBeCloseTo(expectVar[i]!, 5);
    }
    disposeNet(net);
  });
  it('He initialisation: weight std ≈ sqrt(2 / fan-in); same seed, same weights', () => {
    const a = createNet(modelPreset('compact'), 7, false);
    const w = a.params['enc3.c2.w']!.dataSync();
    const std = Math.sqrt(Array.from(w as Float32Array).reduce((s, x) => s + x * x, 0) / w.length);
    expect(std).toBeCloseTo(Math.sqrt(2 / (9 * 128)), 3);
    const b = createNet(tiny, 7);
    const c = createNet(tiny, 7);
    expect(b.params['dec0.up.w']!.dataSync()).toEqual(c.params['dec0.up.w']!.dataSync());
    [a, b, c].forEach(disposeNet);
  });
  it('head maps pixel vectors D → out; gradients reach every parameter', () => {
    const net = createNet(tiny, 2);
    const x = tf.tensor4d(randomArray(2 * 4 * 4, 1), [2, 4, 4, 1]);
    const vars = Object.values(net.params);
    const { value, grads } = tf.variableGrads(() => {
      const f = unetForward(net, x, { training: true });
      const z = headForward(net, tf.reshape(f, [-1, 6]) as tf.Tensor2D, { training: true });
      expect(z.shape).toEqual([32, 5]);
      return tf.sum(tf.square(z)) as tf.Scalar;
    }, vars);
    const byName = gradsByParam(net, grads);
    expect(Object.keys(byName).sort()).toEqual(Object.keys(net.params).sort());
    expect(Math.abs(byName['enc0.c1.w']!.dataSync()[0]!)).toBeGreaterThan(0);
    value.dispose();
    tf.dispose(grads);
    expect(modelSpecs(tiny).filter((s) => !s.trainable).map((s) => s.name)).toContain('head.c1.mean');
    disposeNet(net);
  });
  it('rejects an input size the levels cannot pool', () => {
    const net = createNet(tiny, 1);
    expect(() => unetForward(net, tf.zeros([1, 7, 8, 1]) as tf.Tensor4D, { training: false })).toThrow(/not divisible by 2/);
    disposeNet(net);
  });
});
