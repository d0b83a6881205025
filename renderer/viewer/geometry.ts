/** What the viewer knows of a volume's grid (from `library.readVolume`). */
export interface VolumeGeometry {
  dims: [number, number, number];
  spacing: [number, number, number];
  origin: [number, number, number];
  /** Row-major, columns are the i, j, k axes in LPS. */
  direction: number[];
  frames: number;
}

/** LPS position (mm) of a voxel index: origin + D · diag(spacing) · ijk (see main/io/volume.ts). */
export function indexToLps(g: Pick<VolumeGeometry, 'spacing' | 'origin' | 'direction'>, ijk: [number, number, number]): [number, number, number] {
  const d = g.direction;
  const s = [ijk[0] * g.spacing[0], ijk[1] * g.spacing[1], ijk[2] * g.spacing[2]];
  return [0, 1, 2].map((r) => g.origin[r]! + d[r * 3]! * s[0]! + d[r * 3 + 1]! * s[1]! + d[r * 3 + 2]! * s[2]!) as [number, number, number];
}

const POS = ['L', 'P', 'S'];
const NEG = ['R', 'A', 'I'];

/** The patient direction an index axis points to, as a letter or two (e.g. "L", "PS" when oblique). */
export function axisLetters(direction: number[], axis: 0 | 1 | 2, sign: 1 | -1): string {
  const v = [direction[axis]!, direction[3 + axis]!, direction[6 + axis]!].map((x) => x * sign);
  const order = [0, 1, 2].sort((a, b) => Math.abs(v[b]!) - Math.abs(v[a]!));
  let out = '';
  for (const c of order) {
    if (Math.abs(v[c]!) < 0.3) continue;
    out += v[c]! > 0 ? POS[c] : NEG[c];
    if (out.length === 2) break;
  }
  return out || '?';
}

/**
 * The 2D camera of a slice view: `zoom` relative to fitting the slice, `center` the display-space point
 * (mm) at the middle of the viewport. Screen y grows downward like index j, so no flip is needed.
 */
export interface SliceCamera {
  zoom: number;
  center: [number, number];
}

/** Half the viewport height in mm when the slice just fits, with a small margin. */
export function fitScale(g: Pick<VolumeGeometry, 'dims' | 'spacing'>, width: number, height: number): number {
  const w = g.dims[0] * g.spacing[0];
  const h = g.dims[1] * g.spacing[1];
  return (Math.max(h / 2, (w / 2) * (height / Math.max(width, 1))) * 1.04);
}

export function centreOf(g: Pick<VolumeGeometry, 'dims' | 'spacing'>): [number, number] {
  return [((g.dims[0] - 1) * g.spacing[0]) / 2, ((g.dims[1] - 1) * g.spacing[1]) / 2];
}

/** mm per CSS pixel at the current zoom. */
export function mmPerPixel(g: Pick<VolumeGeometry, 'dims' | 'spacing'>, cam: SliceCamera, width: number, height: number): number {
  return (2 * fitScale(g, width, height)) / cam.zoom / Math.max(height, 1);
}

/** A viewport point (CSS px from the top-left) as fractional voxel indices (i, j) of the slice. */
export function screenToIndex(
  g: Pick<VolumeGeometry, 'dims' | 'spacing'>,
  cam: SliceCamera,
  width: number,
  height: number,
  x: number,
  y: number,
): { i: number; j: number } {
  const mpp = mmPerPixel(g, cam, width, height);
  const wx = cam.center[0] + (x - width / 2) * mpp;
  const wy = cam.center[1] + (y - height / 2) * mpp;
  return { i: wx / g.spacing[0], j: wy / g.spacing[1] };
}
