/**
 * Paired differences between two methods over the same test patients: each patient's Dice under method A minus
 * its Dice under method B (each first averaged over seeds), with a two-sided 95% Student-t confidence interval
 * of the mean difference. Pairing by patient removes the between-patient spread (some hearts are simply
 * harder), which dwarfs the method effect at the few patients a CPU budget can test.
 */

/** 97.5th percentile of Student's t for 1..30 degrees of freedom (standard table values). */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101,
  2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export function tQuantile975(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new RangeError(`degrees of freedom must be a positive integer, got ${df}`);
  // Beyond 30 the table's last entries approach the normal 1.96; 2.0 is a safe (slightly wide) bound to 60.
  return df <= 30 ? T975[df - 1]! : df <= 60 ? 2.0 : 1.96;
}

export interface PairedDifference {
  /** Patients present under both methods. */
  n: number;
  mean: number;
  /** 95% confidence interval of the mean difference; null with fewer than two patients. */
  ci: [number, number] | null;
  /** Patients where A scored higher than B. */
  wins: number;
}

/** `a` and `b` map patient → score; only patients scored by both count. */
export function pairedDifference(a: Map<string, number>, b: Map<string, number>): PairedDifference {
  const d: number[] = [];
  for (const [patient, va] of a) {
    const vb = b.get(patient);
    if (vb !== undefined) d.push(va - vb);
  }
  const n = d.length;
  if (n === 0) return { n, mean: Number.NaN, ci: null, wins: 0 };
  const mean = d.reduce((s, x) => s + x, 0) / n;
  const wins = d.filter((x) => x > 0).length;
  if (n < 2) return { n, mean, ci: null, wins };
  const sd = Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
  const half = (tQuantile975(n - 1) * sd) / Math.sqrt(n);
  return { n, mean, ci: [mean - half, mean + half], wins };
}
