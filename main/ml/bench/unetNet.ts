import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../config.js';
import { createNet, disposeNet, unetForward } from '../unet.js';
import type { BenchNet } from './trainStep.js';

/**
 * The U-Net backbone for the benchmark. The loss is the mean square of the embedding: its own cost is
 * negligible, so the step measures the backbone's forward and backward passes plus the Adam update, the
 * part every pretraining and fine-tuning step shares (Pix2Rep runs it once per branch).
 */
export function unetBenchNet(cfg: ModelConfig, seed = 1): BenchNet {
  const net = createNet(cfg, seed, false);
  return {
    variables: Object.values(net.params),
    loss: (x) => tf.mean(tf.square(unetForward(net, x, { training: true }))) as tf.Scalar,
    infer: (x) => unetForward(net, x, { training: false }),
    dispose: () => disposeNet(net),
  };
}
