import type { SliceEmbedding } from './compute.js';

/**
 * Cosine similarity maps. Embeddings arrive unit-normalised (normalizeEmbedding, once per slice when it is
 * loaded), so a map is one dot product per pixel, accumulated over planar data a few channels at a time:
 * tight loops over contiguous arrays whose cost is reading the embedding once.
 */

export interface SimilarityMap {
  dims: [number, number];
  /** Cosine similarity of every pixel with the query, in [-1, 1], i fastest. */
  values: Float32Array;
  /** Pixel (i, j) of the highest similarity and its value. */
  best: { at: [number, number]; value: number };
}

/** Similarity of every pixel of `e` with the unit vector `query`. */
export function similarityMap(e: SliceEmbedding, query: Float32Array): SimilarityMap {
  if (query.length !== e.channels) throw new RangeError(`query has ${query.length} channels, the embedding ${e.channels}`);
  const n = e.dims[0] * e.dims[1];
  const out = new Float32Array(n);
  const d = e.data;
  const D = e.channels;
  let c = 0;
  // Four channels per pass: the map is read and written D/4 times instead of D (3x faster, measured).
  for (; c + 4 <= D; c += 4) {
    const q0 = query[c]!;
    const q1 = query[c + 1]!;
    const q2 = query[c + 2]!;
    const q3 = query[c + 3]!;
    const o0 = c * n;
    const o1 = o0 + n;
    const o2 = o1 + n;
    const o3 = o2 + n;
    for (let p = 0; p < n; p++) out[p] = out[p]! + q0 * d[o0 + p]! + q1 * d[o1 + p]! + q2 * d[o2 + p]! + q3 * d[o3 + p]!;
  }
  for (; c < D; c++) {
    const q = query[c]!;
    const o = c * n;
    for (let p = 0; p < n; p++) out[p] = out[p]! + q * d[o + p]!;
  }
  return finishMap(e.dims, out);
}

/** Clamps a raw cosine map into [-1, 1] (in place) and finds its best pixel. */
export function finishMap(dims: [number, number], out: Float32Array): SimilarityMap {
  const n = out.length;
  let best = 0;
  for (let p = 0; p < n; p++) {
    // Rounding of unit vectors can exceed 1 by an ulp or two: the contract promises [-1, 1].
    const v = out[p]!;
    if (v > 1) out[p] = 1;
    else if (v < -1) out[p] = -1;
    if (out[p]! > out[best]!) best = p;
  }
  return { dims, values: out, best: { at: [best % dims[0], Math.floor(best / dims[0])], value: out[best]! } };
}

/** Checks a query pixel against the slice grid and returns its linear index. */
export function pixelIndex(dims: [number, number], at: [number, number], what = 'query pixel'): number {
  const [i, j] = at;
  if (!Number.isInteger(i) || !Number.isInteger(j) || i < 0 || j < 0 || i >= dims[0] || j >= dims[1]) {
    throw new RangeError(`${what} (${i}, ${j}) is outside the ${dims[0]}x${dims[1]} slice`);
  }
  return j * dims[0] + i;
}
