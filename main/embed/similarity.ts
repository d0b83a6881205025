import type { SliceEmbedding } from './compute.js';

/**
 * Cosine similarity maps. Embeddings arrive unit-normalised (normalizeEmbedding, once per slice when it is
 * loaded), so a map is one dot product per pixel: channel-by-channel accumulation over planar data, which
 * the JIT turns into tight loops over contiguous arrays.
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
  for (let c = 0; c < e.channels; c++) {
    const q = query[c]!;
    if (q === 0) continue;
    const plane = e.data.subarray(c * n, (c + 1) * n);
    for (let p = 0; p < n; p++) out[p] = out[p]! + q * plane[p]!;
  }
  let best = 0;
  for (let p = 0; p < n; p++) {
    // Rounding of unit vectors can exceed 1 by an ulp or two: the contract promises [-1, 1].
    const v = out[p]!;
    if (v > 1) out[p] = 1;
    else if (v < -1) out[p] = -1;
    if (out[p]! > out[best]!) best = p;
  }
  return { dims: e.dims, values: out, best: { at: [best % e.dims[0], Math.floor(best / e.dims[0])], value: out[best]! } };
}

/** Checks a query pixel against the slice grid and returns its linear index. */
export function pixelIndex(dims: [number, number], at: [number, number], what = 'query pixel'): number {
  const [i, j] = at;
  if (!Number.isInteger(i) || !Number.isInteger(j) || i < 0 || j < 0 || i >= dims[0] || j >= dims[1]) {
    throw new RangeError(`${what} (${i}, ${j}) is outside the ${dims[0]}x${dims[1]} slice`);
  }
  return j * dims[0] + i;
}
