/**
 * Scaling for the loss chart: data space → SVG pixels, with "nice" axis ticks (1, 2 or 5 × 10^k) so the labels
 * read as round numbers. Pure functions: the chart component only lays out what these return.
 */

export interface Point {
  x: number;
  y: number;
}

/** Ticks covering [min, max] at a round step, aiming for about `target` of them; the ends snap outwards. */
export function niceTicks(min: number, max: number, target = 5): { lo: number; hi: number; step: number; ticks: number[] } {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return { lo: 0, hi: 1, step: 0.25, ticks: [0, 0.25, 0.5, 0.75, 1] };
  if (min > max) [min, max] = [max, min];
  if (min === max) {
    // A flat series still needs a visible band around it.
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const ticks: number[] = [];
  // Rounded to the step's decimals so 0.1 + 0.2 prints as 0.3.
  const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  for (let v = lo; v <= hi + step * 1e-6; v += step) ticks.push(Number(v.toFixed(decimals)));
  return { lo, hi, step, ticks };
}

/** Linear map from [d0, d1] onto [r0, r1]; a zero-width domain maps to the middle of the range. */
export function linearScale(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  if (d1 === d0) return () => (r0 + r1) / 2;
  const k = (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

/**
 * At most `max` points of a series, keeping the first and last and, within each bucket, the point furthest
 * from the bucket's mean (so spikes in a loss curve survive thinning).
 */
export function decimate(points: Point[], max: number): Point[] {
  if (points.length <= max || max < 3) return points.slice();
  const out: Point[] = [points[0]!];
  const inner = points.length - 2;
  const buckets = max - 2;
  for (let b = 0; b < buckets; b++) {
    const from = 1 + Math.floor((b * inner) / buckets);
    const to = 1 + Math.floor(((b + 1) * inner) / buckets);
    let mean = 0;
    for (let i = from; i < to; i++) mean += points[i]!.y;
    mean /= Math.max(1, to - from);
    let best = points[from]!;
    for (let i = from; i < to; i++) if (Math.abs(points[i]!.y - mean) > Math.abs(best.y - mean)) best = points[i]!;
    out.push(best);
  }
  out.push(points[points.length - 1]!);
  return out;
}

export interface ChartLayout {
  width: number;
  height: number;
  /** Plot area inside the axes. */
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export interface ChartGeometry {
  xTicks: Array<{ value: number; px: number }>;
  yTicks: Array<{ value: number; px: number }>;
  /** One SVG path `d` per series (empty string for a series without finite points). */
  paths: string[];
}

/** Axes and paths for several series sharing one pair of axes. Non-finite y values are skipped. */
export function chartGeometry(series: Point[][], layout: ChartLayout, maxPoints = 400): ChartGeometry {
  const finite = series.map((s) => s.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)));
  const all = finite.flat();
  let xMin = Infinity;
  let xMax = -Infinity;
  let yMin = Infinity;
  let yMax = -Infinity;
  for (const p of all) {
    xMin = Math.min(xMin, p.x);
    xMax = Math.max(xMax, p.x);
    yMin = Math.min(yMin, p.y);
    yMax = Math.max(yMax, p.y);
  }
  if (!all.length) [xMin, xMax, yMin, yMax] = [0, 1, 0, 1];
  const xt = niceTicks(xMin, xMax, 5);
  const yt = niceTicks(yMin, yMax, 4);
  const sx = linearScale(xt.lo, xt.hi, layout.left, layout.width - layout.right);
  // SVG y grows downwards: the top of the range is the largest value.
  const sy = linearScale(yt.lo, yt.hi, layout.height - layout.bottom, layout.top);
  const paths = finite.map((s) =>
    decimate(s, maxPoints)
      .map((p, i) => `${i === 0 ? 'M' : 'L'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`)
      .join(''),
  );
  return {
    xTicks: xt.ticks.map((value) => ({ value, px: sx(value) })),
    yTicks: yt.ticks.map((value) => ({ value, px: sy(value) })),
    paths,
  };
}
