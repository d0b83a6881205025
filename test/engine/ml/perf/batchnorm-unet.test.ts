import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../../main/ml/tf.js';
import { pretrainConfig } from '../../../../main/ml/config.js';
import { Rng } from '../../../../main/ml/augment/rng.js';
import { createNet, disposeNet, gradsByParam, headForward, unetForward } from '../../../../main/ml/unet.js';
import { Adam } from '../../../../main/ml/pretrain/adam.js';
import { embedPairs, pairLoss, prepareBatch, samplePixelPairs } from '../../../../main/ml/pretrain/step.js';
import { phantomSlices } from '../phantoms.js';
import { useCpu } from '../cpu.js';

beforeAll(useCpu);

const S = 16;
const cfg = pretrainConfig('compact', {
  model: { unet: { levels: 2, base: 4, embedding: 8 }, head: { hidden: 8, out: 8 } },
  preprocess: { size: S },
  loss: { samples: 48 },
  train: { batch: 2, seed: 3 },
});

/** A fixed-seed run of `steps` optimisation steps; returns the loss curve and the final weights. */
function run(autodiffBatchNorm: boolean, steps: number): { losses: number[]; weights: Record<string, Float32Array> } {
  const net = createNet(cfg.model, 11);
  const adam = new Adam(cfg.optimizer, net.params);
  const rng = new Rng(21);
  const images = phantomSlices(4, S, 7);
  const opt = { training: true, autodiffBatchNorm };
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const views = prepareBatch([images[(2 * s) % 4]!, images[(2 * s + 1) % 4]!], S, cfg.augment, rng);
    const pairs = samplePixelPairs(views, cfg.loss.samples, rng);
    const { value, grads } = tf.variableGrads(
      () =>
        tf.tidy(() => {
          const { zA, zB } = embedPairs((x) => unetForward(net, x, opt), (h) => headForward(net, h, opt), views, pairs);
          return pairLoss(zA, zB, cfg.loss);
        }),
      Object.values(net.params),
    );
    losses.push(value.dataSync()[0]!);
    adam.apply(net.params, gradsByParam(net, grads));
    value.dispose();
    tf.dispose(grads);
  }
  const weights: Record<string, Float32Array> = {};
  for (const [k, v] of [...Object.entries(net.params), ...Object.entries(net.stats)]) weights[k] = v.dataSync() as Float32Array;
  adam.dispose();
  disposeNet(net);
  return { losses, weights };
}

describe('U-Net training-mode BatchNorm through the closed-form gradient', () => {
  it('gives the loss curve of the autodiff BatchNorm within 1e-4 relative over 5 fixed-seed steps', () => {
    const ref = run(true, 5);
    const fused = run(false, 5);
    expect(fused.losses).toHaveLength(5);
    for (let i = 0; i < 5; i++) {
      expect(Number.isFinite(ref.losses[i])).toBe(true);
      expect(Math.abs(fused.losses[i]! - ref.losses[i]!) / Math.abs(ref.losses[i]!)).toBeLessThan(1e-4);
    }
    // The curve moves (the steps did something) and the running statistics follow the same batches.
    expect(new Set(ref.losses.map((l) => l.toFixed(6))).size).toBeGreaterThan(1);
    for (const name of ['enc0.c1.mean', 'enc0.c1.var', 'head.c1.var', 'dec0.c2.gamma']) {
      const a = ref.weights[name]!;
      const b = fused.weights[name]!;
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(a[i]!)));
    }
  });

  it('leaves no tensor behind in a training-mode forward/backward', () => {
    const net = createNet(cfg.model, 2);
    const x = tf.tensor4d(phantomSlices(2, S, 1).flatMap((a) => Array.from(a)), [2, S, S, 1]);
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.mean(tf.square(unetForward(net, x, { training: true })))) as tf.Scalar, Object.values(net.params));
    value.dispose();
    tf.dispose(grads);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    disposeNet(net);
  });
});
