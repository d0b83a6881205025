import { describe, expect, it } from 'vitest';
import { normalizeEmbedding, pixelVector, type SliceEmbedding } from '../../../main/embed/compute.js';
import { pixelIndex, similarityMap } from '../../../main/embed/similarity.js';
import { jacobiEigen } from '../../../main/embed/pca.js';
import { randomArray } from '../ml/cpu.js';

/** Planar embedding from per-pixel vectors. */
function planar(dims: [number, number], vectors: number[][]): SliceEmbedding {
  const n = dims[0] * dims[1];
  const D = vectors[0]!.length;
  const data = new Float32Array(D * n);
  vectors.forEach((v, p) => v.forEach((x, c) => (data[c * n + p] = x)));
  return { dims, channels: D, data };
}

describe('cosine similarity maps', () => {
  it('matches hand-computed cosines on a 2x2 slice', () => {
    // Pixels: (3,4), (4,-3) orthogonal, (-3,-4) opposite, (0,0) zero vector.
    const e = normalizeEmbedding(planar([2, 2], [[3, 4], [4, -3], [-3, -4], [0, 0]]));
    const m = similarityMap(e, pixelVector(e, 0));
    const close = (a: Float32Array, b: number[]) => a.forEach((x, n) => expect(x).toBeCloseTo(b[n]!, 6));
    close(m.values, [1, 0, -1, 0]);
    expect(m.best).toEqual({ at: [0, 0], value: 1 });
    // Query (4,-3): cos with (3,4) is 0, with itself 1, with (-3,-4) is 0.
    const m2 = similarityMap(e, pixelVector(e, 1));
    close(m2.values, [0, 1, 0, 0]);
    expect(m2.best.at).toEqual([1, 0]);
  });

  it('a pixel with itself is 1 and every value lies in [-1, 1] (random 64-D embeddings)', () => {
    const dims: [number, number] = [37, 23];
    const n = dims[0] * dims[1];
    const e = normalizeEmbedding({ dims, channels: 64, data: randomArray(64 * n, 7, 5) });
    for (const p of [0, 100, n - 1]) {
      const m = similarityMap(e, pixelVector(e, p));
      expect(m.values[p]).toBeCloseTo(1, 6);
      expect(m.best.value).toBeCloseTo(1, 6);
      for (const v of m.values) {
        expect(v).toBeGreaterThanOrEqual(-1);
        expect(v).toBeLessThanOrEqual(1);
      }
      // Cosine of two independent random 64-D vectors is ~N(0, 1/64): the map is not trivially all ones.
      const mean = m.values.reduce((a, b) => a + b, 0) / n;
      expect(Math.abs(mean)).toBeLessThan(0.1);
    }
  });

  it('the best match of another slice is its most similar pixel', () => {
    const a = normalizeEmbedding(planar([2, 1], [[1, 0], [0, 1]]));
    const b = normalizeEmbedding(planar([3, 1], [[0, 1], [1, 1], [1, 0.1]]));
    const m = similarityMap(b, pixelVector(a, 0));
    expect(m.best.at).toEqual([2, 0]);
    expect(m.best.value).toBeCloseTo(1 / Math.hypot(1, 0.1), 6);
  });

  it('refuses a query pixel outside the slice, naming the slice size', () => {
    expect(() => pixelIndex([10, 8], [10, 0])).toThrow(/\(10, 0\) is outside the 10x8 slice/);
    expect(() => pixelIndex([10, 8], [-1, 2])).toThrow(/outside/);
    expect(pixelIndex([10, 8], [3, 2])).toBe(23);
  });
});

describe('PCA eigen-decomposition', () => {
  it('recovers the eigenpairs of a symmetric 3x3 matrix', () => {
    // [[2,1,0],[1,2,0],[0,0,5]]: eigenvalues 1, 3, 5.
    const { values, vectors } = jacobiEigen(Float64Array.from([2, 1, 0, 1, 2, 0, 0, 0, 5]), 3);
    expect(Array.from(values).sort((a, b) => a - b).map((v) => +v.toFixed(9))).toEqual([1, 3, 5]);
    const k3 = Array.from(values).findIndex((v) => Math.abs(v - 3) < 1e-9);
    const v3 = [0, 1, 2].map((r) => vectors[r * 3 + k3]!);
    expect(Math.abs(v3[0]!)).toBeCloseTo(Math.SQRT1_2, 9);
    expect(v3[0]! * v3[1]!).toBeGreaterThan(0);
    expect(v3[2]).toBeCloseTo(0, 9);
  });
});
