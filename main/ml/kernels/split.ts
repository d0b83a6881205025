import * as tf from '@tensorflow/tfjs-core';
import { KernelCalls } from './calls.js';

interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** Below this many elements per contiguous run, a plain loop beats creating a subarray per run. */
const RUN_FOR_SET = 256;

/**
 * SplitV (the gradient of every skip-connection concat) copying with plain loops over the heap.
 * tfjs-wasm 4.22 slices each part with one `subarray` + `set` per pixel, i.e. a JS object per 16-64 floats;
 * for a channel split of a 128×128 batch that is millions of allocations per step.
 */
export function splitVKernel(backendName: string): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { x } = inputs as unknown as { x: tf.TensorInfo };
    const { numOrSizeSplits, axis } = attrs as unknown as tf.SplitVAttrs;
    if (x.dtype === 'string') throw new Error('SplitV: string tensors are not supported');
    const heap = backend as unknown as HeapBackend;
    if (typeof heap.typedArrayFromHeap !== 'function') throw new Error(`SplitV: backend ${backendName} does not expose its heap`);
    const ax = tf.util.parseAxisParam(axis, x.shape)[0]!;
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, ax);
    const outer = x.shape.slice(0, ax).reduce((a, b) => a * b, 1);
    const inner = x.shape.slice(ax + 1).reduce((a, b) => a * b, 1);
    const rowLen = x.shape[ax]! * inner;
    if (sizes.length > 1 && outer > 1 && sizes.every((v) => v === sizes[0])) {
      // Equal parts (a U-Net concatenates equal widths): one compiled transpose [outer, k, run] → [k, outer, run]
      // makes every part a contiguous block, then each part is a single copy.
      const k = new KernelCalls(backend as tf.KernelBackend, backendName);
      try {
        const run = sizes[0]! * inner;
        const blocks = k.transpose(k.reshape(x, [outer, sizes.length, run]), [1, 0, 2]);
        const partShape = x.shape.map((d, i) => (i === ax ? sizes[0]! : d));
        const parts = sizes.map(() => heap.makeOutput(partShape, x.dtype));
        // Heap views after the allocations (growing the heap detaches views); tfjs's Slice would copy the
        // whole source out of the heap first.
        const src = heap.typedArrayFromHeap(blocks);
        const n = outer * run;
        parts.forEach((p, i) => heap.typedArrayFromHeap(p).set(src.subarray(i * n, (i + 1) * n)));
        k.abandon();
        return parts;
      } catch (err) {
        k.abandon();
        throw err;
      }
    }
    const outs = sizes.map((s) => heap.makeOutput(x.shape.map((d, i) => (i === ax ? s : d)), x.dtype));
    // Views only after every allocation: growing the heap detaches earlier views.
    const src = heap.typedArrayFromHeap(x);
    let offset = 0;
    outs.forEach((out, k) => {
      const dst = heap.typedArrayFromHeap(out);
      const run = sizes[k]! * inner;
      if (run >= RUN_FOR_SET) {
        for (let o = 0; o < outer; o++) dst.set(src.subarray(o * rowLen + offset, o * rowLen + offset + run), o * run);
      } else {
        for (let o = 0; o < outer; o++) {
          const from = o * rowLen + offset;
          const to = o * run;
          for (let j = 0; j < run; j++) dst[to + j] = src[from + j]!;
        }
      }
      offset += run;
    });
    return outs;
  };
  return { kernelName: tf.SplitV, backendName, kernelFunc };
}
