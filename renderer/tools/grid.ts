/**
 * The in-plane grid of one axial (k) slice: what every annotation tool works on. Voxel (i, j) has its centre
 * at index coordinates (i, j) and its value at `i + j * nx` in the slice's array. Spacing is in millimetres
 * and may differ along i and j (anisotropic pixels), so distances are always measured in mm, never in voxels.
 */
export interface SliceGrid {
  nx: number;
  ny: number;
  /** Spacing along i, mm. */
  sx: number;
  /** Spacing along j, mm. */
  sy: number;
}

/** A point in (possibly fractional) voxel index coordinates of a slice. */
export interface IndexPoint {
  i: number;
  j: number;
}

export function sliceSize(g: SliceGrid): number {
  return g.nx * g.ny;
}

export function checkGrid(g: SliceGrid): void {
  if (!Number.isInteger(g.nx) || !Number.isInteger(g.ny) || g.nx < 1 || g.ny < 1) {
    throw new RangeError(`slice grid ${g.nx}x${g.ny} is not a positive integer size`);
  }
  if (!(g.sx > 0) || !(g.sy > 0) || !Number.isFinite(g.sx) || !Number.isFinite(g.sy)) {
    throw new RangeError(`slice spacing ${g.sx}x${g.sy} mm must be finite and positive`);
  }
}

export function inside(g: SliceGrid, i: number, j: number): boolean {
  return i >= 0 && j >= 0 && i < g.nx && j < g.ny;
}
