import * as tf from '@tensorflow/tfjs-core';

/** The part of tfjs-backend-wasm's BackendWasm used here: a live view of a tensor's bytes on the wasm heap. */
interface HeapBackend {
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

function heapBackend(backend: unknown, backendName: string): HeapBackend {
  if (typeof (backend as Partial<HeapBackend>).typedArrayFromHeap !== 'function') {
    throw new Error(`UnsortedSegmentSum: backend ${backendName} does not expose its heap`);
  }
  return backend as HeapBackend;
}

/**
 * out[s] = Σ_{i : ids[i] = s} x[i] over the first axis; ids outside [0, numSegments) are dropped, as in
 * TensorFlow. tfjs-backend-wasm 4.22 lacks this kernel, and GatherV2's gradient needs it (the pixel sampling
 * of the Pix2Rep losses gathers from the embedding map). The scatter touches each input row once, so a loop
 * over the heap views is as fast as it gets without a compiled kernel.
 */
export function unsortedSegmentSumKernel(backendName: string): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { x, segmentIds } = inputs as unknown as Record<'x' | 'segmentIds', tf.TensorInfo>;
    const { numSegments } = attrs as unknown as tf.UnsortedSegmentSumAttrs;
    if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum: unsupported dtype ${x.dtype}`);
    const rows = x.shape[0] ?? 1;
    const idCount = segmentIds.shape.reduce((a, b) => a * b, 1);
    if (idCount !== rows) throw new Error(`UnsortedSegmentSum: ${idCount} segment ids for ${rows} rows`);
    if (!Number.isInteger(numSegments) || numSegments < 0) throw new Error(`UnsortedSegmentSum: numSegments ${numSegments} is not a non-negative integer`);
    const heap = heapBackend(backend, backendName);
    const inner = x.shape.slice(1).reduce((a, b) => a * b, 1);
    const outShape = [numSegments, ...x.shape.slice(1)];
    const fill = tf.getKernel('Fill', backendName);
    if (!fill) throw new Error(`UnsortedSegmentSum: backend ${backendName} has no Fill kernel`);
    const out = fill.kernelFunc({ inputs: {}, attrs: { shape: outShape, value: 0, dtype: x.dtype }, backend: backend as tf.KernelBackend }) as tf.TensorInfo;
    const ids = (backend as tf.KernelBackend).readSync(segmentIds.dataId) as ArrayLike<number>;
    // Views are taken after the allocation above: growing the wasm heap detaches earlier views.
    const src = heap.typedArrayFromHeap(x);
    const dst = heap.typedArrayFromHeap(out);
    for (let i = 0; i < rows; i++) {
      const s = ids[i]!;
      if (s < 0 || s >= numSegments) continue;
      const from = i * inner;
      const to = s * inner;
      for (let j = 0; j < inner; j++) dst[to + j]! += src[from + j]!;
    }
    return out;
  };
  return { kernelName: tf.UnsortedSegmentSum, backendName, kernelFunc };
}
