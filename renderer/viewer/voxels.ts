/** Voxel arrays as the engine sends them (`library.readVolume`), decoded in the page. */
export type TypedArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;
export type Dtype = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64';

const CTORS = {
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
} as const;

export function base64ToBytes(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let n = 0; n < bin.length; n++) out[n] = bin.charCodeAt(n);
  return out;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let s = '';
  // Chunks keep String.fromCharCode's argument list short.
  for (let n = 0; n < bytes.length; n += 0x8000) s += String.fromCharCode(...bytes.subarray(n, n + 0x8000));
  return btoa(s);
}

/** Decode little-endian voxels of `dtype`; `expected` voxels or an error saying what arrived. */
export function decodeVoxels(b64: string, dtype: Dtype, expected: number): TypedArray {
  const Ctor = CTORS[dtype];
  if (!Ctor) throw new Error(`unknown voxel type ${String(dtype)}`);
  const bytes = base64ToBytes(b64);
  if (bytes.length !== expected * Ctor.BYTES_PER_ELEMENT) {
    throw new Error(`received ${bytes.length} bytes of ${dtype} voxels; the volume needs ${expected * Ctor.BYTES_PER_ELEMENT}`);
  }
  // A fresh buffer: typed arrays need their element alignment, and the decoded bytes start at 0.
  return new Ctor(bytes.buffer, 0, expected);
}

/**
 * Values at the given percentiles (0..100) of the finite voxels, from a sorted sample of at most
 * `maxSample` values: enough to place a window/level, cheap on a whole cine frame. The sorted sample is
 * kept per array, so voxels must not change in place (image frames never do).
 */
export function percentiles(values: ArrayLike<number>, ps: number[], maxSample = 200_000): number[] {
  const sorted = sortedSample(values, maxSample);
  if (sorted.length === 0) return ps.map(() => 0);
  return ps.map((p) => {
    const x = (Math.min(100, Math.max(0, p)) / 100) * (sorted.length - 1);
    const lo = Math.floor(x);
    const hi = Math.min(sorted.length - 1, lo + 1);
    return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (x - lo);
  });
}

// Sorting the sample is the costly part; presets and auto-window ask again for the same frame array.
const samples = new WeakMap<object, { maxSample: number; sorted: Float64Array }>();

function sortedSample(values: ArrayLike<number>, maxSample: number): Float64Array {
  const cached = typeof values === 'object' ? samples.get(values) : undefined;
  if (cached && cached.maxSample === maxSample) return cached.sorted;
  const step = Math.max(1, Math.floor(values.length / maxSample));
  const sample: number[] = [];
  for (let n = 0; n < values.length; n += step) {
    const v = values[n]!;
    if (Number.isFinite(v)) sample.push(v);
  }
  const sorted = Float64Array.from(sample).sort();
  samples.set(values, { maxSample, sorted });
  return sorted;
}

/** Window/level spanning the [lo, hi] percentiles (window at least 1e-6 so the mapping stays defined). */
export function windowFromPercentiles(values: ArrayLike<number>, lo: number, hi: number): { width: number; level: number } {
  const [a, b] = percentiles(values, [lo, hi]) as [number, number];
  return { width: Math.max(b - a, 1e-6), level: (a + b) / 2 };
}
