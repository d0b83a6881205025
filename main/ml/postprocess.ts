import { frameSize, type Vec3, type Volume, type VoxelArray } from '../io/volume.js';
import { maxLabel } from './metrics/grid.js';

/**
 * Post-processing of a predicted label map: keep, for each structure, only its largest 3D connected component.
 * A network predicting slice by slice leaves small islands (a blob of "RV" in the liver, a speck of myocardium
 * in the lung); a heart structure is one connected piece, so everything but the largest piece is an error.
 *
 * - **Connectivity 6 by default** (face neighbours only), the same notion of neighbour as the surface
 *   definition of the distance metrics and the default of scipy.ndimage.label that nnU-Net's post-processing
 *   uses; 26 (faces, edges and corners) is available and merges pieces that touch only diagonally, which
 *   matters little in-plane but links structures across thick slices more generously.
 * - Each label is processed on its own (a component is a maximal connected set of voxels of that label),
 *   frame by frame for a cine (components never span time).
 * - Removed voxels become background (0); they are not reassigned to a neighbouring structure.
 * - Ties between equally large components keep the first in voxel order (i fastest, then j, k): deterministic.
 */
export type Connectivity = 6 | 26;

export interface LargestComponentOptions {
  connectivity?: Connectivity;
  /** Labels to clean (default: every non-zero label present). Other labels are left untouched. */
  labels?: number[];
}

/** A new label Volume with only the largest connected component of each structure kept (the input is not changed). */
export function keepLargestComponents(volume: Volume, options: LargestComponentOptions = {}): Volume {
  const data = volume.data.slice() as VoxelArray;
  keepLargestComponentsInPlace(data, volume.dims, volume.frames, options);
  return { ...volume, dims: [...volume.dims], spacing: [...volume.spacing], origin: [...volume.origin], direction: [...volume.direction], data };
}

/**
 * keepLargestComponents on raw voxels, in place. Returns the number of voxels removed per label (summed over
 * frames), which callers can log ("removed 132 RV voxels in 3 islands").
 */
export function keepLargestComponentsInPlace(
  data: VoxelArray,
  dims: Vec3,
  frames: number,
  options: LargestComponentOptions = {},
): Record<number, number> {
  const connectivity = options.connectivity ?? 6;
  if (connectivity !== 6 && connectivity !== 26) throw new RangeError(`connectivity must be 6 or 26, not ${String(connectivity)}`);
  const n = frameSize({ dims });
  if (data.length !== n * frames) throw new RangeError(`${data.length} voxels do not fill ${dims.join('x')} x ${frames} frames`);
  const top = maxLabel(data);
  const selected = new Uint8Array(top + 1);
  if (options.labels) {
    for (const l of options.labels) if (Number.isInteger(l) && l > 0 && l <= top) selected[l] = 1;
  } else selected.fill(1, 1);
  const removed: Record<number, number> = {};
  const comp = new Int32Array(n);
  const queue = new Int32Array(n);
  for (let t = 0; t < frames; t++) {
    const frame = data.subarray(t * n, (t + 1) * n) as VoxelArray;
    comp.fill(0);
    const sizes = labelComponents(frame, dims, connectivity, selected, comp, queue);
    // The winning component id of each label (first largest).
    const best = new Int32Array(top + 1);
    const bestSize = new Float64Array(top + 1);
    for (let id = 1; id < sizes.length; id++) {
      const { label, size } = sizes[id]!;
      if (size > bestSize[label]!) {
        bestSize[label] = size;
        best[label] = id;
      }
    }
    for (let p = 0; p < n; p++) {
      const id = comp[p]!;
      if (id === 0) continue;
      const label = frame[p]!;
      if (id !== best[label]) {
        frame[p] = 0;
        removed[label] = (removed[label] ?? 0) + 1;
      }
    }
  }
  return removed;
}

/**
 * Flood-fills every connected component of the selected labels: comp[p] gets its component id (1, 2, …;
 * 0 for background and unselected labels). Returns size and label per id (index 0 unused).
 */
function labelComponents(
  frame: VoxelArray,
  dims: Vec3,
  connectivity: Connectivity,
  selected: Uint8Array,
  comp: Int32Array,
  queue: Int32Array,
): { label: number; size: number }[] {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const n = plane * nz;
  // Neighbour moves as (di, dj, dk) and as linear offsets: interior voxels use the offsets without bound checks.
  const moves: number[] = [];
  for (let dk = -1; dk <= 1; dk++) {
    for (let dj = -1; dj <= 1; dj++) {
      for (let di = -1; di <= 1; di++) {
        const steps = Math.abs(di) + Math.abs(dj) + Math.abs(dk);
        if (steps === 0 || (connectivity === 6 && steps !== 1)) continue;
        moves.push(di, dj, dk);
      }
    }
  }
  const m = moves.length / 3;
  const offsets = new Int32Array(m);
  for (let q = 0; q < m; q++) offsets[q] = moves[3 * q + 2]! * plane + moves[3 * q + 1]! * nx + moves[3 * q]!;
  const out: { label: number; size: number }[] = [{ label: 0, size: 0 }];
  for (let seed = 0; seed < n; seed++) {
    const label = frame[seed]!;
    if (label === 0 || comp[seed] !== 0 || !selected[label]) continue;
    const id = out.length;
    comp[seed] = id;
    queue[0] = seed;
    let head = 0;
    let tail = 1;
    while (head < tail) {
      const p = queue[head++]!;
      const k = (p / plane) | 0;
      const rem = p - k * plane;
      const j = (rem / nx) | 0;
      const i = rem - j * nx;
      const interior = i > 0 && i < nx - 1 && j > 0 && j < ny - 1 && k > 0 && k < nz - 1;
      for (let q = 0; q < m; q++) {
        if (!interior) {
          const ii = i + moves[3 * q]!;
          const jj = j + moves[3 * q + 1]!;
          const kk = k + moves[3 * q + 2]!;
          if (ii < 0 || ii >= nx || jj < 0 || jj >= ny || kk < 0 || kk >= nz) continue;
        }
        const r = p + offsets[q]!;
        if (comp[r] === 0 && frame[r] === label) {
          comp[r] = id;
          queue[tail++] = r;
        }
      }
    }
    out.push({ label, size: tail });
  }
  return out;
}
