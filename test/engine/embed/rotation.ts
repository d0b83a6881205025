import { embedSlice, normalizeEmbedding, pixelVector, type SliceEmbedding } from '../../../main/embed/compute.js';
import { similarityMap } from '../../../main/embed/similarity.js';
import { normalizeIntensity } from '../../../main/io/resample.js';
import { IDENTITY, type Volume } from '../../../main/io/volume.js';
import type { Net } from '../../../main/ml/unet.js';
import { correlation, rot90, rot90At } from './fixture.js';

/**
 * How far a backbone's similarity maps follow a 90° rotation of the input. Rotations by 90° are exact on the
 * pixel grid (no interpolation), so any disagreement is the network's, not the resampling's.
 */
export interface RotationAgreement {
  /** Mean over the queries of the Pearson correlation between rot90(sim(x, q)) and sim(rot90 x, rot90 q). */
  meanCorrelation: number;
  /** Mean absolute difference between those two maps, over the pixels and the queries. */
  meanAbsDifference: number;
  /**
   * Fraction of the queries whose best match on a second slice y, rotated, lands within `k` pixels of the best
   * match of the rotated query on rot90(y) (the inspector's "best match in each other slice" marker).
   */
  bestMatchWithin: number;
  /** Mean cosine between a pixel's embedding and its rotated twin's, and between two unrelated pixels. */
  twinCosine: number;
  unrelatedCosine: number;
}

/** side² images (i fastest) as one volume whose spacing reaches the network unresampled. */
function volumeAt(slices: Float32Array[], side: number, spacingMm: number): Volume {
  const data = new Float32Array(side * side * slices.length);
  slices.forEach((s, k) => data.set(s, k * side * side));
  return { dims: [side, side, slices.length], frames: 1, spacing: [spacingMm, spacingMm, 8], origin: [0, 0, 0], direction: IDENTITY, data };
}

const argmax = (m: Float32Array): number => {
  let b = 0;
  for (let n = 1; n < m.length; n++) if (m[n]! > m[b]!) b = n;
  return b;
};

/** Queries on a regular 8×8 grid of cell centres over the slice. */
export function gridQueries(side: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const step = side / 8;
  for (let j = step / 2; j < side; j += step) for (let i = step / 2; i < side; i += step) out.push([Math.floor(i), Math.floor(j)]);
  return out;
}

export function rotationAgreement(net: Net, spacingMm: number, x: Float32Array, y: Float32Array, side: number, k = 3): RotationAgreement {
  const vol = volumeAt([x, rot90(x, side), y, rot90(y, side)], side, spacingMm);
  const norm = normalizeIntensity(vol.data);
  const e: SliceEmbedding[] = [0, 1, 2, 3].map((s) => normalizeEmbedding(embedSlice(net, { spacingMm }, vol, norm, s, 0)));
  const n = side * side;
  const queries = gridQueries(side);
  let corr = 0;
  let mad = 0;
  let near = 0;
  for (const at of queries) {
    const r = rot90At(at, side);
    const q = pixelVector(e[0]!, at[1] * side + at[0]);
    const qr = pixelVector(e[1]!, r[1] * side + r[0]);
    const rotated = rot90(similarityMap(e[0]!, q).values, side);
    const ofRotated = similarityMap(e[1]!, qr).values;
    corr += correlation(rotated, ofRotated);
    for (let p = 0; p < n; p++) mad += Math.abs(rotated[p]! - ofRotated[p]!);
    const a = argmax(rot90(similarityMap(e[2]!, q).values, side));
    const b = argmax(similarityMap(e[3]!, qr).values);
    if (Math.hypot((a % side) - (b % side), Math.floor(a / side) - Math.floor(b / side)) <= k) near++;
  }
  let twin = 0;
  let unrelated = 0;
  for (let p = 0; p < n; p++) {
    const [ri, rj] = rot90At([p % side, Math.floor(p / side)], side);
    const t = rj * side + ri;
    // A fixed pseudo-random partner (7919 is prime, so p ↦ partner is a permutation of the pixels).
    const u = (p * 7919 + 13) % n;
    for (let c = 0; c < e[0]!.channels; c++) {
      twin += e[0]!.data[c * n + p]! * e[1]!.data[c * n + t]!;
      unrelated += e[0]!.data[c * n + p]! * e[0]!.data[c * n + u]!;
    }
  }
  return {
    meanCorrelation: corr / queries.length,
    meanAbsDifference: mad / (queries.length * n),
    bestMatchWithin: near / queries.length,
    twinCosine: twin / n,
    unrelatedCosine: unrelated / n,
  };
}
