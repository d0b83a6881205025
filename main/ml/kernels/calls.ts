import * as tf from '@tensorflow/tfjs-core';

type Attrs = Record<string, unknown>;
type Inputs = Record<string, tf.TensorInfo> | tf.TensorInfo[];

/**
 * Runs a backend's own kernels directly, below the engine, and frees every intermediate it produced.
 *
 * Our kernels are compositions of the backend's kernels. Calling them through `tf.*` ops would go back
 * through the engine (gradient tape, tensor tracking, kernel dispatch by name, which could reach our own
 * kernel again); calling the registered kernel functions directly keeps the composition a plain forward
 * computation whose intermediates are TensorInfos that only this scope knows about.
 */
export class KernelCalls {
  private readonly owned: tf.TensorInfo[] = [];

  constructor(
    readonly backend: tf.KernelBackend,
    readonly backendName: string,
  ) {}

  run(kernelName: string, inputs: Inputs, attrs: Attrs = {}): tf.TensorInfo {
    const kernel = tf.getKernel(kernelName, this.backendName);
    if (!kernel) throw new Error(`kernel ${kernelName} is not registered for backend ${this.backendName}`);
    const out = kernel.kernelFunc({ inputs: inputs as tf.NamedTensorInfoMap, attrs: attrs as tf.NamedAttrMap, backend: this.backend });
    if (Array.isArray(out)) throw new Error(`kernel ${kernelName} returned several outputs where one was expected`);
    this.owned.push(out);
    return out;
  }

  reshape(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  conv2d(x: tf.TensorInfo, filter: tf.TensorInfo, pads: Pads, dilations: [number, number] = [1, 1], strides: [number, number] = [1, 1]): tf.TensorInfo {
    // XNNPACK takes only non-negative padding: a negative pad means rows or columns the convolution never reads.
    const [cropT, cropB, cropL, cropR] = [pads.top, pads.bottom, pads.left, pads.right].map((p) => Math.max(0, -p)) as [number, number, number, number];
    let input = x;
    if (cropT + cropB + cropL + cropR > 0) {
      const [n, h, w, c] = x.shape as [number, number, number, number];
      input = this.run('Slice', { x }, { begin: [0, cropT, cropL, 0], size: [n, h - cropT - cropB, w - cropL - cropR, c] });
    }
    const pad = [
      [0, 0],
      [Math.max(0, pads.top), Math.max(0, pads.bottom)],
      [Math.max(0, pads.left), Math.max(0, pads.right)],
      [0, 0],
    ];
    return this.run('Conv2D', { x: input, filter }, { strides, pad, dilations, dataFormat: 'NHWC', dimRoundingMode: undefined });
  }

  zeros(shape: number[]): tf.TensorInfo {
    return this.run('Fill', {}, { shape, value: 0, dtype: 'float32' });
  }

  /**
   * Hands `result` to the caller (the engine takes ownership of a kernel's output) and frees everything else.
   * A Reshape shares its input's data with a reference count, so freeing the input here keeps the result alive.
   */
  finish(result: tf.TensorInfo): tf.TensorInfo {
    for (const t of this.owned) if (t !== result) this.backend.disposeData(t.dataId);
    this.owned.length = 0;
    return result;
  }

  /** Frees every intermediate (after a failure, or when the outputs were built outside this scope). */
  abandon(): void {
    for (const t of this.owned) this.backend.disposeData(t.dataId);
    this.owned.length = 0;
  }
}

export interface Pads {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** Runs `body` with a fresh KernelCalls, returning its result and freeing the rest, also on failure. */
export function withCalls(backend: tf.KernelBackend, backendName: string, body: (k: KernelCalls) => tf.TensorInfo): tf.TensorInfo {
  const k = new KernelCalls(backend, backendName);
  try {
    return k.finish(body(k));
  } catch (err) {
    k.abandon();
    throw err;
  }
}
