import type { Grid } from './grid.js';

/**
 * Exact Euclidean distance transform (Felzenszwalb & Huttenlocher, "Distance Transforms of Sampled
 * Functions", 2012), separable over i, j, k, with a physical voxel size per axis.
 *
 * Returns, for every voxel, the **squared** distance in mm² to the nearest feature voxel (feature[p] !== 0),
 * Infinity everywhere when there is no feature. Cost O(voxels) per axis; no allocation per voxel.
 */
export function squaredEdt(feature: Uint8Array, grid: Grid): Float64Array {
  const [nx, ny, nz] = grid.dims;
  const n = nx * ny * nz;
  if (feature.length !== n) throw new RangeError(`squaredEdt: ${feature.length} voxels for a ${nx}x${ny}x${nz} grid`);
  const out = new Float64Array(n);
  for (let p = 0; p < n; p++) out[p] = feature[p] ? 0 : Infinity;
  const scratch = new LineScratch(Math.max(nx, ny, nz));
  // Pass along i (stride 1), then j (stride nx), then k (stride nx*ny): after each pass, out holds the exact
  // squared distance restricted to features reachable through the axes processed so far.
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) scratch.transform(out, (k * ny + j) * nx, 1, nx, grid.spacing[0]);
  for (let k = 0; k < nz; k++) for (let i = 0; i < nx; i++) scratch.transform(out, k * ny * nx + i, nx, ny, grid.spacing[1]);
  for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) scratch.transform(out, j * nx + i, nx * ny, nz, grid.spacing[2]);
  return out;
}

/** Buffers for the 1D transform, reused for every line of the volume. */
class LineScratch {
  private readonly f: Float64Array;
  private readonly pos: Float64Array;
  private readonly v: Int32Array;
  private readonly z: Float64Array;

  constructor(maxLength: number) {
    this.f = new Float64Array(maxLength);
    this.pos = new Float64Array(maxLength);
    this.v = new Int32Array(maxLength);
    this.z = new Float64Array(maxLength + 1);
  }

  /**
   * In place on data[start + q·stride], q = 0..len-1: d(q) = min over r of (x_q − x_r)² + f(r), where
   * x_q = q·step in mm. The lower envelope of the parabolas rooted at finite samples is built left to right,
   * then read off; samples at Infinity (no feature yet) never enter the envelope.
   */
  transform(data: Float64Array, start: number, stride: number, len: number, step: number): void {
    const { f, pos, v, z } = this;
    let any = false;
    for (let q = 0; q < len; q++) {
      const value = data[start + q * stride]!;
      f[q] = value;
      pos[q] = q * step;
      if (value !== Infinity) any = true;
    }
    if (!any) return; // the whole line stays at Infinity
    let k = -1;
    for (let q = 0; q < len; q++) {
      const fq = f[q]!;
      if (fq === Infinity) continue;
      const xq = pos[q]!;
      if (k < 0) {
        k = 0;
        v[0] = q;
        z[0] = -Infinity;
        z[1] = Infinity;
        continue;
      }
      // Abscissa where parabola q starts to lie below the envelope's last parabola; pop the parabolas it hides.
      // z[0] = -Infinity stops the loop at the first parabola, so k never goes below 0.
      let r = v[k]!;
      let s = (fq + xq * xq - (f[r]! + pos[r]! * pos[r]!)) / (2 * (xq - pos[r]!));
      while (s <= z[k]!) {
        k--;
        r = v[k]!;
        s = (fq + xq * xq - (f[r]! + pos[r]! * pos[r]!)) / (2 * (xq - pos[r]!));
      }
      k++;
      v[k] = q;
      z[k] = s;
      z[k + 1] = Infinity;
    }
    let j = 0;
    for (let q = 0; q < len; q++) {
      const xq = pos[q]!;
      while (z[j + 1]! < xq) j++;
      const r = v[j]!;
      const dx = xq - pos[r]!;
      data[start + q * stride] = dx * dx + f[r]!;
    }
  }
}
