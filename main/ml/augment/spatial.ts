import type { SpatialAugmentConfig } from '../config.js';
import type { Rng } from './rng.js';
import { bilinearTaps, insideImage } from '../bilinear.js';

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
 * Same taps as the differentiable warp in ../warp.ts.
 */
export function sampleImage(img: Float32Array, height: number, width: number, grid: Float32Array): Float32Array {
  const { index, weight } = bilinearTaps(grid, height, width);
  const n = grid.length / 2;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let k = 4 * i; k < 4 * i + 4; k++) v += weight[k]! * img[index[k]!]!;
    out[i] = v;
  }
  return out;
}
