import * as tf from '@tensorflow/tfjs-core';
import { withCalls, type KernelCalls } from './calls.js';

/**
 * The two convolution gradients a U-Net needs, written as forward convolutions so that they run on the
 * backend's optimised forward Conv2D (XNNPACK on wasm). Notation: x [n, H, W, ci], filter w [kh, kw, ci, co],
 * y = conv(x, w) [n, OH, OW, co] with y[b,i,j,o] = Σ x[b, i·sh − pt + a, j·sw − pl + c, k] · w[a, c, k, o].
 */

type Shape4 = [number, number, number, number];

interface ConvGeometry {
  n: number;
  h: number;
  w: number;
  ci: number;
  oh: number;
  ow: number;
  co: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
}

function geometry(
  xShape: Shape4,
  filterShape: Shape4,
  attrs: { strides: number | [number, number]; pad: tf.Conv2DBackpropInputAttrs['pad']; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil' },
  kernel: string,
): ConvGeometry {
  if (attrs.dataFormat === 'NCHW') throw new Error(`${kernel}: only NHWC (channelsLast) is supported`);
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  return {
    n: info.batchSize,
    h: info.inHeight,
    w: info.inWidth,
    ci: info.inChannels,
    oh: info.outHeight,
    ow: info.outWidth,
    co: info.outChannels,
    kh: info.filterHeight,
    kw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    pt: info.padInfo.top,
    pl: info.padInfo.left,
  };
}

/**
 * dW[a, c, k, o] = Σ_{b,i,j} x[b, i·sh − pt + a, j·sw − pl + c, k] · dy[b, i, j, o]:
 * a forward convolution of x viewed as [ci, H, W, n] (channels as batch, batch as channels) with dy viewed
 * as a filter [OH, OW, n, co], dilated by the stride, giving [ci, kh, kw, co].
 */
export function filterGradient(k: KernelCalls, x: tf.TensorInfo, dy: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo {
  if (g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 && g.pt === 0 && g.pl === 0 && g.oh === g.h && g.ow === g.w) {
    // Pointwise: a plain matrix product xᵀ·dy over all pixels, no transposes needed.
    const m = g.n * g.h * g.w;
    const prod = k.run('BatchMatMul', { a: k.reshape(x, [1, m, g.ci]), b: k.reshape(dy, [1, m, g.co]) }, { transposeA: true, transposeB: false });
    return k.reshape(prod, [1, 1, g.ci, g.co]);
  }
  const xT = k.transpose(x, [3, 1, 2, 0]);
  const dyT = k.transpose(dy, [1, 2, 0, 3]);
  const z = k.conv2d(
    xT,
    dyT,
    {
      top: g.pt,
      left: g.pl,
      // Chosen so that the output is exactly kh × kw; negative when the forward conv never read the last rows.
      bottom: (g.oh - 1) * g.sh + g.kh - g.h - g.pt,
      right: (g.ow - 1) * g.sw + g.kw - g.w - g.pl,
    },
    [g.sh, g.sw],
  );
  return k.transpose(z, [1, 2, 0, 3]);
}

/** Spreads dy over a grid `stride` times finer, zeros between the samples: [n, OH·sh, OW·sw, co]. */
function dilate(k: KernelCalls, dy: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo {
  let t = dy;
  if (g.sw > 1) {
    const z = k.zeros([g.n, g.oh, g.ow, g.co]);
    t = k.reshape(k.run('Concat', [t, ...Array<tf.TensorInfo>(g.sw - 1).fill(z)], { axis: 3 }), [g.n, g.oh, g.ow * g.sw, g.co]);
  }
  if (g.sh > 1) {
    const z = k.zeros([g.n, g.oh, g.ow * g.sw, g.co]);
    t = k.reshape(k.run('Concat', [t, ...Array<tf.TensorInfo>(g.sh - 1).fill(z)], { axis: 2 }), [g.n, g.oh * g.sh, g.ow * g.sw, g.co]);
  }
  return t;
}

/**
 * Restricts t [n, rows, cols, c], whose row 0 is image row −top, to the image rows [0, h) and columns [0, w),
 * zero-filling what t does not cover.
 */
function window(k: KernelCalls, t: tf.TensorInfo, top: number, left: number, h: number, w: number): tf.TensorInfo {
  const [n, rows, cols, c] = t.shape as Shape4;
  const r0 = Math.max(0, top);
  const c0 = Math.max(0, left);
  const r1 = Math.min(rows, top + h);
  const c1 = Math.min(cols, left + w);
  let out = t;
  if (r0 > 0 || c0 > 0 || r1 < rows || c1 < cols) {
    out = k.run('Slice', { x: t }, { begin: [0, r0, c0, 0], size: [n, r1 - r0, c1 - c0, c] });
  }
  const padB = top + h - r1;
  const padR = left + w - c1;
  const padT = r0 - top;
  const padL = c0 - left;
  if (padT || padB || padL || padR) {
    out = k.run('PadV2', { x: out }, { paddings: [[0, 0], [padT, padB], [padL, padR], [0, 0]], constantValue: 0 });
  }
  return out;
}

/**
 * dX[b, r, s, k] = Σ dy[b, i, j, o] · w[a, c, k, o] over r = i·sh − pt + a, s = j·sw − pl + c.
 * - kernel == stride (the U-Net's 2×2 stride-2 up-convolution): the kernel windows tile the image without
 *   overlap, so dX is a pointwise product dy · wᵀ (a 1×1 conv to kh·kw·ci channels) rearranged depth-to-space;
 * - otherwise: a stride-1 convolution of the (zero-dilated, when strided) dy with the spatially reversed,
 *   in/out-transposed filter, padded by k − 1 − p.
 */
export function inputGradient(k: KernelCalls, dy: tf.TensorInfo, filter: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo {
  if (g.kh === g.sh && g.kw === g.sw && g.sh === g.sw && g.sh > 1) {
    const s = g.sh;
    const wT = k.reshape(k.transpose(filter, [3, 0, 1, 2]), [1, 1, g.co, s * s * g.ci]);
    const blocks = k.conv2d(dy, wT, { top: 0, bottom: 0, left: 0, right: 0 });
    // Depth-to-space as a 4-D transpose: [n·OH, OW, a, (b, k)] → [n·OH, a, OW, (b, k)]. The (b, k) pairs stay
    // contiguous, so this moves whole runs; tfjs-wasm's own DepthToSpace, element by element, is 10× slower.
    const rows = k.reshape(blocks, [g.n * g.oh, g.ow, s, s * g.ci]);
    const full = k.reshape(k.transpose(rows, [0, 2, 1, 3]), [g.n, g.oh * s, g.ow * s, g.ci]);
    return window(k, full, g.pt, g.pl, g.h, g.w);
  }
  const wRev = k.transpose(k.run('Reverse', { x: filter }, { dims: [0, 1] }), [0, 1, 3, 2]);
  const src = g.sh > 1 || g.sw > 1 ? dilate(k, dy, g) : dy;
  const top = g.kh - 1 - g.pt;
  const left = g.kw - 1 - g.pl;
  return k.conv2d(src, wRev, {
    top,
    left,
    bottom: g.h + g.kh - 1 - g.oh * g.sh - top,
    right: g.w + g.kw - 1 - g.ow * g.sw - left,
  });
}

function assertFloat(kernel: string, ...ts: tf.TensorInfo[]): void {
  for (const t of ts) if (t.dtype !== 'float32') throw new Error(`${kernel}: only float32 tensors are supported, got ${t.dtype}`);
}

/** Kernel configs for `backendName`, built on that backend's Conv2D, BatchMatMul, Transpose, Reverse, Concat, Slice, PadV2, Fill. */
export function convGradientKernels(backendName: string): tf.KernelConfig[] {
  const backpropFilter: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as unknown as tf.Conv2DBackpropFilterInputs & Record<'x' | 'dy', tf.TensorInfo>;
    const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    assertFloat(tf.Conv2DBackpropFilter, x, dy);
    const g = geometry(x.shape as Shape4, a.filterShape, a, tf.Conv2DBackpropFilter);
    return withCalls(backend as tf.KernelBackend, backendName, (k) => filterGradient(k, x, dy, g));
  };
  const backpropInput: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { dy, filter } = inputs as unknown as Record<'dy' | 'filter', tf.TensorInfo>;
    const a = attrs as unknown as tf.Conv2DBackpropInputAttrs;
    assertFloat(tf.Conv2DBackpropInput, dy, filter);
    const g = geometry(a.inputShape, filter.shape as Shape4, a, tf.Conv2DBackpropInput);
    return withCalls(backend as tf.KernelBackend, backendName, (k) => inputGradient(k, dy, filter, g));
  };
  return [
    { kernelName: tf.Conv2DBackpropFilter, backendName, kernelFunc: backpropFilter },
    { kernelName: tf.Conv2DBackpropInput, backendName, kernelFunc: backpropInput },
  ];
}
