import type { SliceEdit } from './edit.js';
import { checkGrid, inside, type IndexPoint, type SliceGrid } from './grid.js';

/** Paint only voxels whose image intensity lies in [min, max] (the threshold-limited brush and fill). */
export interface IntensityRange {
  /** The slice's intensities, same layout as the label slice. */
  image: ArrayLike<number>;
  min: number;
  max: number;
}

/** A tolerance for "within r mm": a voxel centre exactly on the circle is inside despite float rounding. */
const EPS = 1e-9;

function allowed(range: IntensityRange | undefined, index: number): boolean {
  if (!range) return true;
  const v = range.image[index]!;
  return v >= range.min && v <= range.max;
}

/**
 * Indices of the voxels whose centres lie within `radiusMm` of `centre` (index coordinates), distances in mm
 * with the slice's own spacing along i and j. A radius smaller than half a voxel still paints the voxel
 * under the cursor, so a click always leaves a mark.
 */
export function discIndices(g: SliceGrid, centre: IndexPoint, radiusMm: number): number[] {
  checkGrid(g);
  if (!(radiusMm >= 0) || !Number.isFinite(radiusMm)) throw new RangeError(`brush radius ${radiusMm} mm must be finite and >= 0`);
  const out: number[] = [];
  const ri = radiusMm / g.sx;
  const rj = radiusMm / g.sy;
  const i0 = Math.max(0, Math.ceil(centre.i - ri - EPS));
  const i1 = Math.min(g.nx - 1, Math.floor(centre.i + ri + EPS));
  const j0 = Math.max(0, Math.ceil(centre.j - rj - EPS));
  const j1 = Math.min(g.ny - 1, Math.floor(centre.j + rj + EPS));
  const r2 = radiusMm * radiusMm;
  for (let j = j0; j <= j1; j++) {
    const dy = (j - centre.j) * g.sy;
    for (let i = i0; i <= i1; i++) {
      const dx = (i - centre.i) * g.sx;
      if (dx * dx + dy * dy <= r2 + EPS) out.push(i + j * g.nx);
    }
  }
  if (out.length === 0) {
    const i = Math.round(centre.i);
    const j = Math.round(centre.j);
    if (inside(g, i, j)) out.push(i + j * g.nx);
  }
  return out;
}

/** Paint a disc of `value` (0 erases). Returns how many voxels were written. */
export function paintDisc(
  edit: SliceEdit,
  g: SliceGrid,
  centre: IndexPoint,
  radiusMm: number,
  value: number,
  range?: IntensityRange,
): number {
  let n = 0;
  for (const idx of discIndices(g, centre, radiusMm)) {
    if (!allowed(range, idx)) continue;
    edit.set(idx, value);
    n++;
  }
  return n;
}

/**
 * Paint the segment a→b as the union of discs spaced at most half the finer spacing apart, so a fast
 * pointer move leaves a continuous band, not a row of dots.
 */
export function paintSegment(
  edit: SliceEdit,
  g: SliceGrid,
  a: IndexPoint,
  b: IndexPoint,
  radiusMm: number,
  value: number,
  range?: IntensityRange,
): number {
  const lenMm = Math.hypot((b.i - a.i) * g.sx, (b.j - a.j) * g.sy);
  const step = Math.max(Math.min(g.sx, g.sy) / 2, 1e-6);
  const steps = Math.max(1, Math.ceil(lenMm / step));
  let n = 0;
  for (let s = 0; s <= steps; s++) {
    const t = s / steps;
    n += paintDisc(edit, g, { i: a.i + (b.i - a.i) * t, j: a.j + (b.j - a.j) * t }, radiusMm, value, range);
  }
  return n;
}

/**
 * Bucket fill within the slice: the 4-connected region of voxels holding the seed's label (and, with a
 * range, an intensity inside it) becomes `value`. 4-connectivity so a closed brush contour, even one
 * voxel thick on a diagonal, holds the fill in.
 */
export function floodFill(edit: SliceEdit, g: SliceGrid, seed: IndexPoint, value: number, range?: IntensityRange): number {
  checkGrid(g);
  const si = Math.round(seed.i);
  const sj = Math.round(seed.j);
  if (!inside(g, si, sj)) return 0;
  const labels = edit.slice;
  const start = si + sj * g.nx;
  const target = labels[start]!;
  if (!allowed(range, start)) return 0;
  if (target === value) return 0;
  const seen = new Uint8Array(g.nx * g.ny);
  const stack = [start];
  seen[start] = 1;
  let n = 0;
  while (stack.length) {
    const idx = stack.pop()!;
    edit.set(idx, value);
    n++;
    const i = idx % g.nx;
    const j = (idx - i) / g.nx;
    const next = [i > 0 ? idx - 1 : -1, i < g.nx - 1 ? idx + 1 : -1, j > 0 ? idx - g.nx : -1, j < g.ny - 1 ? idx + g.nx : -1];
    for (const m of next) {
      if (m < 0 || seen[m]) continue;
      seen[m] = 1;
      if (labels[m] === target && allowed(range, m)) stack.push(m);
    }
  }
  return n;
}

/**
 * Voxels whose centres lie inside the polygon (even-odd rule; a centre exactly on a left or top edge is
 * inside, on a right or bottom edge outside, so two polygons sharing an edge never both claim a voxel).
 */
export function polygonIndices(g: SliceGrid, vertices: IndexPoint[]): number[] {
  checkGrid(g);
  if (vertices.length < 3) return [];
  const out: number[] = [];
  const j0 = Math.max(0, Math.ceil(Math.min(...vertices.map((v) => v.j))));
  const j1 = Math.min(g.ny - 1, Math.floor(Math.max(...vertices.map((v) => v.j))));
  for (let j = j0; j <= j1; j++) {
    // Scanline: crossings of the horizontal line through the voxel centres of row j.
    const xs: number[] = [];
    for (let e = 0; e < vertices.length; e++) {
      const p = vertices[e]!;
      const q = vertices[(e + 1) % vertices.length]!;
      if (p.j <= j !== q.j <= j) xs.push(p.i + ((j - p.j) * (q.i - p.i)) / (q.j - p.j));
    }
    xs.sort((a, b) => a - b);
    for (let x = 0; x + 1 < xs.length; x += 2) {
      const i0 = Math.max(0, Math.ceil(xs[x]!));
      const i1 = Math.min(g.nx - 1, Math.ceil(xs[x + 1]!) - 1);
      for (let i = i0; i <= i1; i++) out.push(i + j * g.nx);
    }
  }
  return out;
}

export function fillPolygon(edit: SliceEdit, g: SliceGrid, vertices: IndexPoint[], value: number, range?: IntensityRange): number {
  let n = 0;
  for (const idx of polygonIndices(g, vertices)) {
    if (!allowed(range, idx)) continue;
    edit.set(idx, value);
    n++;
  }
  return n;
}
