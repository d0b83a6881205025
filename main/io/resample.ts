/**
 * In-plane resampling between a volume's slices and the network's fixed grid, and per-volume intensity
 * normalisation. Used by training (slice -> network) and inference (network -> slice).
 *
 * A 2D slice is the (i, j) plane of one k and one frame, stored i fastest: value(i, j) = slice[j * ni + i].
 * The network grid has `size` = [width along i, height along j] pixels of `spacing` mm, stored the same way
 * (u fastest), so a tfjs tensor of shape [height, width] reads it directly.
 *
 * Geometry of a plan, per axis (n source pixels of s_src mm, network pixels of s mm, W of them):
 *   r   = s / s_src                      source pixels per network pixel
 *   L   = round(n / r)                   length of the slice resampled to s mm
 *   off = floor((L - W) / 2)             centre crop (off > 0) or pad (off < 0) of that resampled slice
 *   src = (u + off + 0.5) * r - 0.5      source index (continuous) of network pixel u; pixel edges align
 * so with r = 1 this is an exact integer crop/pad, and the inverse u = (src + 0.5) / r - 0.5 - off maps a
 * prediction back onto the slice. Pixels whose centre falls outside the source get `fill` (0).
 * Going to a coarser grid (r > 1), 'linear' averages ceil(r)^2 samples over each network pixel's footprint
 * (box antialiasing); 'nearest' (labels) never mixes values.
 */
import { frameSize, type Volume, type VoxelArray } from './volume.js';

export interface SlicePlanOptions {
  /** Network pixel size in mm (both in-plane axes), e.g. 1.5. */
  spacingMm: number;
  /** Network grid: a number for a square, or [width along i, height along j]. */
  size: number | [number, number];
  /**
   * Centre of the field of view in source pixel indices (e.g. the middle of a box the user drew);
   * default: the slice centre.
   */
  center?: [number, number];
}

export interface SlicePlan {
  /** Source slice [ni, nj] and pixel size [si, sj] (mm). */
  srcSize: [number, number];
  srcSpacing: [number, number];
  /** Network grid [width, height] and its pixel size (mm). */
  size: [number, number];
  spacing: number;
  /** Source pixels per network pixel, per axis. */
  scale: [number, number];
  /** Resampled-grid pixel that network pixel 0 sits on, per axis (negative when padding). */
  offset: [number, number];
}

export type Interpolation = 'linear' | 'nearest';

export interface SampleOptions {
  /** 'linear' for images and scores, 'nearest' for label maps. */
  mode: Interpolation;
  /** Value for pixels outside the source (default 0). */
  fill?: number;
  /**
   * 'linear' only, toNetwork only: when the network pixel covers more than one source pixel, average
   * ceil(scale) x ceil(scale) bilinear samples over its footprint so fine stripes do not alias (default true).
   */
  antialias?: boolean;
}

/** Plans the mapping between slices of `volume` (any k, any frame) and the network grid. */
export function planSlice(volume: Pick<Volume, 'dims' | 'spacing'>, opts: SlicePlanOptions): SlicePlan {
  const size: [number, number] = typeof opts.size === 'number' ? [opts.size, opts.size] : [...opts.size];
  if (!(opts.spacingMm > 0) || !Number.isFinite(opts.spacingMm)) throw new RangeError(`bad spacingMm ${opts.spacingMm}`);
  if (size.some((n) => !Number.isInteger(n) || n < 1)) throw new RangeError(`bad network size ${size.join('x')}`);
  const srcSize: [number, number] = [volume.dims[0], volume.dims[1]];
  const srcSpacing: [number, number] = [volume.spacing[0], volume.spacing[1]];
  if (srcSpacing.some((s) => !(s > 0) || !Number.isFinite(s))) throw new RangeError(`bad slice spacing ${srcSpacing.join('x')}`);
  const scale: [number, number] = [opts.spacingMm / srcSpacing[0], opts.spacingMm / srcSpacing[1]];
  const offset = [0, 1].map((a) => {
    const n = srcSize[a]!;
    const r = scale[a]!;
    const w = size[a]!;
    if (opts.center) {
      const centre = (opts.center[a]! + 0.5) / r - 0.5;
      return Math.round(centre - (w - 1) / 2);
    }
    return Math.floor((Math.round(n / r) - w) / 2);
  }) as [number, number];
  return { srcSize, srcSpacing, size, spacing: opts.spacingMm, scale, offset };
}

/** Source pixel index (continuous) of network pixel (u, v). */
export function networkToSource(plan: SlicePlan, u: number, v: number): [number, number] {
  return [
    (u + plan.offset[0] + 0.5) * plan.scale[0] - 0.5,
    (v + plan.offset[1] + 0.5) * plan.scale[1] - 0.5,
  ];
}

/** Network pixel (continuous) of source pixel index (i, j). */
export function sourceToNetwork(plan: SlicePlan, i: number, j: number): [number, number] {
  return [
    (i + 0.5) / plan.scale[0] - 0.5 - plan.offset[0],
    (j + 0.5) / plan.scale[1] - 0.5 - plan.offset[1],
  ];
}

/** Resamples one source slice (ni x nj) onto the network grid. */
export function toNetwork(plan: SlicePlan, slice: ArrayLike<number>, opts: SampleOptions): Float32Array {
  const [ni, nj] = plan.srcSize;
  checkLength(slice, ni * nj, 'source slice');
  const [w, h] = plan.size;
  const out = new Float32Array(w * h);
  const smooth = opts.mode === 'linear' && opts.antialias !== false;
  // Sub-sample offsets (network pixels) per axis: one at the centre unless the pixel spans several sources.
  const taps = [0, 1].map((a) => {
    const m = smooth ? Math.ceil(plan.scale[a]! - 1e-9) : 1;
    return Array.from({ length: m }, (_, t) => (t + 0.5) / m - 0.5);
  }) as [number[], number[]];
  const weight = 1 / (taps[0].length * taps[1].length);
  for (let v = 0; v < h; v++) {
    for (let u = 0; u < w; u++) {
      const [ci, cj] = networkToSource(plan, u, v);
      if (ci < -0.5 || ci >= ni - 0.5 || cj < -0.5 || cj >= nj - 0.5) {
        out[v * w + u] = opts.fill ?? 0;
        continue;
      }
      let acc = 0;
      for (const dv of taps[1]) {
        const sj = cj + dv * plan.scale[1];
        for (const du of taps[0]) acc += sample(slice, ni, nj, ci + du * plan.scale[0], sj, CLAMPED[opts.mode]);
      }
      out[v * w + u] = acc * weight;
    }
  }
  return out;
}

/** Sub-samples of a pixel whose centre is inside clamp to the border rather than reading the fill. */
const CLAMPED: Record<Interpolation, SampleOptions & { clamp: true }> = {
  linear: { mode: 'linear', clamp: true },
  nearest: { mode: 'nearest', clamp: true },
};

/** Maps a network-grid image (width x height) back onto the source slice grid (ni x nj). */
export function fromNetwork(plan: SlicePlan, grid: ArrayLike<number>, opts: SampleOptions): Float32Array {
  const [w, h] = plan.size;
  checkLength(grid, w * h, 'network grid');
  const [ni, nj] = plan.srcSize;
  const out = new Float32Array(ni * nj);
  const nu = new Float64Array(ni);
  for (let i = 0; i < ni; i++) nu[i] = sourceToNetwork(plan, i, 0)[0];
  for (let j = 0; j < nj; j++) {
    const nv = sourceToNetwork(plan, 0, j)[1];
    for (let i = 0; i < ni; i++) out[j * ni + i] = sample(grid, w, h, nu[i]!, nv, opts);
  }
  return out;
}

/**
 * Maps per-class network scores (channel-last: scores[(v * width + u) * channels + c], as a tfjs
 * [height, width, channels] tensor holds them) back to a label slice: each class's score is interpolated
 * bilinearly at the source pixel, then the best class wins. Pixels outside the network field get
 * `background`. Smoother than resampling an argmax with nearest neighbour.
 */
export function labelsFromScores(
  plan: SlicePlan,
  scores: ArrayLike<number>,
  channels: number,
  background = 0,
): Uint8Array | Uint16Array {
  const [w, h] = plan.size;
  checkLength(scores, w * h * channels, 'network scores');
  const [ni, nj] = plan.srcSize;
  const out = channels <= 256 ? new Uint8Array(ni * nj) : new Uint16Array(ni * nj);
  for (let j = 0; j < nj; j++) {
    for (let i = 0; i < ni; i++) {
      const [u, v] = sourceToNetwork(plan, i, j);
      const idx = j * ni + i;
      if (u < -0.5 || u >= w - 0.5 || v < -0.5 || v >= h - 0.5) {
        out[idx] = background;
        continue;
      }
      const { x0, x1, fx, y0, y1, fy } = bilinearCell(u, v, w, h);
      let best = 0;
      let bestScore = -Infinity;
      for (let c = 0; c < channels; c++) {
        const at = (x: number, y: number) => scores[(y * w + x) * channels + c]!;
        const top = at(x0, y0) + (at(x1, y0) - at(x0, y0)) * fx;
        const bottom = at(x0, y1) + (at(x1, y1) - at(x0, y1)) * fx;
        const s = top + (bottom - top) * fy;
        if (s > bestScore) {
          bestScore = s;
          best = c;
        }
      }
      out[idx] = best;
    }
  }
  return out;
}

/**
 * Centre crop/pad of a 2D image (no resampling): out(u, v) = in(u + offU, v + offV) with
 * off = floor((inSize - outSize) / 2), `fill` where that falls outside.
 */
export function centerCropPad(
  data: ArrayLike<number>,
  inSize: [number, number],
  outSize: [number, number],
  fill = 0,
): Float32Array {
  checkLength(data, inSize[0] * inSize[1], 'image');
  const off = [0, 1].map((a) => Math.floor((inSize[a]! - outSize[a]!) / 2));
  const out = new Float32Array(outSize[0] * outSize[1]).fill(fill);
  for (let v = 0; v < outSize[1]; v++) {
    const y = v + off[1]!;
    if (y < 0 || y >= inSize[1]) continue;
    for (let u = 0; u < outSize[0]; u++) {
      const x = u + off[0]!;
      if (x >= 0 && x < inSize[0]) out[v * outSize[0] + u] = data[y * inSize[0] + x]!;
    }
  }
  return out;
}

/** One slice (k, frame) of a volume as a view of its voxels (no copy). */
export function sliceOf(volume: Volume, k: number, frame = 0): VoxelArray {
  const [ni, nj, nk] = volume.dims;
  if (!(k >= 0 && k < nk && Number.isInteger(k))) throw new RangeError(`slice ${k} outside 0..${nk - 1}`);
  if (!(frame >= 0 && frame < volume.frames && Number.isInteger(frame))) {
    throw new RangeError(`frame ${frame} outside 0..${volume.frames - 1}`);
  }
  const start = frame * frameSize(volume) + k * ni * nj;
  return volume.data.subarray(start, start + ni * nj) as VoxelArray;
}

/** Writes a slice (ni x nj values) into `target` (a volume's voxels) at slice k of `frame`. */
export function putSlice(target: Volume, k: number, values: ArrayLike<number>, frame = 0): void {
  const view = sliceOf(target, k, frame);
  checkLength(values, view.length, 'slice');
  for (let n = 0; n < view.length; n++) view[n] = values[n]!;
}

/**
 * Percentiles (0..100) of the finite values, linear between order statistics (numpy's default). Arrays
 * above 4 M values are sampled with a fixed stride, so results stay reproducible.
 */
export function percentiles(data: ArrayLike<number>, ps: number[]): number[] {
  const stride = Math.max(1, Math.ceil(data.length / 4_194_304));
  const picked = new Float64Array(Math.ceil(data.length / stride));
  let m = 0;
  for (let n = 0; n < data.length; n += stride) {
    const x = data[n]!;
    if (Number.isFinite(x)) picked[m++] = x;
  }
  const sorted = picked.subarray(0, m).sort();
  return ps.map((p) => {
    if (m === 0) return 0;
    const pos = (Math.min(Math.max(p, 0), 100) / 100) * (m - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, m - 1);
    return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
  });
}

export interface NormalizeOptions {
  /** Lower and upper clip percentiles; default 0.5 and 99.5. */
  lowPercentile?: number;
  highPercentile?: number;
}

/**
 * Per-volume intensity normalisation: clip to the [low, high] percentiles of the whole array (pass a whole
 * volume, not a slice), then scale to [0, 1]. A constant array gives zeros; non-finite values give 0.
 */
export function normalizeIntensity(data: ArrayLike<number>, opts: NormalizeOptions = {}): Float32Array {
  const [lo, hi] = percentiles(data, [opts.lowPercentile ?? 0.5, opts.highPercentile ?? 99.5]) as [number, number];
  const out = new Float32Array(data.length);
  const range = hi - lo;
  if (!(range > 0)) return out;
  for (let n = 0; n < data.length; n++) {
    const x = data[n]!;
    out[n] = Number.isFinite(x) ? (Math.min(Math.max(x, lo), hi) - lo) / range : 0;
  }
  return out;
}

function sample(
  src: ArrayLike<number>,
  w: number,
  h: number,
  x: number,
  y: number,
  opts: SampleOptions & { clamp?: boolean },
): number {
  // A pixel covers [index - 0.5, index + 0.5); centres outside the image's footprint are outside.
  if (!opts.clamp && (x < -0.5 || x >= w - 0.5 || y < -0.5 || y >= h - 0.5)) return opts.fill ?? 0;
  if (opts.mode === 'nearest') {
    const xi = Math.min(Math.max(Math.round(x), 0), w - 1);
    const yi = Math.min(Math.max(Math.round(y), 0), h - 1);
    return src[yi * w + xi]!;
  }
  const { x0, x1, fx, y0, y1, fy } = bilinearCell(x, y, w, h);
  const top = src[y0 * w + x0]! + (src[y0 * w + x1]! - src[y0 * w + x0]!) * fx;
  const bottom = src[y1 * w + x0]! + (src[y1 * w + x1]! - src[y1 * w + x0]!) * fx;
  return top + (bottom - top) * fy;
}

/** Neighbours and weights of a bilinear sample, clamped at the border (edge half-pixels replicate). */
function bilinearCell(x: number, y: number, w: number, h: number) {
  const cx = Math.min(Math.max(x, 0), w - 1);
  const cy = Math.min(Math.max(y, 0), h - 1);
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  return { x0, x1: Math.min(x0 + 1, w - 1), fx: cx - x0, y0, y1: Math.min(y0 + 1, h - 1), fy: cy - y0 };
}

function checkLength(a: ArrayLike<number>, n: number, what: string): void {
  if (a.length !== n) throw new RangeError(`${what} has ${a.length} values, expected ${n}`);
}
