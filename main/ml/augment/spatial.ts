import type { SpatialAugmentConfig } from '../config.js';
import type { Rng } from './rng.js';
import { insideImage, snapToEdge } from '../bilinear.js';

/**
 * The spatial family T_s as a sampling grid: for every output pixel p of view B, `grid` holds the source
 * position s(p) = (x, y) in the input image (pixel units, x = column, y = row), so φ(x)(p) = x(s(p)).
 * Warping branch A's feature map by the same grid aligns it with branch B.
 */

export type Flip = 'x' | 'y' | 'none';

/** The random choices of one spatial transform: plain data, so a view can be logged and replayed. */
export interface SpatialDraw {
  angleRad: number;
  /** Window side as a fraction of the field (zoom-crop). */
  scale: number;
  /** Window centre offset from the image centre, in pixels. */
  offset: [number, number];
  flip: Flip;
  /** Optional elastic displacement at a coarse control grid: n × n × 2 (dx, dy) in pixels. */
  elastic?: { n: number; d: Float32Array };
}

export function drawSpatial(rng: Rng, cfg: SpatialAugmentConfig, height: number, width: number): SpatialDraw {
  const deg = rng.uniform(cfg.rotationDeg[0], cfg.rotationDeg[1]);
  const scale = rng.uniform(cfg.zoomScale[0], cfg.zoomScale[1]);
  // The unrotated window stays inside the field; after rotation its corners may leave it, and those pixels are
  // masked as invalid rather than avoided (avoiding them would bias the rotation range).
  const ox = rng.uniform(-1, 1) * ((1 - scale) * width) / 2;
  const oy = rng.uniform(-1, 1) * ((1 - scale) * height) / 2;
  const w = cfg.flipWeights;
  const total = w.x + w.y + w.none;
  const u = rng.next() * total;
  const flip: Flip = u < w.x ? 'x' : u < w.x + w.y ? 'y' : 'none';
  const draw: SpatialDraw = { angleRad: (deg * Math.PI) / 180, scale, offset: [ox, oy], flip };
  if (rng.chance(cfg.elastic.p)) {
    const n = Math.max(2, cfg.elastic.controlPoints);
    const d = new Float32Array(n * n * 2);
    for (let i = 0; i < d.length; i++) d[i] = rng.normal() * cfg.elastic.magnitude / 2;
    draw.elastic = { n, d };
  }
  return draw;
}

/** cos/sin with exact zeros at multiples of 90°, so that a quarter turn maps pixel centres onto pixel centres. */
function exactTrig(a: number): [number, number] {
  let c = Math.cos(a);
  let s = Math.sin(a);
  if (Math.abs(c) < 1e-12) c = 0;
  if (Math.abs(s) < 1e-12) s = 0;
  return [c, s];
}

/** Bilinear lookup of the coarse elastic field at normalised position (u, v) ∈ [0, 1]². */
function elasticAt(e: { n: number; d: Float32Array }, u: number, v: number): [number, number] {
  const fx = u * (e.n - 1);
  const fy = v * (e.n - 1);
  const x0 = Math.min(e.n - 2, Math.floor(fx));
  const y0 = Math.min(e.n - 2, Math.floor(fy));
  const ax = fx - x0;
  const ay = fy - y0;
  let dx = 0;
  let dy = 0;
  for (const [cx, cy, w] of [
    [x0, y0, (1 - ax) * (1 - ay)],
    [x0 + 1, y0, ax * (1 - ay)],
    [x0, y0 + 1, (1 - ax) * ay],
    [x0 + 1, y0 + 1, ax * ay],
  ] as const) {
    const k = (cy * e.n + cx) * 2;
    dx += w * e.d[k]!;
    dy += w * e.d[k + 1]!;
  }
  return [dx, dy];
}

/** The sampling grid (height · width · 2, (x, y) interleaved) of a spatial draw, output size = input size. */
export function spatialGrid(draw: SpatialDraw, height: number, width: number): Float32Array {
  const grid = new Float32Array(height * width * 2);
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const [c, s] = exactTrig(draw.angleRad);
  const fx = draw.flip === 'x' ? -1 : 1;
  const fy = draw.flip === 'y' ? -1 : 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const qx = (x - cx) * fx * draw.scale;
      const qy = (y - cy) * fy * draw.scale;
      let sx = cx + draw.offset[0] + c * qx - s * qy;
      let sy = cy + draw.offset[1] + s * qx + c * qy;
      if (draw.elastic) {
        const [dx, dy] = elasticAt(draw.elastic, width > 1 ? x / (width - 1) : 0, height > 1 ? y / (height - 1) : 0);
        sx += dx;
        sy += dy;
      }
      const k = (y * width + x) * 2;
      grid[k] = sx;
      grid[k + 1] = sy;
    }
  }
  return grid;
}

/** 1 where the grid samples from inside the image (all four bilinear neighbours exist), else 0. */
export function gridValidity(grid: Float32Array, height: number, width: number): Uint8Array {
  const n = grid.length / 2;
  const valid = new Uint8Array(n);
  for (let i = 0; i < n; i++) valid[i] = insideImage(grid[2 * i]!, grid[2 * i + 1]!, height, width) ? 1 : 0;
  return valid;
}

/**
 * Bilinear resampling of a single-channel image (row-major height × width) by a grid with zero outside.
 * Same taps as the differentiable warp in ../warp.ts: this is `bilinearTaps` fused with the weighted sum, to
 * the bit (each weight rounded to float32 as bilinearTaps stores it, the four products summed from 0 in tap
 * order in double), without its per-point arrays, which made the sampling most of an augmentation's cost.
 */
export function sampleImage(img: Float32Array, height: number, width: number, grid: Float32Array): Float32Array {
  const n = grid.length / 2;
  const out = new Float32Array(n);
  // A tap outside the image has index 0 and weight 0 in bilinearTaps, so it adds 0 · img[0]: ±0 (no change),
  // or NaN when img[0] is not finite.
  const outside = 0 * img[0]!;
  const fround = Math.fround;
  for (let i = 0; i < n; i++) {
    const sx = snapToEdge(grid[2 * i]!, width);
    const sy = snapToEdge(grid[2 * i + 1]!, height);
    const x0 = Math.floor(sx);
    const y0 = Math.floor(sy);
    const ax = sx - x0;
    const ay = sy - y0;
    const w00 = (1 - ax) * (1 - ay);
    const w10 = ax * (1 - ay);
    const w01 = (1 - ax) * ay;
    const w11 = ax * ay;
    if (x0 >= 0 && x0 < width - 1 && y0 >= 0 && y0 < height - 1) {
      // All four taps inside (and the weights finite, since sx and sy are).
      const k = y0 * width + x0;
      // `0 +` first, as the reference sum starts from 0: it turns an all −0 sum into +0.
      out[i] = 0 + fround(w00) * img[k]! + fround(w10) * img[k + 1]! + fround(w01) * img[k + width]! + fround(w11) * img[k + width + 1]!;
      continue;
    }
    let v = 0;
    v += tap(x0, y0, w00);
    v += tap(x0 + 1, y0, w10);
    v += tap(x0, y0 + 1, w01);
    v += tap(x0 + 1, y0 + 1, w11);
    out[i] = v;
  }
  return out;

  function tap(x: number, y: number, w: number): number {
    return x >= 0 && x < width && y >= 0 && y < height && Number.isFinite(w) ? fround(w) * img[y * width + x]! : outside;
  }
}
