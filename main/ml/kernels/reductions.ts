import * as tf from '@tensorflow/tfjs-core';
import { withCalls } from './calls.js';

/** Below this many reduced rows the stock kernel is as fast and the matmul set-up is not worth it. */
const MIN_ROWS = 64;

/**
 * Sum and Mean over leading axes (BatchNorm statistics and their gradients, bias gradients: reductions over
 * batch, height and width of an NHWC tensor). tfjs-wasm 4.22 first transposes the reduced axes to the end,
 * a full strided copy, then reduces. Viewed as [1, rows, 1, cols], the same reduction is one average pooling
 * with a rows × 1 window, which XNNPACK streams in a single pass: 5-15× faster here. (A ones-vector matmul
 * is as fast only when the matrix is reused: XNNPACK packs the right-hand matrix anew for every new tensor.)
 * Other axis patterns and non-float tensors go to the stock kernel.
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
        const column = k.reshape(x, [1, rows, 1, cols]);
        const avg = k.run('AvgPool', { x: column }, { filterSize: [rows, 1], strides: [1, 1], pad: 'valid', dimRoundingMode: undefined });
        if (kernelName === 'Mean') return k.reshape(avg, outShape);
        const n = k.run('Fill', {}, { shape: [], value: rows, dtype: 'float32' });
        return k.reshape(k.run('Multiply', { a: avg, b: n }), outShape);
      });
    };
    // The stock setup (binding the compiled function) must still run when the backend starts.
    return { kernelName, backendName, kernelFunc, ...(fallback?.setupFunc ? { setupFunc: fallback.setupFunc } : {}) };
  };
  return [make('Sum'), make('Mean')];
}
