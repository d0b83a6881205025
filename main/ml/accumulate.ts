import { tf } from './tf.js';

/**
 * Gradient accumulation over micro-batches: one optimizer update from the gradients of several smaller forward
 * and backward passes, so that a batch larger than one engine instance's memory still trains (main/ml/memory.ts).
 *
 * For a loss that is a weighted mean of per-micro-batch losses, L = Σ w_i L_i, the gradient is Σ w_i ∇L_i: the
 * accumulated update is the full-batch one whenever the per-image losses do not interact across the batch. Two
 * things in this project make them interact: training-mode BatchNorm (statistics of the micro-batch, not of the
 * batch) and contrastive losses (negatives of the micro-batch only). docs/PERFORMANCE.md says what that changes.
 */
export interface MicroBatch {
  /** Weight of this part's loss in the batch loss (e.g. its share of the images or pixel pairs). */
  weight: number;
  /** The part's loss; called once, inside variableGrads. */
  loss: () => tf.Scalar;
}

export interface Accumulated {
  /** Σ weight · loss (the loss of a single part as computed, when there is one part of weight 1). */
  value: number;
  /** Σ weight · gradient, keyed by variable name as tf.variableGrads keys them. */
  grads: tf.NamedTensorMap;
}

/**
 * Runs the parts one after another, keeping only the running sum of their weighted gradients between them
 * (peak memory: one part's activations plus the gradients). One part of weight 1 is exactly tf.variableGrads,
 * bit for bit. The sum is formed in JavaScript, acc += weight · g per element in part order, the very
 * arithmetic with which parallel/trainer.ts combines its workers' gradients: k micro-batches on one engine
 * and k data-parallel workers give the same bits.
 */
export function accumulateGrads(parts: readonly MicroBatch[], vars: tf.Variable[], before?: (i: number) => void, after?: (i: number) => void): Accumulated {
  if (parts.length === 0) throw new Error('no micro-batches to accumulate');
  let value = 0;
  const acc = new Map<string, { shape: number[]; sum: Float32Array }>();
  for (const [i, part] of parts.entries()) {
    before?.(i);
    const { value: v, grads } = tf.variableGrads(part.loss, vars);
    after?.(i);
    if (parts.length === 1 && part.weight === 1) {
      value = v.dataSync()[0]!;
      v.dispose();
      return { value, grads };
    }
    value += part.weight * v.dataSync()[0]!;
    v.dispose();
    for (const [name, g] of Object.entries(grads)) {
      const d = g.dataSync();
      let a = acc.get(name);
      if (!a) acc.set(name, (a = { shape: g.shape, sum: new Float32Array(d.length) }));
      const sum = a.sum;
      for (let j = 0; j < d.length; j++) sum[j]! += part.weight * d[j]!;
    }
    tf.dispose(grads);
  }
  const grads: tf.NamedTensorMap = {};
  for (const [name, a] of acc) grads[name] = tf.tensor(a.sum, a.shape, 'float32');
  return { value, grads };
}
