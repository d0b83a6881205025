/** The overlap counts every Dice of the downstream code is computed from. */

/** Per class index: predicted voxels, reference voxels and their overlap (the terms of every Dice here). */
export function classOverlap(pred: Uint8Array, ref: Uint8Array, classes: number): { inter: Float64Array; ps: Float64Array; rs: Float64Array } {
  const inter = new Float64Array(classes);
  const ps = new Float64Array(classes);
  const rs = new Float64Array(classes);
  for (let i = 0; i < pred.length; i++) {
    ps[pred[i]!]! += 1;
    rs[ref[i]!]! += 1;
    if (pred[i] === ref[i]) inter[pred[i]!]! += 1;
  }
  return { inter, ps, rs };
}

/** Mean Dice over foreground classes present in the prediction or the reference (1 when none is). */
export function meanForegroundDice(pred: Uint8Array, ref: Uint8Array, classes: number): number {
  const { inter, ps, rs } = classOverlap(pred, ref, classes);
  let sum = 0;
  let n = 0;
  for (let c = 1; c < classes; c++) {
    if (ps[c]! + rs[c]! === 0) continue;
    sum += (2 * inter[c]!) / (ps[c]! + rs[c]!);
    n += 1;
  }
  return n === 0 ? 1 : sum / n;
}
