/**
 * Colour maps of the inspector. Both are defined here from first principles, not copied from a palette:
 * - `heat`: similarity in [-1, 1] → black (≤ 0) → dark red → orange → yellow → white (1), so that only
 *   positive similarity lights up, as in the paper's figures;
 * - `plane2d`: a point of the 2D projection → a colour of the CIELAB (a, b) chroma plane at constant lightness, so
 *   that nearby points get similar colours and the hue turns once around the plane's centre.
 */

export type Rgb = [number, number, number];

const HEAT_STOPS: Array<[number, Rgb]> = [
  [0, [0, 0, 0]],
  [0.35, [150, 20, 10]],
  [0.65, [240, 120, 20]],
  [0.88, [255, 230, 60]],
  [1, [255, 255, 255]],
];

/** Heat colour of a similarity value (clamped to [0, 1]; negatives are black). */
export function heat(s: number): Rgb {
  const x = Math.min(Math.max(Number.isFinite(s) ? s : 0, 0), 1);
  for (let n = 1; n < HEAT_STOPS.length; n++) {
    const [x1, c1] = HEAT_STOPS[n]!;
    if (x <= x1) {
      const [x0, c0] = HEAT_STOPS[n - 1]!;
      const t = (x - x0) / (x1 - x0);
      return [0, 1, 2].map((k) => Math.round(c0[k]! + (c1[k]! - c0[k]!) * t)) as Rgb;
    }
  }
  return [255, 255, 255];
}

/** RGB bytes of a whole map. */
export function heatImage(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 3);
  for (let p = 0; p < values.length; p++) out.set(heat(values[p]!), p * 3);
  return out;
}

function labToSrgb(L: number, a: number, b: number): Rgb {
  // CIELAB (D65) → XYZ → linear sRGB → gamma-encoded sRGB, clamped into the gamut.
  const fy = (L + 16) / 116;
  const fx = fy + a / 500;
  const fz = fy - b / 200;
  const inv = (t: number) => (t > 6 / 29 ? t * t * t : 3 * (6 / 29) ** 2 * (t - 4 / 29));
  const X = 0.95047 * inv(fx);
  const Y = 1.0 * inv(fy);
  const Z = 1.08883 * inv(fz);
  const lin = [
    3.2404542 * X - 1.5371385 * Y - 0.4985314 * Z,
    -0.969266 * X + 1.8760108 * Y + 0.041556 * Z,
    0.0556434 * X - 0.2040259 * Y + 1.0572252 * Z,
  ];
  return lin.map((c) => {
    const v = Math.min(Math.max(c, 0), 1);
    const g = v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055;
    return Math.round(g * 255);
  }) as Rgb;
}

/** Lightness and (a, b) radius of the 2D map: L 70 with chroma 55 stays close to the sRGB gamut all around. */
const PLANE_L = 70;
const PLANE_CHROMA = 55;

/** Colour of a point of the unit square [-1, 1]² (outside is clamped to the disc of radius 1). */
export function plane2d(x: number, y: number): Rgb {
  let u = Number.isFinite(x) ? x : 0;
  let v = Number.isFinite(y) ? y : 0;
  const r = Math.hypot(u, v);
  if (r > 1) {
    u /= r;
    v /= r;
  }
  return labToSrgb(PLANE_L, u * PLANE_CHROMA, v * PLANE_CHROMA);
}
