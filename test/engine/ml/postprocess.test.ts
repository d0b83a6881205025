import { describe, expect, it } from 'vitest';
import { IDENTITY, type Vec3, type Volume } from '../../../main/io/volume.js';
import { keepLargestComponents, keepLargestComponentsInPlace } from '../../../main/ml/postprocess.js';

/** A label volume from a list of (i, j, k, label) on a dims grid. */
function vol(dims: Vec3, voxels: [number, number, number, number][], frames = 1, array = Uint8Array as Uint8ArrayConstructor | Int16ArrayConstructor): Volume {
  const n = dims[0] * dims[1] * dims[2];
  const data = new array(n * frames);
  for (let t = 0; t < frames; t++) for (const [i, j, k, l] of voxels) data[t * n + (k * dims[1] + j) * dims[0] + i] = l;
  return { dims, frames, spacing: [1.5, 1.5, 10], origin: [1, 2, 3], direction: [...IDENTITY], data };
}

const at = (v: Volume, i: number, j: number, k: number, t = 0) => v.data[t * v.dims[0] * v.dims[1] * v.dims[2] + (k * v.dims[1] + j) * v.dims[0] + i];

describe('keepLargestComponents', () => {
  it('removes the smaller islands of each label, leaving other labels and the input untouched', () => {
    const input = vol([6, 4, 3], [
      [0, 0, 0, 1], [1, 0, 0, 1], [1, 1, 0, 1], [1, 1, 1, 1], // RV: a 4-voxel piece
      [5, 3, 2, 1], // RV island
      [4, 0, 0, 2], [4, 1, 0, 2], // MYO: 2 voxels
      [0, 3, 2, 2], [1, 3, 2, 2], [2, 3, 2, 2], // MYO: 3 voxels (wins)
      [3, 3, 0, 3], // LV: single voxel, kept
    ]);
    const before = input.data.slice();
    const out = keepLargestComponents(input);
    expect(input.data).toEqual(before);
    expect(out.data).not.toBe(input.data);
    expect([out.dims, out.spacing, out.origin, out.direction, out.frames]).toEqual([input.dims, input.spacing, input.origin, input.direction, 1]);
    expect(at(out, 5, 3, 2)).toBe(0);
    expect(at(out, 1, 1, 1)).toBe(1);
    expect(at(out, 4, 0, 0)).toBe(0);
    expect(at(out, 4, 1, 0)).toBe(0);
    expect(at(out, 2, 3, 2)).toBe(2);
    expect(at(out, 3, 3, 0)).toBe(3);
    const counts = [0, 0, 0, 0];
    for (const v of out.data) counts[v]!++;
    expect(counts.slice(1)).toEqual([4, 3, 1]);

    const copy = input.data.slice();
    expect(keepLargestComponentsInPlace(copy, input.dims, 1)).toEqual({ 1: 1, 2: 2 });
    expect(copy).toEqual(out.data);
  });

  it('6-connectivity splits pieces touching by an edge or a corner; 26-connectivity joins them', () => {
    const edge = vol([3, 3, 2], [[0, 0, 0, 1], [1, 1, 0, 1], [1, 1, 1, 1], [2, 2, 1, 1]]);
    // 6: {(0,0,0)}, {(1,1,0),(1,1,1)}, {(2,2,1)} → keep the pair. 26: one piece of 4.
    const six = keepLargestComponents(edge);
    expect([at(six, 0, 0, 0), at(six, 1, 1, 0), at(six, 1, 1, 1), at(six, 2, 2, 1)]).toEqual([0, 1, 1, 0]);
    const all = keepLargestComponents(edge, { connectivity: 26 });
    expect(all.data).toEqual(edge.data);
    const corner = vol([2, 2, 2], [[0, 0, 0, 3], [1, 1, 1, 3]]);
    expect([...keepLargestComponents(corner, { connectivity: 26 }).data].filter((v) => v === 3)).toHaveLength(2);
    // A tie keeps the first component in voxel order.
    expect([...keepLargestComponents(corner).data]).toEqual([3, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('cleans only the requested labels and treats each frame on its own', () => {
    const v = vol([5, 1, 1], [[0, 0, 0, 1], [2, 0, 0, 1], [3, 0, 0, 1], [4, 0, 0, 2]], 2, Int16Array);
    v.data[5 + 1] = 1; // frame 1: an extra RV voxel at i=1 joins (0) to (2,3)
    const out = keepLargestComponents(v, { labels: [1, 9] });
    expect(out.data).toBeInstanceOf(Int16Array);
    expect([...out.data]).toEqual([0, 0, 1, 1, 2, 1, 1, 1, 1, 2]);
    expect([...keepLargestComponents(v, { labels: [2] }).data]).toEqual([...v.data]);
  });

  it('rejects bad input with a reason', () => {
    const v = vol([2, 2, 1], [[0, 0, 0, 1]]);
    expect(() => keepLargestComponents(v, { connectivity: 8 as 6 })).toThrow(/connectivity must be 6 or 26/);
    expect(() => keepLargestComponents({ ...v, data: new Float32Array([0, 0.5, 0, 0]) })).toThrow(/0\.5/);
    expect(() => keepLargestComponentsInPlace(new Uint8Array(3), [2, 2, 1], 1)).toThrow(/3 voxels do not fill 2x2x1/);
  });
});
