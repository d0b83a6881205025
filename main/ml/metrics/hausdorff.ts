import { squaredEdt } from './edt.js';
import { checkGrid, type Grid, type LabelArray } from './grid.js';
import { percentileInPlace } from './percentile.js';

/**
 * Surface distances between two masks, in millimetres, MedPy convention (medpy.metric.binary.hd95):
 *
 * - the **surface** of a mask is its voxels with at least one 6-connected neighbour outside the mask; the
 *   volume's edge counts as outside (a mask touching the edge has a surface there);
 * - each surface voxel of one mask gets its exact Euclidean distance, with the anisotropic voxel spacing, to
 *   the nearest surface voxel of the other mask (distances between voxel centres);
 * - **HD95** is the 95th percentile (linear interpolation, NumPy default) of the **union** of both directed
 *   sets, A→B and B→A. (MONAI's compute_hausdorff_distance instead takes the larger of the two directed 95th
 *   percentiles; the two agree when the directed sets are alike and differ slightly otherwise.)
 * - **HD** is the largest distance of the union (the classic symmetric Hausdorff distance).
 *
 * Empty masks have no surface, so the distance is undefined: both empty → NaN (`empty: 'both'`: nothing to
 * compare, Dice reports 1 there); exactly one empty → Infinity (`empty: 'prediction'` or `'reference'`: the
 * structure was missed, or found where there is none). JSON has neither, so reports write null plus the reason.
 */
export interface SurfaceDistance {
  hd95: number;
  hd: number;
  /** Which mask was empty when the distances are undefined (NaN or Infinity). */
  empty?: 'both' | 'prediction' | 'reference';
}

/** Why an undefined surface distance is undefined, in words for tables and JSON. */
export function emptyReason(empty: SurfaceDistance['empty']): string | undefined {
  switch (empty) {
    case 'both':
      return 'structure absent from both prediction and reference';
    case 'prediction':
      return 'structure absent from the prediction';
    case 'reference':
      return 'structure absent from the reference';
    default:
      return undefined;
  }
}

/**
 * HD95 and HD between the voxels equal to `label` in `pred` and in `ref`, both laid out on `grid`.
 * Work is confined to the bounding box of the two masks, which gives the same exact distances (every surface
 * voxel of either mask lies inside it) at a fraction of the cost on a full cardiac field of view.
 */
export function surfaceDistance(pred: LabelArray, ref: LabelArray, grid: Grid, label = 1, percentile = 95): SurfaceDistance {
  checkGrid(grid, pred.length, 'prediction');
  checkGrid(grid, ref.length, 'reference');
  const [nx, ny] = grid.dims;
  const box = unionBox(pred, ref, grid, label);
  if (box.predCount === 0 || box.refCount === 0) {
    const empty = box.predCount === 0 && box.refCount === 0 ? 'both' : box.predCount === 0 ? 'prediction' : 'reference';
    const value = empty === 'both' ? NaN : Infinity;
    return { hd95: value, hd: value, empty };
  }
  const cx = box.hi[0] - box.lo[0] + 1;
  const cy = box.hi[1] - box.lo[1] + 1;
  const cz = box.hi[2] - box.lo[2] + 1;
  const crop: Grid = { dims: [cx, cy, cz], spacing: grid.spacing };
  const maskA = new Uint8Array(cx * cy * cz);
  const maskB = new Uint8Array(cx * cy * cz);
  for (let k = 0; k < cz; k++) {
    for (let j = 0; j < cy; j++) {
      const src = ((box.lo[2] + k) * ny + box.lo[1] + j) * nx + box.lo[0];
      const dst = (k * cy + j) * cx;
      for (let i = 0; i < cx; i++) {
        if (pred[src + i] === label) maskA[dst + i] = 1;
        if (ref[src + i] === label) maskB[dst + i] = 1;
      }
    }
  }
  const surfA = surface(maskA, crop);
  const surfB = surface(maskB, crop);
  const distances = new Float64Array(surfA.count + surfB.count);
  let m = gather(squaredEdt(surfB.mask, crop), surfA.mask, distances, 0);
  m = gather(squaredEdt(surfA.mask, crop), surfB.mask, distances, m);
  const hd95 = percentileInPlace(distances, percentile); // sorts: the maximum is then the last value
  return { hd95, hd: distances[distances.length - 1]! };
}

/** Writes sqrt(sqDist) at every voxel of `at` into out from `offset`; returns the next offset. */
function gather(sqDist: Float64Array, at: Uint8Array, out: Float64Array, offset: number): number {
  let m = offset;
  for (let p = 0; p < at.length; p++) if (at[p]) out[m++] = Math.sqrt(sqDist[p]!);
  return m;
}

/** The 6-connected boundary of a binary mask, the grid's edge counting as background. */
export function surface(mask: Uint8Array, grid: Grid): { mask: Uint8Array; count: number } {
  const [nx, ny, nz] = grid.dims;
  const sx = 1;
  const sy = nx;
  const sz = nx * ny;
  const out = new Uint8Array(mask.length);
  let count = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const row = (k * ny + j) * nx;
      for (let i = 0; i < nx; i++) {
        const p = row + i;
        if (!mask[p]) continue;
        const inside =
          i > 0 && i < nx - 1 && j > 0 && j < ny - 1 && k > 0 && k < nz - 1 &&
          mask[p - sx] && mask[p + sx] && mask[p - sy] && mask[p + sy] && mask[p - sz] && mask[p + sz];
        if (!inside) {
          out[p] = 1;
          count++;
        }
      }
    }
  }
  return { mask: out, count };
}

interface UnionBox {
  lo: [number, number, number];
  hi: [number, number, number];
  predCount: number;
  refCount: number;
}

function unionBox(pred: LabelArray, ref: LabelArray, grid: Grid, label: number): UnionBox {
  const [nx, ny, nz] = grid.dims;
  const lo: [number, number, number] = [nx, ny, nz];
  const hi: [number, number, number] = [-1, -1, -1];
  let predCount = 0;
  let refCount = 0;
  let p = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, p++) {
        const a = pred[p] === label;
        const b = ref[p] === label;
        if (!a && !b) continue;
        if (a) predCount++;
        if (b) refCount++;
        if (i < lo[0]) lo[0] = i;
        if (i > hi[0]) hi[0] = i;
        if (j < lo[1]) lo[1] = j;
        if (j > hi[1]) hi[1] = j;
        if (k < lo[2]) lo[2] = k;
        if (k > hi[2]) hi[2] = k;
      }
    }
  }
  return { lo, hi, predCount, refCount };
}
