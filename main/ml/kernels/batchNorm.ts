import * as tf from '@tensorflow/tfjs-core';

export interface BatchNormTrainResult {
  y: tf.Tensor;
  /** Batch mean and biased variance per channel (for running statistics; no gradient flows through them). */
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/**
 * Training-mode BatchNorm over every axis but the last, y = γ·(x − μ)/√(σ² + ε) + β, with a hand-written
 * gradient. Differentiating tf.moments and the arithmetic around it makes tfjs run ~20 full-size passes
 * (broadcasts, casts, copies) per layer; the closed form needs 8:
 *   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = γ/√(σ² + ε) · (dy − dβ/N − x̂·dγ/N),
 * with x̂ recomputed by the backend's fused BatchNorm kernel rather than kept alive between passes.
 */
export function batchNormTrain(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): BatchNormTrainResult {
  const channels = x.shape[x.rank - 1]!;
  if (gamma.size !== channels || beta.size !== channels) throw new Error(`batchNormTrain: ${channels} channels but γ has ${gamma.size} and β ${beta.size}`);
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const n = x.size / channels;
  // As tf.moments, minus one full-size pass: squaredDifference fuses its separate sub and square.
  const { mean, variance } = tf.tidy(() => {
    const mu = tf.mean(x, axes) as tf.Tensor1D;
    return { mean: mu, variance: tf.mean(tf.squaredDifference(x, mu), axes) as tf.Tensor1D };
  });
  const norm = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, g, b, save] = args as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    // The moments are saved with the inputs: tensors merely captured here would be freed with the forward scope.
    save([xIn, g, mean, variance]);
    const value = tf.batchNorm(xIn, mean, variance, b, g, eps);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, gs, mu, vr] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
        const xhat = tf.batchNorm(xs, mu, vr, undefined, undefined, eps);
        const dBeta = tf.sum(dy, axes) as tf.Tensor1D;
        const dGamma = tf.sum(tf.mul(dy, xhat), axes) as tf.Tensor1D;
        const scale = tf.mul(gs, tf.rsqrt(tf.add(vr, eps)));
        // dx = dy·scale + x̂·(−scale·dγ/N) + (−scale·dβ/N), per channel.
        const a = tf.mul(scale, -1 / n);
        const dx = tf.add(tf.add(tf.mul(dy, scale), tf.mul(xhat, tf.mul(a, dGamma))), tf.mul(a, dBeta));
        return [dx, dGamma, dBeta];
      },
    };
  });
  const y = norm(x, gamma, beta);
  return { y, mean, variance };
}
