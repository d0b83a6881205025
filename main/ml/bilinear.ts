/**
 * Bilinear interpolation weights shared by the image resampler (augment/spatial.ts) and the differentiable
 * feature warp (warp.ts), so that both follow one convention: pixel centres at integer (x, y), zero outside.
 */

/** Sources within this distance of the border (float error of a rotation) are snapped onto it. */
export const EDGE = 1e-4;

/** A coordinate within EDGE outside [0, size − 1] snapped onto the border (float error of a warp, not a miss). */
export function snapToEdge(v: number, size: number): number {
  if (v < 0 && v > -EDGE) return 0;
  if (v > size - 1 && v < size - 1 + EDGE) return size - 1;
  return v;
}

export interface Taps {
  /** 4 indices per point into a row-major height × width plane (clamped in range; weight 0 when outside). */
  index: Int32Array;
  /** 4 weights per point. */
  weight: Float32Array;
}

/** The four bilinear taps of each (x, y) point; `points` is x, y interleaved. */
export function bilinearTaps(points: Float32Array | number[], height: number, width: number): Taps {
  const n = points.length / 2;
  const index = new Int32Array(4 * n);
  const weight = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const sx = snapToEdge(points[2 * i]!, width);
    const sy = snapToEdge(points[2 * i + 1]!, height);
    const x0 = Math.floor(sx);
    const y0 = Math.floor(sy);
    const ax = sx - x0;
    const ay = sy - y0;
    const corners: [number, number, number][] = [
      [x0, y0, (1 - ax) * (1 - ay)],
      [x0 + 1, y0, ax * (1 - ay)],
      [x0, y0 + 1, (1 - ax) * ay],
      [x0 + 1, y0 + 1, ax * ay],
    ];
    for (let k = 0; k < 4; k++) {
      const [x, y, w] = corners[k]!;
      const inside = x >= 0 && x < width && y >= 0 && y < height && Number.isFinite(w);
      index[4 * i + k] = inside ? y * width + x : 0;
      weight[4 * i + k] = inside ? w : 0;
    }
  }
  return { index, weight };
}

/** True where a point samples from inside the image (all of its bilinear support exists). */
export function insideImage(x: number, y: number, height: number, width: number): boolean {
  return x >= -EDGE && x <= width - 1 + EDGE && y >= -EDGE && y <= height - 1 + EDGE;
}
