import { tf } from './tf.js';
import { bilinearTaps, insideImage } from './bilinear.js';

/**
 * Differentiable bilinear sampling of a feature map [B, H, W, C] at fractional positions. The positions come
 * from the augmentation (constants), so only the map needs a gradient: one gather of the four taps (whose
 * gradient is a scatter-add) and a weighted sum. Same taps and zero-outside convention as augment/spatial.ts.
 */

/**
 * Rows of a 2D tensor, with the gradient written as a scatter-add (ScatterNd sums duplicate indices). The
 * stock gather gradient uses UnsortedSegmentSum, which the wasm backend lacks and the cpu backend runs as
 * one pass per segment; ScatterNd exists in both and is a single pass.
 */
export function gatherRows(x: tf.Tensor2D, rows: Int32Array): tf.Tensor2D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const idx = tf.tensor1d(rows, 'int32');
    save([idx]);
    return {
      value: tf.gather(input, idx),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.scatterND(tf.expandDims(saved[0]!, 1), dy, input.shape)],
    };
  });
  return op(x) as tf.Tensor2D;
}

/** The four bilinear neighbours of N points, as rows of the flattened map, with their weights. */
export interface GatheredTaps {
  /** [4N, C]: rows 4i..4i+3 are the neighbours of point i (a neighbour outside the image has weight 0). */
  rows: tf.Tensor2D;
  /** 4N weights. */
  weight: Float32Array;
}

export function gatherTaps(map: tf.Tensor4D, batch: Int32Array, points: Float32Array): GatheredTaps {
  const [b, h, w, c] = map.shape;
  const n = batch.length;
  if (points.length !== 2 * n) throw new Error(`gatherBilinear: ${points.length} coordinates for ${n} points`);
  const taps = bilinearTaps(points, h, w);
  const plane = h * w;
  for (let i = 0; i < n; i++) {
    const bi = batch[i]!;
    if (bi < 0 || bi >= b) throw new Error(`gatherBilinear: batch index ${bi} outside 0..${b - 1}`);
    for (let k = 4 * i; k < 4 * i + 4; k++) taps.index[k]! += bi * plane;
  }
  const rows = tf.tidy(() => gatherRows(tf.reshape(map, [b * plane, c]) as tf.Tensor2D, taps.index));
  return { rows, weight: taps.weight };
}

/** Weighted sum of each point's four rows: [4N, C] → [N, C]. */
export function blendTaps(rows: tf.Tensor2D, weight: Float32Array): tf.Tensor2D {
  const n = weight.length / 4;
  const c = rows.shape[1];
  return tf.tidy(() => tf.sum(tf.mul(tf.reshape(rows, [n, 4, c]), tf.tensor3d(weight, [n, 4, 1])), 1) as tf.Tensor2D);
}

/**
 * Values of `map` at N points: `batch[i]` selects the image, `points[2i], points[2i+1]` the (x, y) position in
 * pixels. Returns [N, C].
 */
export function gatherBilinear(map: tf.Tensor4D, batch: Int32Array, points: Float32Array): tf.Tensor2D {
  return tf.tidy(() => {
    const { rows, weight } = gatherTaps(map, batch, points);
    return blendTaps(rows, weight);
  });
}

/** Values of `map` at integer pixel positions (no interpolation): [N, C]. */
export function gatherPixels(map: tf.Tensor4D, batch: Int32Array, xs: Int32Array, ys: Int32Array): tf.Tensor2D {
  const [, h, w, c] = map.shape;
  const idx = new Int32Array(batch.length);
  for (let i = 0; i < idx.length; i++) idx[i] = (batch[i]! * h + ys[i]!) * w + xs[i]!;
  return tf.tidy(() => gatherRows(tf.reshape(map, [-1, c]) as tf.Tensor2D, idx));
}

/**
 * Warps every image of `map` by its grid (outH · outW · 2 source positions, x/y interleaved): output pixel p
 * takes the map's value at grid(p). Returns [B, outH, outW, C].
 */
export function warpMap(map: tf.Tensor4D, grids: Float32Array[], outH: number, outW: number): tf.Tensor4D {
  const [b, , , c] = map.shape;
  if (grids.length !== b) throw new Error(`warpMap: ${grids.length} grids for a batch of ${b}`);
  const n = outH * outW;
  const batch = new Int32Array(b * n);
  const points = new Float32Array(b * n * 2);
  for (let i = 0; i < b; i++) {
    const g = grids[i]!;
    if (g.length !== 2 * n) throw new Error(`warpMap: grid ${i} has ${g.length / 2} points, expected ${n}`);
    batch.fill(i, i * n, (i + 1) * n);
    points.set(g, i * n * 2);
  }
  return tf.tidy(() => tf.reshape(gatherBilinear(map, batch, points), [b, outH, outW, c]) as tf.Tensor4D);
}

/** [B, outH, outW, 1] mask: 1 where the grid samples from inside the source image (a valid positive). */
export function validityMask(grids: Float32Array[], height: number, width: number, outH: number, outW: number): tf.Tensor4D {
  const n = outH * outW;
  const m = new Float32Array(grids.length * n);
  grids.forEach((g, i) => {
    for (let p = 0; p < n; p++) m[i * n + p] = insideImage(g[2 * p]!, g[2 * p + 1]!, height, width) ? 1 : 0;
  });
  return tf.tensor4d(m, [grids.length, outH, outW, 1]);
}
