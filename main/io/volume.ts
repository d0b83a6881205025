/**
 * The volume model shared by every reader, writer and consumer in the engine.
 *
 * Patient coordinate convention: **LPS** (DICOM / ITK). x grows to the patient's Left, y to Posterior,
 * z to Superior. NIfTI stores RAS; its reader and writer flip the sign of the first two rows of the affine.
 *
 * Physical position of voxel index (i, j, k):  p = origin + D · diag(spacing) · [i, j, k]ᵀ
 * where D is the 3×3 direction matrix whose *columns* are the unit vectors of the i, j and k axes.
 * `direction` stores D row-major: D[r][c] = direction[r * 3 + c].
 *
 * Voxel order in `data`: i fastest, then j, then k, then frame (t).
 */
export type VoxelArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;

export type Vec3 = [number, number, number];
export type Mat3 = [number, number, number, number, number, number, number, number, number];

export interface Volume {
  /** Voxel counts along i, j, k. */
  dims: Vec3;
  /** Number of time frames (1 for a 3D volume, >1 for a cine). */
  frames: number;
  /** Voxel size along i, j, k in millimetres. */
  spacing: Vec3;
  /** LPS position (mm) of the centre of voxel (0, 0, 0). */
  origin: Vec3;
  /** Direction cosines, row-major, columns are the i, j, k axes in LPS. */
  direction: Mat3;
  /** Voxels, i fastest, then j, k, frame. Length = dims[0]·dims[1]·dims[2]·frames. */
  data: VoxelArray;
  /** Seconds between frames when known (cine), else undefined. */
  frameInterval?: number;
}

export const IDENTITY: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];

export function voxelCount(v: Pick<Volume, 'dims' | 'frames'>): number {
  return v.dims[0] * v.dims[1] * v.dims[2] * v.frames;
}

export function frameSize(v: Pick<Volume, 'dims'>): number {
  return v.dims[0] * v.dims[1] * v.dims[2];
}

/** A view of one frame's voxels (no copy). */
export function frameData(v: Volume, frame: number): VoxelArray {
  if (frame < 0 || frame >= v.frames) throw new RangeError(`frame ${frame} outside 0..${v.frames - 1}`);
  const n = frameSize(v);
  return v.data.subarray(frame * n, (frame + 1) * n) as VoxelArray;
}

/** 4×4 index-to-LPS affine, row-major. */
export function indexToLps(v: Pick<Volume, 'spacing' | 'origin' | 'direction'>): number[] {
  const d = v.direction;
  const s = v.spacing;
  return [
    d[0] * s[0], d[1] * s[1], d[2] * s[2], v.origin[0],
    d[3] * s[0], d[4] * s[1], d[5] * s[2], v.origin[1],
    d[6] * s[0], d[7] * s[1], d[8] * s[2], v.origin[2],
    0, 0, 0, 1,
  ];
}

/** LPS position of a (possibly fractional) voxel index. */
export function indexToPoint(v: Pick<Volume, 'spacing' | 'origin' | 'direction'>, ijk: Vec3): Vec3 {
  const m = indexToLps(v);
  return [
    m[0]! * ijk[0] + m[1]! * ijk[1] + m[2]! * ijk[2] + m[3]!,
    m[4]! * ijk[0] + m[5]! * ijk[1] + m[6]! * ijk[2] + m[7]!,
    m[8]! * ijk[0] + m[9]! * ijk[1] + m[10]! * ijk[2] + m[11]!,
  ];
}

/** True when two volumes share grid geometry within `tol` (mm for origin/spacing, unitless for direction). */
export function sameGeometry(
  a: Pick<Volume, 'dims' | 'spacing' | 'origin' | 'direction'>,
  b: Pick<Volume, 'dims' | 'spacing' | 'origin' | 'direction'>,
  tol = 1e-3,
): boolean {
  if (a.dims.some((n, i) => n !== b.dims[i])) return false;
  const close = (x: readonly number[], y: readonly number[]) => x.every((xv, i) => Math.abs(xv - y[i]!) <= tol);
  return close(a.spacing, b.spacing) && close(a.origin, b.origin) && close(a.direction, b.direction);
}
