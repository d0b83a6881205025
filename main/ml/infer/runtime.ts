import { cpus } from 'node:os';
import { tf } from '../tf.js';
import { unetForward, type Net } from '../unet.js';
import { segLogits, type Segmenter } from '../fewshot/segmenter.js';
import { netToOnnx, ONNX_INPUT, onnxOutputName, segmenterToOnnx } from '../onnx/export.js';

/**
 * One small interface for the forward pass of inference (predictions, embedding maps): NHWC float32 images
 * in, NHWC float32 logits (segmenter) or embeddings (backbone) out. Two implementations:
 *  - `onnxruntime`: the model exported to ONNX in memory and run by onnxruntime-node (native, multi-threaded,
 *    ~9x faster than tfjs-wasm here) when that optional package is installed;
 *  - `tfjs`: the engine's own graph on whatever tfjs backend is active.
 * `auto` picks onnxruntime when it loads and falls back to tfjs otherwise; PIX2REP_INFER=tfjs|onnxruntime
 * forces one.
 */

export type RuntimeName = 'onnxruntime' | 'tfjs';
export type RuntimeChoice = RuntimeName | 'auto';

export interface InferenceRuntime {
  name: RuntimeName;
  /** Why this runtime (and not the other) was chosen. */
  reason: string;
  /** Output channels per pixel (K classes or D embedding channels). */
  channels: number;
  /**
   * images: `batch` NHWC images of height×width×inChannels (width defaults to height: square tiles); returns
   * batch·height·width·channels values, NHWC.
   */
  run(images: Float32Array, batch: number, height: number, width?: number): Promise<Float32Array>;
  /** Frees the native session (tfjs: nothing, the model stays owned by the caller). */
  dispose(): Promise<void>;
}

export interface RuntimeOptions {
  prefer?: RuntimeChoice;
  /** Threads of the onnxruntime session; default: every core. */
  threads?: number;
}

type Model = Segmenter | Net;
const isSegmenter = (m: Model): m is Segmenter => 'head' in m && 'classes' in m;

type Ort = typeof import('onnxruntime-node');
let ortModule: Promise<Ort | Error> | null = null;

/** onnxruntime-node, or the reason it cannot be used (not installed, no binary for this platform). */
export function loadOnnxRuntime(): Promise<Ort | Error> {
  ortModule ??= import('onnxruntime-node').then(
    (m) => (m as unknown as { default?: Ort }).default ?? (m as unknown as Ort),
    (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
  );
  return ortModule;
}

function envChoice(): RuntimeChoice | undefined {
  const v = process.env.PIX2REP_INFER?.trim().toLowerCase();
  if (!v) return undefined;
  if (v === 'tfjs' || v === 'auto') return v;
  if (v === 'onnx' || v === 'onnxruntime') return 'onnxruntime';
  throw new Error(`PIX2REP_INFER=${v}: expected tfjs, onnxruntime or auto`);
}

export function tfjsRuntime(model: Model, reason = 'requested'): InferenceRuntime {
  const channels = isSegmenter(model) ? model.classes.length + 1 : model.config.unet.embedding;
  const inC = (isSegmenter(model) ? model.net : model).config.unet.inChannels;
  return {
    name: 'tfjs',
    reason: `tfjs (${tf.getBackend()}): ${reason}`,
    channels,
    async run(images, batch, height, width = height) {
      const y = tf.tidy(() => {
        const x = tf.tensor4d(images, [batch, height, width, inC]);
        return isSegmenter(model) ? segLogits(model, x, { training: false, trainBackbone: false }) : unetForward(model, x, { training: false });
      });
      // Read outside tidy: tidy walks every element of a returned typed array looking for tensors, which for a
      // batch of embeddings (millions of values) costs far more than the network itself.
      try {
        return (await y.data()) as Float32Array;
      } finally {
        y.dispose();
      }
    },
    async dispose() {},
  };
}

export async function onnxRuntime(ort: Ort, model: Model, opts: RuntimeOptions = {}, reason = 'requested'): Promise<InferenceRuntime> {
  const seg = isSegmenter(model);
  const bytes = seg ? segmenterToOnnx(model) : netToOnnx(model);
  const threads = Math.max(1, opts.threads ?? cpus().length);
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
  });
  const channels = seg ? model.classes.length + 1 : model.config.unet.embedding;
  const inC = (seg ? model.net : model).config.unet.inChannels;
  const output = onnxOutputName(seg);
  return {
    name: 'onnxruntime',
    reason: `onnxruntime-node ${ort.env.versions?.node ?? ''} (cpu, ${threads} threads): ${reason}`,
    channels,
    async run(images, batch, height, width = height) {
      const expected = batch * height * width * inC;
      if (images.length !== expected) throw new Error(`inference input holds ${images.length} values, ${batch}×${height}×${width}×${inC} needs ${expected}`);
      const feeds = { [ONNX_INPUT]: new ort.Tensor('float32', images, [batch, height, width, inC]) };
      const result = await session.run(feeds);
      const y = result[output];
      if (!y) throw new Error(`onnxruntime returned no ${output}`);
      const data = y.data as Float32Array;
      // The session reuses nothing across runs, but copy anyway: callers keep results past the next run.
      const out = data.slice();
      y.dispose();
      return out;
    },
    async dispose() {
      await session.release();
    },
  };
}

/**
 * The fastest available runtime for `model`. The ONNX graph is exported from the current weights: call
 * again after training changes them.
 */
export async function createInferenceRuntime(model: Model, opts: RuntimeOptions = {}): Promise<InferenceRuntime> {
  const choice = opts.prefer ?? envChoice() ?? 'auto';
  if (choice === 'tfjs') return tfjsRuntime(model, 'requested');
  const ort = await loadOnnxRuntime();
  if (ort instanceof Error) {
    if (choice === 'onnxruntime') throw new Error(`onnxruntime-node is not usable here: ${ort.message}`);
    return tfjsRuntime(model, `onnxruntime-node not usable (${ort.message.split('\n')[0]})`);
  }
  try {
    return await onnxRuntime(ort, model, opts, choice === 'auto' ? 'installed (preferred)' : 'requested');
  } catch (err) {
    if (choice === 'onnxruntime') throw err;
    return tfjsRuntime(model, `onnxruntime-node failed to load the model (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
  }
}

/** Softmax over the last axis of `channels`-wide rows, in place (class scores from logits). */
export function softmaxRowsInPlace(values: Float32Array, channels: number): Float32Array {
  for (let p = 0; p < values.length; p += channels) {
    let max = -Infinity;
    for (let c = 0; c < channels; c++) max = Math.max(max, values[p + c]!);
    let sum = 0;
    for (let c = 0; c < channels; c++) {
      const e = Math.exp(values[p + c]! - max);
      values[p + c] = e;
      sum += e;
    }
    for (let c = 0; c < channels; c++) values[p + c]! /= sum;
  }
  return values;
}
