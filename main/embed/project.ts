import { UMAP } from 'umap-js';
import { Rng } from '../ml/augment/rng.js';
import { percentiles } from '../io/resample.js';
import { plane2d } from './colormap.js';
import type { SliceEmbedding } from './compute.js';
import { fitPca, projectPca } from './pca.js';

/**
 * 2D projections of pixel embeddings painted back in image space (paper Fig. 4).
 *
 * A seeded random sample of the pixels of all given slices (at most `sample`) is projected: PCA (instant)
 * or UMAP (umap-js, epoch by epoch so progress is reported and cancellation is honoured between epochs).
 * The 2D coordinates are scaled robustly into the unit disc and coloured by `plane2d`. Every pixel that is
 * not in the sample takes the colour of its *representative*: among the sampled pixels of the same slice
 * nearest in the image (the first rings around it holding at least a few), the one most similar in
 * embedding space. So colours follow embedding similarity, not image position, and the cost stays linear
 * in the number of pixels. `representative` is returned too, so the UI links any pixel to a scatter point.
 *
 * PCA to RGB (first three components, each stretched between its 1st and 99th percentile) is computed
 * alongside as the instant preview.
 */

export type ProjectionMethod = 'pca' | 'umap';

export interface ProjectProgress {
  stage: 'sample' | 'pca' | 'neighbours' | 'layout' | 'place' | 'paint';
  done: number;
  total: number | null;
}

export interface ProjectOptions {
  method: ProjectionMethod;
  /** Maximum number of projected pixels over all slices (default 20,000). */
  sample?: number;
  seed?: number;
  signal?: AbortSignal;
  onProgress?: (p: ProjectProgress) => void;
  /** UMAP settings (umap-js defaults otherwise; epochs default 200). */
  umap?: { nNeighbors?: number; minDist?: number; nEpochs?: number };
  /**
   * Embedding dimensions kept (by PCA) for UMAP's neighbour search and the placement of non-landmark points
   * (default 16; 0 keeps all). Both scale with the dimension; the leading components carry most of the
   * variance of these embeddings.
   */
  umapDims?: number;
  /**
   * Points UMAP lays out itself (default 1,000); the other sampled points are placed from their nearest
   * landmarks. umap-js on all 20,000 points took 180 s on this (loaded, 2-core) machine, 2,000 landmarks
   * 26 s, 1,000 landmarks about half that: landmarks are what keeps 20,000 points within seconds.
   */
  landmarks?: number;
}

export interface SliceProjection {
  dims: [number, number];
  /** Colour of the 2D projection painted back, RGB, i fastest. */
  rgb: Uint8Array;
  /** PCA-to-RGB preview, RGB, i fastest. */
  pcaRgb: Uint8Array;
  /** For every pixel, the index of the scatter point that represents it (itself when sampled). */
  representative: Int32Array;
}

export interface Projection {
  method: ProjectionMethod;
  slices: SliceProjection[];
  /** The scatter: slice index, pixel index (j * ni + i), 2D coordinates in [-1, 1]², colour. */
  points: { slice: Int32Array; pixel: Int32Array; x: Float32Array; y: Float32Array; rgb: Uint8Array };
  /** Fraction of the embedding variance the first two (PCA) components explain. */
  pcaExplained: number;
}

function abortError(): Error {
  const e = new Error('projection cancelled');
  e.name = 'AbortError';
  return e;
}

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

/** Seeded sample of (slice, pixel) pairs, at most `max`, without repetition, sorted by slice then pixel. */
export function samplePixels(sizes: number[], max: number, seed: number): { slice: Int32Array; pixel: Int32Array } {
  const total = sizes.reduce((a, b) => a + b, 0);
  const m = Math.min(max, total);
  const picked = new Int32Array(m);
  if (m === total) for (let n = 0; n < m; n++) picked[n] = n;
  else {
    // Floyd's algorithm: m distinct draws from [0, total) without materialising a permutation of total.
    const chosen = new Set<number>();
    const rng = new Rng(seed);
    for (let j = total - m; j < total; j++) {
      const t = rng.int(j + 1);
      chosen.add(chosen.has(t) ? j : t);
    }
    let n = 0;
    for (const x of chosen) picked[n++] = x;
    picked.sort();
  }
  const slice = new Int32Array(m);
  const pixel = new Int32Array(m);
  let s = 0;
  let base = 0;
  for (let n = 0; n < m; n++) {
    while (picked[n]! >= base + sizes[s]!) base += sizes[s++]!;
    slice[n] = s;
    pixel[n] = picked[n]! - base;
  }
  return { slice, pixel };
}

function vectorOf(e: SliceEmbedding, p: number, out: Float32Array): void {
  const n = e.dims[0] * e.dims[1];
  for (let c = 0; c < e.channels; c++) out[c] = e.data[c * n + p]!;
}

/** Robust scaling of 2D points into the unit disc: centred on the median, radius = 98th percentile. */
function toUnitDisc(x: Float32Array, y: Float32Array): void {
  const [mx] = percentiles(x, [50]) as [number];
  const [my] = percentiles(y, [50]) as [number];
  const r = new Float32Array(x.length);
  for (let n = 0; n < x.length; n++) {
    x[n] = x[n]! - mx;
    y[n] = y[n]! - my;
    r[n] = Math.hypot(x[n]!, y[n]!);
  }
  const [rmax] = percentiles(r, [98]) as [number];
  const s = rmax > 0 ? 1 / rmax : 1;
  for (let n = 0; n < x.length; n++) {
    x[n] = Math.min(1, Math.max(-1, x[n]! * s));
    y[n] = Math.min(1, Math.max(-1, y[n]! * s));
  }
}

export async function projectEmbeddings(embeddings: SliceEmbedding[], opts: ProjectOptions): Promise<Projection> {
  if (embeddings.length === 0) throw new RangeError('no slices to project');
  const D = embeddings[0]!.channels;
  if (embeddings.some((e) => e.channels !== D)) throw new RangeError('the slices were embedded by models of different sizes');
  const progress = opts.onProgress ?? (() => undefined);
  const check = () => {
    if (opts.signal?.aborted) throw abortError();
  };
  const seed = opts.seed ?? 1;
  const sizes = embeddings.map((e) => e.dims[0] * e.dims[1]);
  progress({ stage: 'sample', done: 0, total: 1 });
  const sample = samplePixels(sizes, Math.max(2, opts.sample ?? 20_000), seed);
  const m = sample.slice.length;
  if (m < 2) throw new RangeError('too few pixels to project');
  progress({ stage: 'sample', done: 1, total: 1 });
  check();

  progress({ stage: 'pca', done: 0, total: 1 });
  const pca = fitPca(m, D, (n, out) => vectorOf(embeddings[sample.slice[n]!]!, sample.pixel[n]!, out));
  const totalVar = pca.variances.reduce((a, b) => a + b, 0);
  const pcaExplained = totalVar > 0 ? (pca.variances[0]! + (pca.variances[1] ?? 0)) / totalVar : 0;
  progress({ stage: 'pca', done: 1, total: 1 });
  check();

  const x = new Float32Array(m);
  const y = new Float32Array(m);
  const v = new Float32Array(D);
  const two = new Float32Array(2);
  if (opts.method === 'pca') {
    for (let n = 0; n < m; n++) {
      vectorOf(embeddings[sample.slice[n]!]!, sample.pixel[n]!, v);
      projectPca(pca, v, Math.min(2, D), two);
      x[n] = two[0]!;
      y[n] = two[1] ?? 0;
    }
  } else {
    await umapLayout(embeddings, sample, pca, opts, x, y, progress, check);
  }
  check();
  toUnitDisc(x, y);

  progress({ stage: 'paint', done: 0, total: embeddings.length });
  const rgb = new Uint8Array(m * 3);
  for (let n = 0; n < m; n++) rgb.set(plane2d(x[n]!, -y[n]!), n * 3);
  const slices: SliceProjection[] = [];
  let start = 0;
  for (let s = 0; s < embeddings.length; s++) {
    let end = start;
    while (end < m && sample.slice[end] === s) end++;
    const e = embeddings[s]!;
    const representative = representatives(e, sample.pixel.subarray(start, end), start);
    const n = sizes[s]!;
    const img = new Uint8Array(n * 3);
    for (let p = 0; p < n; p++) {
      const r = representative[p]!;
      if (r >= 0) img.set(rgb.subarray(r * 3, r * 3 + 3), p * 3);
    }
    slices.push({ dims: e.dims, rgb: img, pcaRgb: pcaToRgb(e, pca), representative });
    start = end;
    progress({ stage: 'paint', done: s + 1, total: embeddings.length });
    check();
    await yieldToLoop();
  }
  return { method: opts.method, slices, points: { ...sample, x, y, rgb }, pcaExplained };
}

/** Fewest sampled neighbours a pixel chooses its representative from (rings grow until there are this many). */
const MIN_CANDIDATES = 4;

/**
 * For each pixel of the slice: the global point index of its representative (see the module comment), or -1
 * when the slice has no sampled pixel at all.
 */
export function representatives(e: SliceEmbedding, sampled: Int32Array, firstPoint: number): Int32Array {
  const [ni, nj] = e.dims;
  const n = ni * nj;
  const out = new Int32Array(n).fill(-1);
  if (sampled.length === 0) return out;
  for (let k = 0; k < sampled.length; k++) out[sampled[k]!] = firstPoint + k;
  const maxR = Math.max(ni, nj);
  for (let p = 0; p < n; p++) {
    if (out[p]! >= 0 && sampled[out[p]! - firstPoint] === p) continue;
    const i0 = p % ni;
    const j0 = (p - i0) / ni;
    let best = -1;
    let bestSim = -Infinity;
    let found = 0;
    for (let r = 1; r <= maxR && found < MIN_CANDIDATES; r++) {
      const jLo = Math.max(0, j0 - r);
      const jHi = Math.min(nj - 1, j0 + r);
      for (let j = jLo; j <= jHi; j++) {
        const edgeRow = j === j0 - r || j === j0 + r;
        const step = edgeRow ? 1 : 2 * r;
        for (let i = i0 - r; i <= i0 + r; i += step) {
          if (i < 0 || i >= ni) continue;
          const q = j * ni + i;
          const pt = out[q]!;
          if (pt < 0 || sampled[pt - firstPoint] !== q) continue;
          found++;
          let s = 0;
          for (let c = 0; c < e.channels; c++) s += e.data[c * n + p]! * e.data[c * n + q]!;
          if (s > bestSim) {
            bestSim = s;
            best = pt;
          }
        }
      }
    }
    out[p] = best;
  }
  return out;
}

/** First three principal components of every pixel, each stretched between its 1st and 99th percentile. */
function pcaToRgb(e: SliceEmbedding, pca: ReturnType<typeof fitPca>): Uint8Array {
  const n = e.dims[0] * e.dims[1];
  const k = Math.min(3, pca.dims);
  const comps = new Float32Array(n * 3);
  const v = new Float32Array(e.channels);
  for (let p = 0; p < n; p++) {
    vectorOf(e, p, v);
    projectPca(pca, v, k, comps, p * 3);
  }
  const out = new Uint8Array(n * 3);
  for (let c = 0; c < k; c++) {
    const ch = new Float32Array(n);
    for (let p = 0; p < n; p++) ch[p] = comps[p * 3 + c]!;
    const [lo, hi] = percentiles(ch, [1, 99]) as [number, number];
    const s = hi > lo ? 255 / (hi - lo) : 0;
    for (let p = 0; p < n; p++) out[p * 3 + c] = Math.round(Math.min(255, Math.max(0, (ch[p]! - lo) * s)));
  }
  return out;
}

/** Exact k nearest neighbours (squared Euclidean in `vecs`, rows of `dim`) of `queries` among `refs`. */
function nearest(vecs: Float32Array, dim: number, queries: ArrayLike<number>, refs: ArrayLike<number>, k: number, onRow?: (n: number) => void) {
  const idx = new Int32Array(queries.length * k);
  const dist = new Float32Array(queries.length * k);
  const bestD = new Float64Array(k);
  const bestI = new Int32Array(k);
  for (let qn = 0; qn < queries.length; qn++) {
    const qo = queries[qn]! * dim;
    bestD.fill(Infinity);
    bestI.fill(-1);
    for (let rn = 0; rn < refs.length; rn++) {
      const ro = refs[rn]! * dim;
      // Leading PCA coordinates carry the most variance, so a partial sum usually exceeds the current k-th
      // best early: stop there.
      const bound = bestD[k - 1]!;
      let d = 0;
      for (let c = 0; c < dim && d < bound; c++) {
        const t = vecs[qo + c]! - vecs[ro + c]!;
        d += t * t;
      }
      if (d >= bound) continue;
      let pos = k - 1;
      while (pos > 0 && bestD[pos - 1]! > d) {
        bestD[pos] = bestD[pos - 1]!;
        bestI[pos] = bestI[pos - 1]!;
        pos--;
      }
      bestD[pos] = d;
      bestI[pos] = rn;
    }
    for (let t = 0; t < k; t++) {
      idx[qn * k + t] = bestI[t]!;
      dist[qn * k + t] = Math.sqrt(bestD[t]!);
    }
    if (onRow && qn % 1000 === 999) onRow(qn + 1);
  }
  return { idx, dist };
}

/**
 * UMAP on landmarks, the rest placed from them. Landmarks: a seeded random subset of the sample; their exact
 * k-NN (in the PCA-reduced space) goes to umap-js as precomputed neighbours, which skips its slower
 * approximate search. Every other point lands at the weighted mean of its nearest landmarks' positions,
 * weights exp(-(d - d_nearest) / spread): the nearest dominates, ties share (UMAP's own transform does the
 * same kind of averaging, with its fuzzy weights).
 */
async function umapLayout(
  embeddings: SliceEmbedding[],
  sample: { slice: Int32Array; pixel: Int32Array },
  pca: ReturnType<typeof fitPca>,
  opts: ProjectOptions,
  x: Float32Array,
  y: Float32Array,
  progress: (p: ProjectProgress) => void,
  check: () => void,
): Promise<void> {
  const m = sample.slice.length;
  const D = pca.dims;
  const dim = opts.umapDims === 0 ? D : Math.min(D, opts.umapDims ?? 16);
  const vecs = new Float32Array(m * dim);
  const v = new Float32Array(D);
  for (let n = 0; n < m; n++) {
    vectorOf(embeddings[sample.slice[n]!]!, sample.pixel[n]!, v);
    projectPca(pca, v, dim, vecs, n * dim);
  }
  const seed = opts.seed ?? 1;
  const L = Math.min(m, Math.max(3, opts.landmarks ?? 1000));
  const perm = new Rng(seed ^ 0x1a4d).permutation(m);
  const landmarks = perm.subarray(0, L);
  const nNeighbors = Math.min(opts.umap?.nNeighbors ?? 15, L - 1);
  progress({ stage: 'neighbours', done: 0, total: L });
  await yieldToLoop();
  check();
  const knn = nearest(vecs, dim, landmarks, landmarks, nNeighbors, (n) => progress({ stage: 'neighbours', done: n, total: L }));
  const knnIndices: number[][] = [];
  const knnDistances: number[][] = [];
  for (let n = 0; n < L; n++) {
    knnIndices.push(Array.from(knn.idx.subarray(n * nNeighbors, (n + 1) * nNeighbors)));
    knnDistances.push(Array.from(knn.dist.subarray(n * nNeighbors, (n + 1) * nNeighbors)));
  }
  progress({ stage: 'neighbours', done: L, total: L });
  check();
  const rng = new Rng(seed ^ 0x5eed);
  const umap = new UMAP({ nComponents: 2, nNeighbors, minDist: opts.umap?.minDist ?? 0.1, nEpochs: opts.umap?.nEpochs ?? 200, random: () => rng.next() });
  umap.setPrecomputedKNN(knnIndices, knnDistances);
  const rows: number[][] = [];
  for (let n = 0; n < L; n++) rows.push(Array.from(vecs.subarray(landmarks[n]! * dim, (landmarks[n]! + 1) * dim)));
  const epochs = umap.initializeFit(rows);
  for (let e = 0; e < epochs; e++) {
    check();
    umap.step();
    if (e % 10 === 9 || e === epochs - 1) {
      progress({ stage: 'layout', done: e + 1, total: epochs });
      await yieldToLoop();
    }
  }
  const coords = umap.getEmbedding();
  const isLandmark = new Int32Array(m).fill(-1);
  for (let n = 0; n < L; n++) {
    isLandmark[landmarks[n]!] = n;
    x[landmarks[n]!] = coords[n]![0]!;
    y[landmarks[n]!] = coords[n]![1]!;
  }
  const rest = Int32Array.from(perm.subarray(L));
  if (rest.length === 0) return;
  const K = Math.min(8, L);
  progress({ stage: 'place', done: 0, total: rest.length });
  await yieldToLoop();
  check();
  const nn = nearest(vecs, dim, rest, landmarks, K, (n) => progress({ stage: 'place', done: n, total: rest.length }));
  for (let r = 0; r < rest.length; r++) {
    const d0 = nn.dist[r * K]!;
    let mean = 0;
    for (let t = 0; t < K; t++) mean += nn.dist[r * K + t]!;
    const spread = Math.max(mean / K - d0, 1e-6);
    let wx = 0;
    let wy = 0;
    let ws = 0;
    for (let t = 0; t < K; t++) {
      const w = Math.exp(-(nn.dist[r * K + t]! - d0) / spread);
      const c = coords[nn.idx[r * K + t]!]!;
      wx += w * c[0]!;
      wy += w * c[1]!;
      ws += w;
    }
    x[rest[r]!] = wx / ws;
    y[rest[r]!] = wy / ws;
  }
  progress({ stage: 'place', done: rest.length, total: rest.length });
}
