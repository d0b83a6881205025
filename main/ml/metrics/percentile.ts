/**
 * q-th percentile (0..100) of the values, with linear interpolation between the two nearest ranks: rank
 * (q/100)·(n−1) in the ascending order (NumPy's default, hence MedPy's). Sorts `values` in place.
 * NaN for an empty set.
 */
export function percentileInPlace(values: Float64Array, q: number): number {
  if (!(q >= 0 && q <= 100)) throw new RangeError(`percentile ${q} outside 0..100`);
  const n = values.length;
  if (n === 0) return NaN;
  values.sort();
  const rank = (q / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(lo + 1, n - 1);
  const a = values[lo]!;
  const b = values[hi]!;
  return a + (b - a) * (rank - lo);
}
