import * as tf from '@tensorflow/tfjs-core';
import { withCalls } from './calls.js';

/** Below this many reduced rows the stock kernel is as fast and the matmul set-up is not worth it. */
const MIN_ROWS = 64;

/**
 * Sum and Mean over leading axes (BatchNorm statistics and their gradients, bias gradients: reductions over
 * batch, height and width of an NHWC tensor). tfjs-wasm 4.22 first transposes the reduced axes to the end,
 * a full strided copy, then reduces; a row vector times the [rows, channels] matrix on XNNPACK does the same
 * sum 7-16× faster. Other axis patterns and non-float tensors go to the stock kernel.
 */
export function leadingAxisReductionKernels(backendName: string, stock: (kernelName: string) => tf.KernelConfig | undefined): tf.KernelConfig[] {
  const make = (kernelName: 'Sum' | 'Mean'): tf.KernelConfig => {
    const fallback = stock(kernelName);
    const kernelFunc: tf.KernelFunc = (args) => {
      const { inputs, backend, attrs } = args;
      const { x } = inputs as unknown as { x: tf.TensorInfo };
      const { axis, keepDims } = attrs as unknown as { axis: number | number[]; keepDims: boolean };
      const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
      const leading = axes.length > 0 && axes.length < x.shape.length && axes.every((a, i) => a === i);
      const rows = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
      if (!leading || x.dtype !== 'float32' || rows < MIN_ROWS) {
        if (!fallback) throw new Error(`${kernelName}: no stock kernel for backend ${backendName}`);
        return fallback.kernelFunc(args);
      }
      const kept = x.shape.slice(axes.length);
      const cols = kept.reduce((a, b) => a * b, 1);
      const outShape = keepDims ? [...axes.map(() => 1), ...kept] : kept;
      return withCalls(backend as tf.KernelBackend, backendName, (k) => {
        // Mean: weights 1/rows rather than a division afterwards; the same rounding as a running mean.
        const w = k.run('Fill', {}, { shape: [1, 1, rows], value: kernelName === 'Mean' ? 1 / rows : 1, dtype: 'float32' });
        const prod = k.run('BatchMatMul', { a: w, b: k.reshape(x, [1, rows, cols]) }, { transposeA: false, transposeB: false });
        return k.reshape(prod, outShape);
      });
    };
    // The stock setup (binding the compiled function) must still run when the backend starts.
    return { kernelName, backendName, kernelFunc, ...(fallback?.setupFunc ? { setupFunc: fallback.setupFunc } : {}) };
  };
  return [make('Sum'), make('Mean')];
}
