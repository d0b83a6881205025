import type { LabelArray } from './grid.js';

/**
 * Dice similarity coefficient, 2|A∩B| / (|A| + |B|), from voxel counts.
 *
 * Empty masks (a structure absent from a slice range, or from a whole prediction): Dice is **1 when both masks
 * are empty** (the prediction correctly says "not there") and **0 when exactly one is empty** (the formula
 * already gives 0 then). This matches the usual challenge convention and keeps per-structure means defined.
 */
export function diceFromCounts(predCount: number, refCount: number, intersection: number): number {
  const total = predCount + refCount;
  if (total === 0) return 1;
  return (2 * intersection) / total;
}

/** Per-label voxel counts of a prediction and a reference on the same grid, gathered in one pass. */
export interface LabelCounts {
  /** counts[label] for labels 0..maxLabel. */
  pred: Float64Array;
  ref: Float64Array;
  intersection: Float64Array;
}

/**
 * Counts voxels per label in both maps and their per-label overlap. Labels must be integers in 0..maxLabel
 * (see grid.maxLabel); the arrays must have the same length.
 */
export function labelCounts(pred: LabelArray, ref: LabelArray, maxLabel: number): LabelCounts {
  if (pred.length !== ref.length) throw new RangeError(`prediction has ${pred.length} voxels, reference ${ref.length}`);
  const size = maxLabel + 1;
  const cp = new Float64Array(size);
  const cr = new Float64Array(size);
  const ci = new Float64Array(size);
  const n = pred.length;
  for (let p = 0; p < n; p++) {
    const a = pred[p]!;
    const b = ref[p]!;
    cp[a]!++;
    cr[b]!++;
    if (a === b) ci[a]!++;
  }
  return { pred: cp, ref: cr, intersection: ci };
}

/** 3D Dice of one label (the voxels equal to `label` in each map). */
export function dice(pred: LabelArray, ref: LabelArray, label = 1): number {
  if (pred.length !== ref.length) throw new RangeError(`prediction has ${pred.length} voxels, reference ${ref.length}`);
  let a = 0;
  let b = 0;
  let both = 0;
  for (let p = 0; p < pred.length; p++) {
    const inA = pred[p] === label;
    const inB = ref[p] === label;
    if (inA) a++;
    if (inB) b++;
    if (inA && inB) both++;
  }
  return diceFromCounts(a, b, both);
}
