import { describe, expect, it } from 'vitest';
import { labelBorders } from '../../renderer/tools/borders.js';
import { distanceMm, interpolateSlice, signedDistance } from '../../renderer/tools/distance.js';
import { SliceEdit, applyDiff } from '../../renderer/tools/edit.js';
import { EditHistory } from '../../renderer/tools/history.js';
import { discIndices, fillPolygon, floodFill, paintDisc, paintSegment, polygonIndices } from '../../renderer/tools/paint.js';
import type { SliceGrid } from '../../renderer/tools/grid.js';

/** Voxels set to a non-zero value, as "i,j" strings sorted: easy to compare with a hand-made list. */
function setVoxels(slice: Uint8Array, g: SliceGrid): string[] {
  const out: string[] = [];
  slice.forEach((v, n) => v && out.push(`${n % g.nx},${Math.floor(n / g.nx)}`));
  return out.sort();
}

describe('brush on anisotropic grids (distances in mm)', () => {
  it('radius 2 mm on 1 x 2 mm pixels: a 5-voxel row and one voxel above and below (those lie exactly at 2 mm)', () => {
    const g = { nx: 11, ny: 11, sx: 1, sy: 2 };
    const slice = new Uint8Array(121);
    const edit = new SliceEdit(slice, 0, 0);
    paintDisc(edit, g, { i: 5, j: 5 }, 2, 1);
    expect(setVoxels(slice, g)).toEqual(['3,5', '4,5', '5,4', '5,5', '5,6', '6,5', '7,5'].sort());
  });

  it('radius 2 mm on 1 x 1.5 mm pixels: rows of 5, then 3 above and below (1.5² + 1² ≤ 4, 1.5² + 2² > 4)', () => {
    const g = { nx: 9, ny: 9, sx: 1, sy: 1.5 };
    const idx = discIndices(g, { i: 4, j: 4 }, 2);
    expect(idx.length).toBe(11);
    const slice = new Uint8Array(81);
    for (const n of idx) slice[n] = 1;
    expect(setVoxels(slice, g)).toEqual(
      ['2,4', '3,4', '4,4', '5,4', '6,4', '3,3', '4,3', '5,3', '3,5', '4,5', '5,5'].sort(),
    );
  });

  it('radius 1.5 mm on 0.5 x 1.5 mm pixels: 7 along i, one above and below', () => {
    const g = { nx: 20, ny: 6, sx: 0.5, sy: 1.5 };
    expect(discIndices(g, { i: 10, j: 2 }, 1.5).length).toBe(9);
  });

  it('clips at the slice border and always marks the voxel under a tiny brush', () => {
    const g = { nx: 4, ny: 4, sx: 1, sy: 1 };
    expect(discIndices(g, { i: 0, j: 0 }, 1).sort((a, b) => a - b)).toEqual([0, 1, 4]);
    expect(discIndices(g, { i: 2.2, j: 1.9 }, 0.1)).toEqual([2 + 2 * 4]);
    expect(discIndices(g, { i: -5, j: -5 }, 0.1)).toEqual([]);
    expect(() => discIndices(g, { i: 0, j: 0 }, -1)).toThrow(/radius/);
    expect(() => discIndices({ nx: 0, ny: 4, sx: 1, sy: 1 }, { i: 0, j: 0 }, 1)).toThrow(/grid/);
  });

  it('the threshold-limited brush paints only voxels inside the intensity range', () => {
    const g = { nx: 5, ny: 1, sx: 1, sy: 1 };
    const slice = new Uint8Array(5);
    const image = [10, 50, 100, 150, 200];
    paintDisc(new SliceEdit(slice, 0, 0), g, { i: 2, j: 0 }, 2, 3, { image, min: 40, max: 160 });
    expect(Array.from(slice)).toEqual([0, 3, 3, 3, 0]);
  });

  it('a stroke leaves a continuous band between two far points', () => {
    const g = { nx: 30, ny: 5, sx: 1, sy: 1 };
    const slice = new Uint8Array(150);
    paintSegment(new SliceEdit(slice, 0, 0), g, { i: 2, j: 2 }, { i: 27, j: 2 }, 0.5, 1);
    expect(Array.from(slice.subarray(60, 90))).toEqual(Array.from({ length: 30 }, (_, i) => (i >= 2 && i <= 27 ? 1 : 0)));
  });
});

describe('undo and redo', () => {
  it('undo restores exactly what was there (other labels included), redo re-applies exactly', () => {
    const g = { nx: 8, ny: 8, sx: 1.2, sy: 0.8 };
    const slice = Uint8Array.from({ length: 64 }, (_, n) => (n % 3 === 0 ? 2 : 0));
    const original = slice.slice();
    const history = new EditHistory();
    const edit = new SliceEdit(slice, 1, 4);
    paintSegment(edit, g, { i: 1, j: 1 }, { i: 6, j: 5 }, 1.5, 1);
    const diff = edit.finish()!;
    expect(diff).toMatchObject({ frame: 1, k: 4 });
    history.push({ name: 'brush', diffs: [diff] });
    const painted = slice.slice();
    expect(painted).not.toEqual(original);

    const undo = history.undo()!;
    for (const d of undo.diffs) applyDiff(slice, d, 'before');
    expect(slice).toEqual(original);
    expect(history.canRedo).toBe(true);

    const redo = history.redo()!;
    for (const d of redo.diffs) applyDiff(slice, d, 'after');
    expect(slice).toEqual(painted);
    expect(history.undo()).toBe(redo);
    expect(history.undo()).toBeNull();
  });

  it('a diff holds only voxels that changed; a new edit clears the redo stack', () => {
    const slice = new Uint8Array(4);
    const e = new SliceEdit(slice, 0, 0);
    e.set(0, 1);
    e.set(0, 0);
    e.set(1, 0);
    e.set(2, 5);
    const d = e.finish()!;
    expect([Array.from(d.indices), Array.from(d.before), Array.from(d.after)]).toEqual([[2], [0], [5]]);
    expect(new SliceEdit(slice, 0, 0).finish()).toBeNull();

    const h = new EditHistory();
    h.push({ name: 'a', diffs: [d] });
    h.undo();
    h.push({ name: 'b', diffs: [d] });
    expect(h.size).toEqual({ undo: 1, redo: 0 });
    h.push({ name: 'empty', diffs: [] });
    expect(h.size.undo).toBe(1);
  });

  it('drops the oldest commands past the voxel limit', () => {
    const h = new EditHistory(5);
    const diff = (n: number) => ({ frame: 0, k: 0, indices: new Uint32Array(n), before: new Uint8Array(n), after: new Uint8Array(n) });
    h.push({ name: 'a', diffs: [diff(3)] });
    h.push({ name: 'b', diffs: [diff(3)] });
    expect(h.size.undo).toBe(1);
    expect(h.undo()!.name).toBe('b');
  });
});

describe('flood fill and polygon fill', () => {
  // A ring of label 1 around the voxels (2..4, 2..4) on a 7x7 slice.
  function ring(): Uint8Array {
    const s = new Uint8Array(49);
    for (let n = 1; n <= 5; n++) {
      s[n + 1 * 7] = s[n + 5 * 7] = s[1 + n * 7] = s[5 + n * 7] = 1;
    }
    return s;
  }

  it('fills the inside of a closed contour and stops at it', () => {
    const g = { nx: 7, ny: 7, sx: 1, sy: 1 };
    const s = ring();
    const n = floodFill(new SliceEdit(s, 0, 0), g, { i: 3, j: 3 }, 2);
    expect(n).toBe(9);
    for (let j = 0; j < 7; j++)
      for (let i = 0; i < 7; i++) {
        const v = s[i + j * 7];
        const inner = i >= 2 && i <= 4 && j >= 2 && j <= 4;
        const edge = !inner && i >= 1 && i <= 5 && j >= 1 && j <= 5;
        expect(v).toBe(inner ? 2 : edge ? 1 : 0);
      }
  });

  it('leaks through a gap only along edges, never diagonally; outside fill covers the rest of the slice', () => {
    const g = { nx: 7, ny: 7, sx: 1, sy: 1 };
    const s = ring();
    const outside = floodFill(new SliceEdit(s, 0, 0), g, { i: 0, j: 0 }, 3);
    expect(outside).toBe(49 - 25);
    expect(s[3 + 3 * 7]).toBe(0);
    expect(floodFill(new SliceEdit(s, 0, 0), g, { i: 3, j: 3 }, 0)).toBe(0);
    expect(floodFill(new SliceEdit(s, 0, 0), g, { i: 9, j: 3 }, 2)).toBe(0);
  });

  it('respects an intensity range', () => {
    const g = { nx: 5, ny: 1, sx: 1, sy: 1 };
    const s = new Uint8Array(5);
    floodFill(new SliceEdit(s, 0, 0), g, { i: 0, j: 0 }, 1, { image: [1, 2, 9, 2, 1], min: 0, max: 5 });
    expect(Array.from(s)).toEqual([1, 1, 0, 0, 0]);
  });

  it('polygon: voxel centres inside (even-odd), left/top edges in, right/bottom edges out', () => {
    const g = { nx: 8, ny: 8, sx: 1, sy: 1 };
    const square = [{ i: 1, j: 1 }, { i: 4, j: 1 }, { i: 4, j: 4 }, { i: 1, j: 4 }];
    const s = new Uint8Array(64);
    for (const n of polygonIndices(g, square)) s[n] = 1;
    expect(setVoxels(s, g)).toEqual(['1,1', '2,1', '3,1', '1,2', '2,2', '3,2', '1,3', '2,3', '3,3'].sort());

    // A right triangle with legs of 4 voxels: centres with i + j < 4 (measured from its corner) and on the legs.
    const tri = new Uint8Array(64);
    fillPolygon(new SliceEdit(tri, 0, 0), g, [{ i: 0, j: 0 }, { i: 4, j: 0 }, { i: 0, j: 4 }], 5);
    expect(setVoxels(tri, g)).toEqual(['0,0', '1,0', '2,0', '3,0', '0,1', '1,1', '2,1', '0,2', '1,2', '0,3'].sort());
    expect(polygonIndices(g, square.slice(0, 2))).toEqual([]);
  });
});

describe('distance transform and fill-between-slices', () => {
  it('matches brute force on an anisotropic grid with scattered features', () => {
    const g = { nx: 9, ny: 7, sx: 0.7, sy: 1.9 };
    const feats = new Set([3, 17, 40, 41, 62]);
    const d = distanceMm((n) => feats.has(n), g);
    for (let n = 0; n < 63; n++) {
      let best = Infinity;
      for (const f of feats) best = Math.min(best, Math.hypot(((n % 9) - (f % 9)) * 0.7, (Math.floor(n / 9) - Math.floor(f / 9)) * 1.9));
      expect(d[n]).toBeCloseTo(best, 9);
    }
    expect(distanceMm(() => false, g).every((x) => x === Infinity)).toBe(true);
  });

  it('signed distance is negative inside, positive outside, in mm', () => {
    const g = { nx: 5, ny: 1, sx: 2, sy: 1 };
    expect(Array.from(signedDistance(Uint8Array.from([0, 1, 1, 1, 0]), 1, g))).toEqual([2, -2, -4, -2, 2]);
  });

  it('halfway between a band 3 wide and one 7 wide lies a band 5 wide; identical shapes stay identical', () => {
    const g = { nx: 12, ny: 3, sx: 1, sy: 1 };
    const band = (from: number, to: number) => Uint8Array.from({ length: 36 }, (_, n) => (n % 12 >= from && n % 12 <= to ? 2 : 0));
    const mid = interpolateSlice(band(2, 4), band(2, 8), 0.5, g);
    expect(Array.from(mid)).toEqual(Array.from(band(2, 6)));
    expect(Array.from(interpolateSlice(band(3, 5), band(3, 5), 0.3, g))).toEqual(Array.from(band(3, 5)));
    // A label present on one side only is not invented between.
    expect(interpolateSlice(band(2, 4), new Uint8Array(36), 0.5, g).every((v) => v === 0)).toBe(true);
  });
});

describe('label borders', () => {
  it('keeps the voxels of each label that touch another value or the slice edge, slice by slice', () => {
    // 5x4, two slices: a 3x2 block of 2 in slice 0 (one row thick inside), a 5x4 full slice of 1 in slice 1.
    const map = new Uint8Array(40);
    for (const j of [1, 2]) for (const i of [1, 2, 3]) map[i + j * 5] = 2;
    map.fill(1, 20, 40);
    const b = labelBorders(map, [5, 4, 2]);
    // Every voxel of a 2-row block touches the outside: all kept.
    expect(Array.from(b.subarray(0, 20))).toEqual(Array.from(map.subarray(0, 20)));
    // A full slice: only its rim.
    const rim = Array.from({ length: 20 }, (_, n) => (n % 5 === 0 || n % 5 === 4 || n < 5 || n >= 15 ? 1 : 0));
    expect(Array.from(b.subarray(20))).toEqual(rim);
    expect(() => labelBorders(map, [5, 4, 3])).toThrow(/40 voxels/);
  });
});
