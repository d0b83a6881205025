import { checkGrid, type SliceGrid } from './grid.js';

/**
 * Exact Euclidean distance transform of a slice in millimetres (separable lower-envelope method of
 * Felzenszwalb and Huttenlocher, with the spacing of each axis): for every voxel, the distance from its
 * centre to the nearest centre of a `feature` voxel; Infinity when the slice has none.
 */
export function distanceMm(feature: (index: number) => boolean, g: SliceGrid): Float64Array {
  checkGrid(g);
  const { nx, ny, sx, sy } = g;
  const sq = new Float64Array(nx * ny);
  for (let n = 0; n < sq.length; n++) sq[n] = feature(n) ? 0 : Infinity;
  const len = Math.max(nx, ny);
  const f = new Float64Array(len);
  const out = new Float64Array(len);
  const v = new Int32Array(len);
  const z = new Float64Array(len + 1);
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) f[i] = sq[i + j * nx]!;
    envelope(f, nx, sx, out, v, z);
    for (let i = 0; i < nx; i++) sq[i + j * nx] = out[i]!;
  }
  for (let i = 0; i < nx; i++) {
    for (let j = 0; j < ny; j++) f[j] = sq[i + j * nx]!;
    envelope(f, ny, sy, out, v, z);
    for (let j = 0; j < ny; j++) sq[i + j * nx] = Math.sqrt(out[j]!);
  }
  return sq;
}

/** 1D squared distance transform of sampled function f (Infinity = no feature) on a grid of spacing s. */
function envelope(f: Float64Array, n: number, s: number, out: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = -1;
  for (let q = 0; q < n; q++) {
    const fq = f[q]!;
    if (fq === Infinity) continue;
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -Infinity;
      z[1] = Infinity;
      continue;
    }
    // z[0] is -Infinity, so the loop stops at k = 0 at the latest.
    let at = intersect(f, q, v[k]!, s);
    while (at <= z[k]!) {
      k--;
      at = intersect(f, q, v[k]!, s);
    }
    k++;
    v[k] = q;
    z[k] = at;
    z[k + 1] = Infinity;
  }
  if (k < 0) {
    out.fill(Infinity, 0, n);
    return;
  }
  let m = 0;
  for (let q = 0; q < n; q++) {
    while (z[m + 1]! < q * s) m++;
    const p = v[m]!;
    out[q] = (q * s - p * s) ** 2 + f[p]!;
  }
}

/** Where the parabolas rooted at grid points q and p (q > p) meet, in mm. */
function intersect(f: Float64Array, q: number, p: number, s: number): number {
  return (f[q]! + (q * s) ** 2 - (f[p]! + (p * s) ** 2)) / (2 * s * (q - p));
}

/** Signed distance (mm) to the boundary of the voxels holding `label`: negative inside, positive outside. */
export function signedDistance(slice: Uint8Array, label: number, g: SliceGrid): Float64Array {
  const outside = distanceMm((n) => slice[n] === label, g);
  const inside = distanceMm((n) => slice[n] !== label, g);
  const sd = new Float64Array(slice.length);
  for (let n = 0; n < sd.length; n++) sd[n] = slice[n] === label ? -inside[n]! : outside[n]!;
  return sd;
}

/**
 * Shape-based interpolation between two slices: each label present in both is blended through its signed
 * distance, weight t toward `b` (0 < t < 1); where two labels claim a voxel the one it lies deeper in wins.
 * Labels on one side only are not carried over: a structure that ends between two slices has no shape to
 * interpolate, and guessing one would put voxels the user never drew.
 */
export function interpolateSlice(a: Uint8Array, b: Uint8Array, t: number, g: SliceGrid): Uint8Array {
  const out = new Uint8Array(a.length);
  const best = new Float64Array(a.length).fill(0);
  const inA = new Set(a);
  const labels = [...new Set(b)].filter((l) => l !== 0 && inA.has(l)).sort((x, y) => x - y);
  for (const l of labels) {
    const da = signedDistance(a, l, g);
    const db = signedDistance(b, l, g);
    for (let n = 0; n < out.length; n++) {
      const d = (1 - t) * da[n]! + t * db[n]!;
      if (d < best[n]!) {
        best[n] = d;
        out[n] = l;
      }
    }
  }
  return out;
}
