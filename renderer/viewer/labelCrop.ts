/**
 * The part of one slice of a label map worth drawing: the bounding rectangle of its non-zero voxels, grown by
 * `pad` voxels of background on every side (clamped to the slice). A label overlay drawn from this rectangle
 * instead of the whole slice looks the same — everything outside it is background, drawn fully transparent —
 * but a renderer without a GPU shades only the rectangle's pixels: a heart's labels cover a few percent of a
 * cardiac slice. The padding keeps the background neighbours an outline shader compares border voxels with.
 */
export interface LabelSliceCrop {
  /** Voxel index of the rectangle's first column and row in the slice. */
  i0: number;
  j0: number;
  nx: number;
  ny: number;
  /** nx × ny labels, i fastest, copied from the map. */
  values: Uint8Array;
}

/** Null when slice k holds no label at all. */
export function cropLabelSlice(map: Uint8Array, dims: readonly [number, number, number], k: number, pad: number): LabelSliceCrop | null {
  const [nx, ny, nz] = dims;
  if (map.length !== nx * ny * nz) throw new RangeError(`label map holds ${map.length} voxels, dims ${nx}x${ny}x${nz} say ${nx * ny * nz}`);
  if (!Number.isInteger(k) || k < 0 || k >= nz) throw new RangeError(`slice ${k} is outside 0..${nz - 1}`);
  const base = k * nx * ny;
  let iMin = nx;
  let iMax = -1;
  let jMin = ny;
  let jMax = -1;
  for (let j = 0; j < ny; j++) {
    const row = base + j * nx;
    let first = -1;
    for (let i = 0; i < nx; i++) {
      if (map[row + i] !== 0) {
        first = i;
        break;
      }
    }
    if (first < 0) continue;
    let last = first;
    for (let i = nx - 1; i > first; i--) {
      if (map[row + i] !== 0) {
        last = i;
        break;
      }
    }
    if (first < iMin) iMin = first;
    if (last > iMax) iMax = last;
    if (j < jMin) jMin = j;
    jMax = j;
  }
  if (iMax < 0) return null;
  const i0 = Math.max(0, iMin - pad);
  const j0 = Math.max(0, jMin - pad);
  const w = Math.min(nx - 1, iMax + pad) - i0 + 1;
  const h = Math.min(ny - 1, jMax + pad) - j0 + 1;
  const values = new Uint8Array(w * h);
  for (let j = 0; j < h; j++) {
    const from = base + (j0 + j) * nx + i0;
    values.set(map.subarray(from, from + w), j * w);
  }
  return { i0, j0, nx: w, ny: h, values };
}
