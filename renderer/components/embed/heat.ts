/**
 * The inspector's heat colour map, colour bar and map decoding, kept free of vtk and Vue so they are tested as
 * plain arithmetic. The stops are the engine's (main/embed/colormap.ts, used for the CLI's PNGs), so a map on
 * screen and the same map written by `pix2rep embed similarity` look alike; a test checks they agree.
 */

export type Rgb = [number, number, number];

/** Similarity → 0–255 colour: black up to 0, dark red, orange, yellow, white at 1. */
export const HEAT_STOPS: ReadonlyArray<readonly [number, Rgb]> = [
  [0, [0, 0, 0]],
  [0.35, [150, 20, 10]],
  [0.65, [240, 120, 20]],
  [0.88, [255, 230, 60]],
  [1, [255, 255, 255]],
];

/**
 * Opacity of the overlay at a similarity: nothing at or below 0 (dissimilar tissue keeps the image readable),
 * rising to opaque by 0.5 so the matching region stands out.
 */
export const HEAT_OPACITY: ReadonlyArray<readonly [number, number]> = [
  [-1, 0],
  [0, 0],
  [0.5, 1],
  [1, 1],
];

/** Colour of a similarity value (clamped to [0, 1]; unrounded, 0–255). */
export function heatColour(s: number): Rgb {
  const x = Math.min(Math.max(Number.isFinite(s) ? s : 0, 0), 1);
  for (let n = 1; n < HEAT_STOPS.length; n++) {
    const [x1, c1] = HEAT_STOPS[n]!;
    if (x <= x1) {
      const [x0, c0] = HEAT_STOPS[n - 1]!;
      const t = (x - x0) / (x1 - x0);
      return [0, 1, 2].map((k) => c0[k]! + (c1[k]! - c0[k]!) * t) as Rgb;
    }
  }
  return [255, 255, 255];
}

export interface Tick {
  value: number;
  /** Position along the bar, 0 (bottom, low) to 1 (top, high). */
  at: number;
  label: string;
}

/** Ticks of the colour bar over [lo, hi]: `count` evenly spaced values, labelled with as few decimals as needed. */
export function colourBarTicks(lo: number, hi: number, count = 5): Tick[] {
  if (!(hi > lo) || count < 2) throw new Error(`colour bar needs lo < hi and at least 2 ticks (got ${lo}, ${hi}, ${count})`);
  const step = (hi - lo) / (count - 1);
  // The fewest decimals (at most 3) that print every tick exactly: 0.25 steps need 2, 0.5 steps 1.
  let decimals = 0;
  while (decimals < 3 && Math.abs(step * 10 ** decimals - Math.round(step * 10 ** decimals)) > 1e-9) decimals++;
  return Array.from({ length: count }, (_, n) => {
    const value = n === count - 1 ? hi : lo + n * step;
    // toFixed of -0.0 prints "-0.00": normalise the sign of zero.
    const label = (Math.abs(value) < step * 1e-9 ? 0 : value).toFixed(decimals);
    return { value, at: (value - lo) / (hi - lo), label };
  });
}

/** CSS gradient of the bar (bottom = lo, top = hi), using the same stops as the overlay. */
export function colourBarGradient(lo: number, hi: number): string {
  const stops: string[] = [];
  const pct = (v: number) => `${(((v - lo) / (hi - lo)) * 100).toFixed(2)}%`;
  if (lo < 0) stops.push(`rgb(0, 0, 0) 0%`);
  for (const [x, c] of HEAT_STOPS) if (x >= lo && x <= hi) stops.push(`rgb(${c.join(', ')}) ${pct(x)}`);
  return `linear-gradient(to top, ${stops.join(', ')})`;
}

/** Decodes a base64 little-endian float32 array of `count` values; a wrong length is an error naming both. */
export function decodeFloat32(b64: string, count: number, what = 'similarity map'): Float32Array {
  const bin = atob(b64);
  if (bin.length !== count * 4) throw new Error(`${what}: expected ${count} float32 values (${count * 4} bytes), got ${bin.length} bytes`);
  const bytes = new Uint8Array(bin.length);
  for (let n = 0; n < bin.length; n++) bytes[n] = bin.charCodeAt(n);
  const view = new DataView(bytes.buffer);
  const out = new Float32Array(count);
  for (let n = 0; n < count; n++) out[n] = view.getFloat32(n * 4, true);
  return out;
}
