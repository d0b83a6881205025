import { tf } from './tf.js';

/**
 * Pretraining losses over sampled pixel vectors (row i of zA and row i of zB are the same anatomy seen in the
 * two views), and the segmentation loss used downstream.
 */

/** Rows scaled to unit L2 norm (the epsilon keeps an all-zero vector finite). */
export function l2Normalize(x: tf.Tensor2D, eps = 1e-12): tf.Tensor2D {
  return tf.tidy(() => tf.div(x, tf.sqrt(tf.add(tf.sum(tf.square(x), 1, true), eps))) as tf.Tensor2D);
}

/**
 * Pix2Rep (v1): NT-Xent over the 2K vectors [zA; zB] with temperature τ. The positive of row i is the same
 * location in the other branch; every other sampled vector (2K − 2 of them) is a negative. Mean over 2K rows.
 */
export function ntXentLoss(zA: tf.Tensor2D, zB: tf.Tensor2D, temperature: number): tf.Scalar {
  const k = zA.shape[0];
  if (zB.shape[0] !== k || zB.shape[1] !== zA.shape[1]) throw new Error(`ntXentLoss: branch shapes ${zA.shape} and ${zB.shape} differ`);
  return tf.tidy(() => {
    const z = tf.concat([l2Normalize(zA), l2Normalize(zB)], 0);
    const n = 2 * k;
    // A large finite negative on the diagonal removes self-similarity from the softmax without NaN gradients.
    const sim = tf.sub(tf.div(tf.matMul(z, z, false, true), temperature), tf.mul(tf.eye(n), 1e9));
    const logp = tf.logSoftmax(sim, 1);
    const pos = new Int32Array(n);
    for (let i = 0; i < n; i++) pos[i] = i < k ? i + k : i - k;
    const onehot = tf.oneHot(tf.tensor1d(pos, 'int32'), n);
    return tf.div(tf.sum(tf.mul(logp, onehot)), -n) as tf.Scalar;
  });
}

/** Each column standardised over the rows (biased variance, as BatchNorm without affine does). */
export function standardizeColumns(z: tf.Tensor2D, eps = 1e-5): tf.Tensor2D {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(z, 0, true);
    return tf.div(tf.sub(z, mean), tf.sqrt(tf.add(variance, eps))) as tf.Tensor2D;
  });
}

/**
 * Pix2Rep-v2: Barlow Twins over pixels. C = zAᵀ zB / N after per-channel standardisation over the N sampled
 * pixels of each branch; loss = Σ_i (1 − C_ii)² + λ Σ_{i≠j} C_ij².
 */
export function barlowTwinsLoss(zA: tf.Tensor2D, zB: tf.Tensor2D, lambda: number): tf.Scalar {
  const [n, d] = zA.shape;
  if (zB.shape[0] !== n || zB.shape[1] !== d) throw new Error(`barlowTwinsLoss: branch shapes ${zA.shape} and ${zB.shape} differ`);
  return tf.tidy(() => {
    const c = tf.div(tf.matMul(standardizeColumns(zA), standardizeColumns(zB), true, false), n);
    const eye = tf.eye(d);
    const diag = tf.sum(tf.mul(c, eye), 1);
    const onDiag = tf.sum(tf.square(tf.sub(1, diag)));
    const offDiag = tf.sub(tf.sum(tf.square(c)), tf.sum(tf.square(diag)));
    return tf.add(onDiag, tf.mul(offDiag, lambda)) as tf.Scalar;
  });
}

export interface SegLossOptions {
  /** Count the background class (index 0) in the Dice mean. */
  includeBackground?: boolean;
  diceWeight?: number;
  ceWeight?: number;
  smooth?: number;
}

/**
 * Soft Dice + cross-entropy for any number of classes. `logits` [B, H, W, K]; `target` one-hot [B, H, W, K];
 * `mask` [B, H, W, 1] selects the annotated pixels (a few labelled slices or strokes), all pixels when absent.
 */
export function diceCrossEntropyLoss(logits: tf.Tensor4D, target: tf.Tensor4D, mask?: tf.Tensor4D, opt: SegLossOptions = {}): tf.Scalar {
  const { includeBackground = true, diceWeight = 1, ceWeight = 1, smooth = 1e-5 } = opt;
  const k = logits.shape[3];
  if (target.shape.join() !== logits.shape.join()) throw new Error(`diceCrossEntropyLoss: target ${target.shape} does not match logits ${logits.shape}`);
  return tf.tidy(() => {
    const m = mask ?? tf.ones([logits.shape[0], logits.shape[1], logits.shape[2], 1]);
    const logp = tf.logSoftmax(logits, 3);
    const count = tf.maximum(tf.sum(m), 1);
    const ce = tf.div(tf.neg(tf.sum(tf.mul(tf.mul(logp, target), m))), count);
    const p = tf.mul(tf.exp(logp), m);
    const t = tf.mul(target, m);
    const inter = tf.sum(tf.mul(p, t), [0, 1, 2]);
    const denom = tf.add(tf.sum(p, [0, 1, 2]), tf.sum(t, [0, 1, 2]));
    let dice = tf.div(tf.add(tf.mul(inter, 2), smooth), tf.add(denom, smooth));
    if (!includeBackground && k > 1) dice = tf.slice(dice, [1], [k - 1]);
    const diceLoss = tf.sub(1, tf.mean(dice));
    return tf.add(tf.mul(diceLoss, diceWeight), tf.mul(ce, ceWeight)) as tf.Scalar;
  });
}
