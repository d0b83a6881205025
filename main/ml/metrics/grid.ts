import type { Vec3, VoxelArray } from '../../io/volume.js';

/**
 * The voxel grid a metric is computed on: one 3D frame, i fastest then j then k (the Volume layout), with the
 * voxel size in millimetres along i, j, k. Distances are physical, so anisotropic spacing (ACDC: ~1.5 mm
 * in-plane, 5–10 mm between slices) is honoured by every distance-based metric.
 */
export interface Grid {
  dims: Vec3;
  spacing: Vec3;
}

/** Anything a label map can be stored in (a Volume's data, a frame of it, or a plain typed array in tests). */
export type LabelArray = VoxelArray | ArrayLike<number>;

export function gridSize(grid: Grid): number {
  return grid.dims[0] * grid.dims[1] * grid.dims[2];
}

/** Throws a plain-words error when the grid cannot describe `length` voxels or has a non-physical spacing. */
export function checkGrid(grid: Grid, length: number, what = 'label map'): void {
  const [nx, ny, nz] = grid.dims;
  for (const n of grid.dims) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`${what}: dims ${grid.dims.join('x')} must be positive integers`);
  }
  for (const s of grid.spacing) {
    if (!(s > 0) || !Number.isFinite(s)) throw new RangeError(`${what}: spacing ${grid.spacing.join('x')} must be positive and finite`);
  }
  if (nx * ny * nz !== length) {
    throw new RangeError(`${what}: ${length} voxels do not fill a ${nx}x${ny}x${nz} grid`);
  }
}

/** Voxel volume in millilitres (1 ml = 1000 mm³). */
export function voxelMl(grid: Pick<Grid, 'spacing'>): number {
  return (grid.spacing[0] * grid.spacing[1] * grid.spacing[2]) / 1000;
}

/** Largest label value a label map may hold: per-label tables are indexed by label. */
export const MAX_LABEL = 65535;

/**
 * Checks that every voxel holds a non-negative integer label no larger than MAX_LABEL and returns the largest.
 * Label maps read from disk may be stored as floats; a fractional, negative or huge value means the file is an
 * image, not a label map.
 */
export function maxLabel(labels: LabelArray, what = 'label map'): number {
  let max = 0;
  const n = labels.length;
  for (let p = 0; p < n; p++) {
    const v = labels[p]!;
    if (v !== v || v < 0 || v !== Math.floor(v) || v > MAX_LABEL) {
      throw new RangeError(
        `${what} holds the value ${v} at voxel ${p}: labels must be integers in 0..${MAX_LABEL} (is it an image?)`,
      );
    }
    if (v > max) max = v;
  }
  return max;
}
