import { describe, expect, it } from 'vitest';
import { cropLabelSlice } from '../../renderer/viewer/labelCrop.js';

// A 6 x 5 x 2 map. Slice 0 holds label 1 at (2,1) and (3,1), label 2 at (4,3); slice 1 is empty.
function sample(): Uint8Array {
  const map = new Uint8Array(6 * 5 * 2);
  map[2 + 1 * 6] = 1;
  map[3 + 1 * 6] = 1;
  map[4 + 3 * 6] = 2;
  return map;
}

describe('cropLabelSlice', () => {
  it('cuts the bounding rectangle of the labels, without padding', () => {
    const c = cropLabelSlice(sample(), [6, 5, 2], 0, 0)!;
    // Columns 2..4, rows 1..3.
    expect([c.i0, c.j0, c.nx, c.ny]).toEqual([2, 1, 3, 3]);
    expect([...c.values]).toEqual([1, 1, 0, 0, 0, 0, 0, 0, 2]);
  });

  it('pads with background, clamped to the slice', () => {
    const c = cropLabelSlice(sample(), [6, 5, 2], 0, 1)!;
    // Columns 1..5, rows 0..4: the whole height of the slice and up to its last column.
    expect([c.i0, c.j0, c.nx, c.ny]).toEqual([1, 0, 5, 5]);
    expect([...c.values]).toEqual([
      0, 0, 0, 0, 0,
      0, 1, 1, 0, 0,
      0, 0, 0, 0, 0,
      0, 0, 0, 2, 0,
      0, 0, 0, 0, 0,
    ]);
    const wide = cropLabelSlice(sample(), [6, 5, 2], 0, 10)!;
    expect([wide.i0, wide.j0, wide.nx, wide.ny]).toEqual([0, 0, 6, 5]);
    expect([...wide.values]).toEqual([...sample().subarray(0, 30)]);
  });

  it('reads the slice asked for, and says when it is empty', () => {
    const map = sample();
    expect(cropLabelSlice(map, [6, 5, 2], 1, 2)).toBeNull();
    map[30 + 5 + 4 * 6] = 3;
    const c = cropLabelSlice(map, [6, 5, 2], 1, 0)!;
    expect([c.i0, c.j0, c.nx, c.ny, ...c.values]).toEqual([5, 4, 1, 1, 3]);
  });

  it('refuses a map of the wrong size or a slice outside it', () => {
    expect(() => cropLabelSlice(new Uint8Array(59), [6, 5, 2], 0, 0)).toThrow(/59 voxels, dims 6x5x2 say 60/);
    expect(() => cropLabelSlice(sample(), [6, 5, 2], 2, 0)).toThrow(/slice 2 is outside 0..1/);
  });
});
