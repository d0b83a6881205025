import { tf } from '../ml/tf.js';
import type { PreprocessConfig } from '../ml/config.js';
import { unetForward, type Net } from '../ml/unet.js';
import { fromNetwork, planSlice, sliceOf, toNetwork, type SlicePlan } from '../io/resample.js';
import type { Volume } from '../io/volume.js';
import type { InferenceRuntime } from '../ml/infer/runtime.js';

/**
 * Pixel embeddings of one slice in the slice's own grid.
 *
 * The U-Net is fully convolutional and BatchNorm runs on its stored statistics at inference, so the network
 * grid need not be the training size: it is made large enough to cover the whole slice at the model's
 * spacing (rounded up to the pooling divisor), and every pixel of the slice gets an embedding, not only
 * those inside the training field of view.
 */

export interface SliceEmbedding {
  /** Slice grid [ni, nj] (i fastest). */
  dims: [number, number];
  /** Embedding size D. */
  channels: number;
  /** Planar: channel c of pixel p = data[c * ni * nj + p]. */
  data: Float32Array;
}

/** The network grid covering a whole slice of `volume` at `spacingMm`, divisible by `divisor`. */
export function coveringPlan(volume: Pick<Volume, 'dims' | 'spacing'>, spacingMm: number, divisor: number): SlicePlan {
  const side = (a: 0 | 1) => {
    const n = Math.round((volume.dims[a] * volume.spacing[a]) / spacingMm);
    return Math.max(divisor, Math.ceil(n / divisor) * divisor);
  };
  return planSlice(volume, { spacingMm, size: [side(0), side(1)] });
}

interface EmbedJob {
  plan: SlicePlan;
  /** Network-grid image, [h, w] row-major. */
  input: Float32Array;
  w: number;
  h: number;
  D: number;
}

function prepare(net: Net, pre: Pick<PreprocessConfig, 'spacingMm'>, volume: Volume, normalized: Float32Array, k: number, frame: number): EmbedJob {
  const u = net.config.unet;
  const plan = coveringPlan(volume, pre.spacingMm, 2 ** (u.levels - 1));
  const view: Volume = { ...volume, data: normalized };
  const input = toNetwork(plan, sliceOf(view, k, frame), { mode: 'linear' });
  return { plan, input, w: plan.size[0], h: plan.size[1], D: u.embedding };
}

/** Maps each channel of a channel-first network-grid embedding back to the slice grid bilinearly. */
function toSlice(job: EmbedJob, planar: Float32Array): SliceEmbedding {
  const { plan, w, h, D } = job;
  const [ni, nj] = plan.srcSize;
  const n = ni * nj;
  const data = new Float32Array(D * n);
  for (let c = 0; c < D; c++) {
    data.set(fromNetwork(plan, planar.subarray(c * w * h, (c + 1) * w * h), { mode: 'linear' }), c * n);
  }
  return { dims: [ni, nj], channels: D, data };
}

/**
 * Runs the backbone on slice (k, frame) of `volume`, whose voxels `normalized` holds already scaled per
 * volume (as training saw them), and maps each channel back to the slice grid bilinearly. This is the tfjs
 * path; `embedSliceWith` runs the same forward pass through an inference runtime (onnxruntime when present).
 */
export function embedSlice(net: Net, pre: Pick<PreprocessConfig, 'spacingMm'>, volume: Volume, normalized: Float32Array, k: number, frame: number): SliceEmbedding {
  const job = prepare(net, pre, volume, normalized, k, frame);
  const { w, h, D } = job;
  const grid = tf.tidy(() => {
    const x = tf.tensor4d(job.input, [1, h, w, 1]);
    // Channel-first so that each channel is one contiguous network-grid image for fromNetwork.
    return tf.transpose(tf.reshape(unetForward(net, x, { training: false }), [h * w, D]), [1, 0]);
  });
  const planar = grid.dataSync() as Float32Array;
  grid.dispose();
  return toSlice(job, planar);
}

/**
 * `embedSlice` through `runtime`, a runtime made for `net` (createInferenceRuntime(net): the ONNX export of
 * the backbone, whose output is the D-channel embedding layer, or tfjs when onnxruntime cannot load).
 */
export async function embedSliceWith(runtime: InferenceRuntime, net: Net, pre: Pick<PreprocessConfig, 'spacingMm'>, volume: Volume, normalized: Float32Array, k: number, frame: number): Promise<SliceEmbedding> {
  const job = prepare(net, pre, volume, normalized, k, frame);
  const { w, h, D } = job;
  if (runtime.channels !== D) throw new Error(`the inference runtime gives ${runtime.channels} channels, the backbone's embedding has ${D}`);
  const nhwc = await runtime.run(job.input, 1, h, w);
  const n = w * h;
  const planar = new Float32Array(D * n);
  for (let p = 0; p < n; p++) for (let c = 0; c < D; c++) planar[c * n + p] = nhwc[p * D + c]!;
  return toSlice(job, planar);
}

/** Scales every pixel's embedding to unit length in place (zero vectors stay zero: similarity 0). */
export function normalizeEmbedding(e: SliceEmbedding): SliceEmbedding {
  const n = e.dims[0] * e.dims[1];
  const norm = new Float32Array(n);
  for (let c = 0; c < e.channels; c++) {
    const plane = e.data.subarray(c * n, (c + 1) * n);
    for (let p = 0; p < n; p++) norm[p]! += plane[p]! * plane[p]!;
  }
  for (let p = 0; p < n; p++) norm[p] = norm[p]! > 0 ? 1 / Math.sqrt(norm[p]!) : 0;
  for (let c = 0; c < e.channels; c++) {
    const plane = e.data.subarray(c * n, (c + 1) * n);
    for (let p = 0; p < n; p++) plane[p]! *= norm[p]!;
  }
  return e;
}

/** The D-vector of pixel p. */
export function pixelVector(e: SliceEmbedding, p: number): Float32Array {
  const n = e.dims[0] * e.dims[1];
  const v = new Float32Array(e.channels);
  for (let c = 0; c < e.channels; c++) v[c] = e.data[c * n + p]!;
  return v;
}
