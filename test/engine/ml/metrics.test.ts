import { describe, expect, it } from 'vitest';
import { dice, diceFromCounts, labelCounts } from '../../../main/ml/metrics/dice.js';
import { squaredEdt } from '../../../main/ml/metrics/edt.js';
import type { Grid } from '../../../main/ml/metrics/grid.js';
import { maxLabel } from '../../../main/ml/metrics/grid.js';
import { surface, surfaceDistance } from '../../../main/ml/metrics/hausdorff.js';
import { percentileInPlace } from '../../../main/ml/metrics/percentile.js';

/** A label map on `grid` with `value` at the listed (i, j, k) voxels. */
function mapWith(grid: Grid, voxels: [number, number, number][], value = 1): Uint8Array {
  const [nx, ny] = grid.dims;
  const out = new Uint8Array(grid.dims[0] * grid.dims[1] * grid.dims[2]);
  for (const [i, j, k] of voxels) out[(k * ny + j) * nx + i] = value;
  return out;
}

function box(lo: [number, number, number], hi: [number, number, number]): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let k = lo[2]; k <= hi[2]; k++) for (let j = lo[1]; j <= hi[1]; j++) for (let i = lo[0]; i <= hi[0]; i++) out.push([i, j, k]);
  return out;
}

/** Deterministic pseudo-random numbers for the brute-force comparisons. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('Dice', () => {
  it('follows 2|A∩B|/(|A|+|B|), with 1 for two empty masks and 0 when exactly one is empty', () => {
    expect(diceFromCounts(0, 0, 0)).toBe(1);
    expect(diceFromCounts(5, 0, 0)).toBe(0);
    expect(diceFromCounts(0, 3, 0)).toBe(0);
    expect(diceFromCounts(4, 2, 2)).toBeCloseTo(2 / 3, 12);
    const a = new Uint8Array([0, 1, 1, 1, 1, 0]);
    const b = new Uint8Array([0, 0, 1, 1, 0, 0]);
    expect(dice(a, b)).toBeCloseTo(2 / 3, 12);
    expect(dice(a, a)).toBe(1);
    expect(dice(new Uint8Array(6), new Uint8Array(6))).toBe(1);
    expect(dice(new Uint8Array(6), b)).toBe(0);
    // One-voxel masks: equal → 1, disjoint → 0.
    expect(dice(new Uint8Array([0, 1, 0]), new Uint8Array([0, 1, 0]))).toBe(1);
    expect(dice(new Uint8Array([0, 1, 0]), new Uint8Array([0, 0, 1]))).toBe(0);
  });

  it('counts every label in one pass (any number of labels)', () => {
    const pred = new Uint8Array([0, 1, 1, 2, 2, 2, 3, 5]);
    const ref = new Uint8Array([0, 1, 2, 2, 2, 3, 3, 0]);
    const c = labelCounts(pred, ref, 5);
    expect([...c.pred]).toEqual([1, 2, 3, 1, 0, 1]);
    expect([...c.ref]).toEqual([2, 1, 3, 2, 0, 0]);
    expect([...c.intersection]).toEqual([1, 1, 2, 1, 0, 0]);
    expect(diceFromCounts(c.pred[2]!, c.ref[2]!, c.intersection[2]!)).toBeCloseTo(4 / 6, 12);
    expect(diceFromCounts(c.pred[4]!, c.ref[4]!, c.intersection[4]!)).toBe(1); // absent from both
    expect(diceFromCounts(c.pred[5]!, c.ref[5]!, c.intersection[5]!)).toBe(0); // false positive only
    expect(() => labelCounts(pred, ref.subarray(1), 5)).toThrow(/8 voxels, reference 7/);
  });

  it('rejects maps that are not integer labels, naming the value', () => {
    expect(maxLabel(new Float32Array([0, 1, 3, 2]))).toBe(3);
    expect(() => maxLabel(new Float32Array([0, 1.5]), 'pred.nii')).toThrow(/pred\.nii holds the value 1\.5 at voxel 1/);
    expect(() => maxLabel(new Int16Array([0, -1]))).toThrow(/-1/);
    expect(maxLabel(new Uint16Array([65535]))).toBe(65535);
    expect(() => maxLabel(new Int32Array([0, 1e6]))).toThrow(/1000000 at voxel 1: labels must be integers in 0\.\.65535/);
    expect(() => maxLabel(new Float32Array([NaN]))).toThrow(/NaN/);
  });
});

describe('percentile (NumPy linear interpolation)', () => {
  it('interpolates between the two nearest ranks', () => {
    expect(percentileInPlace(new Float64Array([3, 1, 2, 4]), 50)).toBe(2.5);
    expect(percentileInPlace(new Float64Array([0, 10]), 95)).toBeCloseTo(9.5, 12);
    expect(percentileInPlace(new Float64Array([7]), 95)).toBe(7);
    expect(percentileInPlace(new Float64Array([5, 1, 9]), 100)).toBe(9);
    expect(percentileInPlace(new Float64Array([5, 1, 9]), 0)).toBe(1);
    expect(percentileInPlace(new Float64Array(0), 95)).toBeNaN();
    expect(() => percentileInPlace(new Float64Array([1]), 101)).toThrow(/101/);
  });
});

describe('exact Euclidean distance transform', () => {
  it('gives squared physical distances on an anisotropic grid', () => {
    const grid: Grid = { dims: [3, 3, 3], spacing: [1.5, 2, 10] };
    const d = squaredEdt(mapWith(grid, [[0, 0, 0]]), grid);
    expect(d[0]).toBe(0);
    expect(d[1]).toBeCloseTo(1.5 ** 2, 12); // (1,0,0)
    expect(d[3]).toBeCloseTo(2 ** 2, 12); // (0,1,0)
    expect(d[9]).toBeCloseTo(10 ** 2, 12); // (0,0,1)
    expect(d[26]).toBeCloseTo(3 ** 2 + 4 ** 2 + 20 ** 2, 12); // (2,2,2)
  });

  it('is Infinity everywhere without a feature', () => {
    const grid: Grid = { dims: [4, 3, 2], spacing: [1, 1, 1] };
    expect([...squaredEdt(new Uint8Array(24), grid)].every((v) => v === Infinity)).toBe(true);
  });

  it('matches brute force on random sparse features', () => {
    const rand = lcg(7);
    const grid: Grid = { dims: [13, 9, 6], spacing: [0.7, 1.3, 4.5] };
    const [nx, ny, nz] = grid.dims;
    for (let trial = 0; trial < 4; trial++) {
      const f = new Uint8Array(nx * ny * nz);
      const pts: [number, number, number][] = [];
      for (let p = 0; p < f.length; p++) {
        if (rand() < 0.03 * (trial + 1)) {
          f[p] = 1;
          pts.push([p % nx, Math.floor(p / nx) % ny, Math.floor(p / (nx * ny))]);
        }
      }
      const d = squaredEdt(f, grid);
      for (let p = 0; p < f.length; p++) {
        const i = p % nx;
        const j = Math.floor(p / nx) % ny;
        const k = Math.floor(p / (nx * ny));
        let best = Infinity;
        for (const [a, b, c] of pts) {
          best = Math.min(best, ((i - a) * 0.7) ** 2 + ((j - b) * 1.3) ** 2 + ((k - c) * 4.5) ** 2);
        }
        expect(d[p]).toBeCloseTo(best, 9);
      }
    }
  });
});

describe('surface voxels (6-connected boundary)', () => {
  it('keeps the voxels with a face neighbour outside the mask; the grid edge counts as outside', () => {
    const grid: Grid = { dims: [5, 5, 5], spacing: [1, 1, 1] };
    expect(surface(mapWith(grid, box([1, 1, 1], [3, 3, 3])), grid).count).toBe(26); // all but the centre
    const full: Grid = { dims: [4, 4, 4], spacing: [1, 1, 1] };
    expect(surface(new Uint8Array(64).fill(1), full).count).toBe(64 - 8); // only the 2x2x2 core is interior
    expect(surface(mapWith(grid, [[2, 2, 2]]), grid).count).toBe(1);
  });
});

describe('HD95 and Hausdorff distance (mm, MedPy convention)', () => {
  const aniso: Grid = { dims: [6, 6, 5], spacing: [1.5, 1.5, 10] };

  it('is NaN for two empty masks and Infinity when exactly one is empty, with the reason', () => {
    const empty = new Uint8Array(6 * 6 * 5);
    const one = mapWith(aniso, [[2, 2, 2]]);
    expect(surfaceDistance(empty, empty, aniso)).toEqual({ hd95: NaN, hd: NaN, empty: 'both' });
    expect(surfaceDistance(empty, one, aniso)).toEqual({ hd95: Infinity, hd: Infinity, empty: 'prediction' });
    expect(surfaceDistance(one, empty, aniso)).toEqual({ hd95: Infinity, hd: Infinity, empty: 'reference' });
  });

  it('is 0 between identical masks, including one-voxel masks', () => {
    const one = mapWith(aniso, [[2, 2, 2]]);
    expect(surfaceDistance(one, one, aniso)).toEqual({ hd95: 0, hd: 0 });
    const cube = mapWith(aniso, box([1, 1, 1], [4, 4, 3]));
    expect(surfaceDistance(cube, cube, aniso)).toEqual({ hd95: 0, hd: 0 });
  });

  it('measures single voxels apart with the anisotropic spacing', () => {
    const a = mapWith(aniso, [[2, 2, 1]]);
    expect(surfaceDistance(a, mapWith(aniso, [[2, 2, 2]]), aniso).hd95).toBeCloseTo(10, 12); // one slice along k
    expect(surfaceDistance(a, mapWith(aniso, [[3, 2, 1]]), aniso).hd95).toBeCloseTo(1.5, 12); // one column along i
    expect(surfaceDistance(a, mapWith(aniso, [[3, 3, 2]]), aniso).hd95).toBeCloseTo(Math.sqrt(1.5 ** 2 + 1.5 ** 2 + 100), 12);
    expect(surfaceDistance(a, mapWith(aniso, [[2, 2, 4]]), aniso).hd).toBeCloseTo(30, 12);
  });

  it('a 3x3x3 cube against the same cube one slice further along k', () => {
    // Each directed set: 16 surface voxels shared with the other surface (0 mm), the 9 voxels of the outer
    // k-face one slice (10 mm) from the other cube's face, and the face centre that is the other cube's
    // interior voxel, 1.5 mm from the other surface. Union: 32 × 0, 2 × 1.5, 18 × 10 → HD95 at rank 48.45 = 10.
    const grid: Grid = { dims: [7, 7, 7], spacing: [1.5, 1.5, 10] };
    const a = mapWith(grid, box([2, 2, 1], [4, 4, 3]));
    const b = mapWith(grid, box([2, 2, 2], [4, 4, 4]));
    expect(surfaceDistance(a, b, grid)).toEqual({ hd95: 10, hd: 10 });
    // The same shift along i costs only 1.5 mm.
    const c = mapWith(grid, box([3, 2, 1], [5, 4, 3]));
    const r = surfaceDistance(a, c, grid);
    expect(r.hd95).toBeCloseTo(1.5, 12);
    expect(r.hd).toBeCloseTo(1.5, 12);
  });

  it('takes the percentile of the union of both directed sets (an outlier voxel moves HD but barely HD95)', () => {
    // Reference: a line of 8 voxels along i. Prediction: the same line plus one stray voxel 5 rows away
    // (7.5 mm). Union: 8 + 8 zeros and one 7.5 → 17 values, rank 0.95·16 = 15.2 → 0.2 × 7.5 = 1.5 mm.
    // (MONAI's max of directed 95th percentiles would give 0.6 × 7.5 = 4.5 mm here.)
    const grid: Grid = { dims: [10, 8, 1], spacing: [1.5, 1.5, 10] };
    const line: [number, number, number][] = box([1, 1, 0], [8, 1, 0]);
    const ref = mapWith(grid, line);
    const pred = mapWith(grid, [...line, [3, 6, 0]]);
    const r = surfaceDistance(pred, ref, grid);
    expect(r.hd95).toBeCloseTo(1.5, 12);
    expect(r.hd).toBeCloseTo(7.5, 12);
  });

  it('evaluates one label of a multi-label map', () => {
    const grid: Grid = { dims: [5, 5, 3], spacing: [1, 1, 1] };
    const pred = mapWith(grid, [[1, 1, 1]], 2);
    const ref = mapWith(grid, [[1, 3, 1]], 2);
    pred[0] = 1; // another label, ignored for label 2
    expect(surfaceDistance(pred, ref, grid, 2).hd95).toBeCloseTo(2, 12);
    expect(surfaceDistance(pred, ref, grid, 1).empty).toBe('reference');
  });

  it('matches brute force over the surfaces of random blobs (anisotropic, masks touching the edge)', () => {
    const rand = lcg(42);
    const grid: Grid = { dims: [12, 10, 5], spacing: [1.25, 0.8, 6] };
    const [nx, ny, nz] = grid.dims;
    const n = nx * ny * nz;
    const coords = (p: number) => [(p % nx) * 1.25, (Math.floor(p / nx) % ny) * 0.8, Math.floor(p / (nx * ny)) * 6] as const;
    for (let trial = 0; trial < 5; trial++) {
      const a = new Uint8Array(n);
      const b = new Uint8Array(n);
      for (let p = 0; p < n; p++) {
        const [x, y] = coords(p);
        a[p] = (x - 6) ** 2 + (y - 4) ** 2 < 12 + 6 * rand() ? 1 : 0;
        b[p] = (x - 7 - trial) ** 2 + (y - 3.5) ** 2 < 10 + 8 * rand() || rand() < 0.01 ? 1 : 0;
      }
      const sa = surface(a, grid).mask;
      const sb = surface(b, grid).mask;
      const directed = (from: Uint8Array, to: Uint8Array) => {
        const out: number[] = [];
        for (let p = 0; p < n; p++) {
          if (!from[p]) continue;
          const [x, y, z] = coords(p);
          let best = Infinity;
          for (let q = 0; q < n; q++) {
            if (!to[q]) continue;
            const [u, v, w] = coords(q);
            best = Math.min(best, Math.hypot(x - u, y - v, z - w));
          }
          out.push(best);
        }
        return out;
      };
      const all = Float64Array.from([...directed(sa, sb), ...directed(sb, sa)]);
      const hd = Math.max(...all);
      const hd95 = percentileInPlace(all, 95);
      const r = surfaceDistance(a, b, grid);
      expect(r.hd).toBeCloseTo(hd, 9);
      expect(r.hd95).toBeCloseTo(hd95, 9);
    }
  });

  it('rejects a map that does not fill its grid', () => {
    expect(() => surfaceDistance(new Uint8Array(10), new Uint8Array(10), aniso)).toThrow(/10 voxels do not fill a 6x6x5 grid/);
    expect(() => surfaceDistance(new Uint8Array(180), new Uint8Array(180), { dims: [6, 6, 5], spacing: [1, 0, 1] })).toThrow(/spacing/);
  });
});
