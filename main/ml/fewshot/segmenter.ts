import { tf } from '../tf.js';
import type { ModelConfig } from '../config.js';
import { Rng, deriveSeed } from '../augment/rng.js';
import { createNet, disposeNet, unetForward, type Net } from '../unet.js';

/**
 * A segmentation network: the backbone f (U-Net to a D-channel embedding, no projection head) and a 1×1 conv
 * from D to the K classes (background + one per label value). Every mode trains this same architecture, so
 * supervised and pretrained models differ only in their initial weights and in what is trained.
 */
export interface Segmenter {
  net: Net;
  head: { w: tf.Variable; b: tf.Variable };
  /** Label values of classes 1..K−1 (class 0 is background). */
  classes: number[];
}

let counter = 0;

export function createSegmenter(model: ModelConfig, classes: number[], seed: number): Segmenter {
  const net = createNet(model, deriveSeed(seed, 11), false);
  const d = model.unet.embedding;
  const k = classes.length + 1;
  const rng = new Rng(deriveSeed(seed, 12));
  // He-normal for the head too, scaled down so the first logits are near uniform across classes.
  const w = new Float32Array(d * k);
  const std = Math.sqrt(1 / d);
  for (let i = 0; i < w.length; i++) w[i] = std * rng.normal();
  const id = ++counter;
  return {
    net,
    head: {
      w: tf.variable(tf.tensor4d(w, [1, 1, d, k]), true, `seghead${id}/w`),
      b: tf.variable(tf.zeros([k]), true, `seghead${id}/b`),
    },
    classes: [...classes],
  };
}

export function disposeSegmenter(s: Segmenter): void {
  disposeNet(s.net);
  s.head.w.dispose();
  s.head.b.dispose();
}

/** Logits [B, H, W, K]. `trainBackbone` false runs the backbone with its running BatchNorm statistics. */
export function segLogits(s: Segmenter, x: tf.Tensor4D, opts: { training: boolean; trainBackbone: boolean }): tf.Tensor4D {
  const features = unetForward(s.net, x, { training: opts.training && opts.trainBackbone });
  // A frozen backbone needs no gradient cut: tfjs differentiates only along paths from the listed variables.
  return headLogits(s, features);
}

/** The head alone: logits [B, H, W, K] from backbone features [B, H, W, D] (the linear probe trains on cached features). */
export function headLogits(s: Segmenter, features: tf.Tensor4D): tf.Tensor4D {
  return tf.add(tf.conv2d(features, s.head.w as unknown as tf.Tensor4D, 1, 'same'), s.head.b) as tf.Tensor4D;
}

/** Backbone features [B, H, W, D] of a batch with running BatchNorm statistics (a frozen backbone). */
export function backboneFeatures(s: Segmenter, images: Float32Array, batch: number, size: number): tf.Tensor4D {
  return tf.tidy(() => unetForward(s.net, tf.tensor4d(images, [batch, size, size, 1]), { training: false }));
}

/** Every tensor by name: backbone parameters and statistics, then `seg.w`, `seg.b`. */
export function segmenterTensors(s: Segmenter): Array<[string, tf.Variable]> {
  return [...Object.entries(s.net.params), ...Object.entries(s.net.stats).map(([n, v]) => [`stat:${n}`, v] as [string, tf.Variable]), ['seg.w', s.head.w], ['seg.b', s.head.b]];
}

/** A copy of the current values (early-stopping snapshots, Mean Teacher's initial teacher). */
export function snapshot(s: Segmenter): Map<string, Float32Array> {
  return new Map(segmenterTensors(s).map(([n, v]) => [n, v.dataSync().slice() as Float32Array]));
}

export function restoreSnapshot(s: Segmenter, snap: Map<string, Float32Array>): void {
  for (const [n, v] of segmenterTensors(s)) {
    const values = snap.get(n);
    if (!values) throw new Error(`snapshot has no tensor ${n}`);
    const t = tf.tensor(values, v.shape, 'float32');
    v.assign(t);
    t.dispose();
  }
}

/** teacher ← decay · teacher + (1 − decay) · student, parameters and BatchNorm statistics alike. */
export function emaUpdate(teacher: Segmenter, student: Segmenter, decay: number): void {
  const src = new Map(segmenterTensors(student));
  for (const [n, t] of segmenterTensors(teacher)) {
    const s = src.get(n)!;
    tf.tidy(() => t.assign(tf.add(tf.mul(t, decay), tf.mul(s, 1 - decay))));
  }
}

/** The trainable variables split into the backbone's and the head's. */
export function parameterGroups(s: Segmenter): { backbone: Record<string, tf.Variable>; head: Record<string, tf.Variable> } {
  return { backbone: s.net.params, head: { 'seg.w': s.head.w, 'seg.b': s.head.b } };
}

/** Argmax class per pixel of a batch: [B·H·W] class indices. */
export function predictClasses(s: Segmenter, images: Float32Array, batch: number, size: number): Uint8Array {
  return tf.tidy(() => {
    const logits = segLogits(s, tf.tensor4d(images, [batch, size, size, 1]), { training: false, trainBackbone: false });
    return Uint8Array.from(tf.argMax(logits, 3).dataSync());
  });
}

/** Softmax scores [B, H, W, K] (channel-last, as labelsFromScores reads them). */
export function predictScores(s: Segmenter, images: Float32Array, batch: number, size: number): Float32Array {
  return tf.tidy(() => {
    const logits = segLogits(s, tf.tensor4d(images, [batch, size, size, 1]), { training: false, trainBackbone: false });
    return tf.softmax(logits, 3).dataSync() as Float32Array;
  });
}
