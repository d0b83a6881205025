import { applyIntensity, drawIntensity, drawSpatial, sampleImage, spatialGrid } from '../augment/index.js';
import type { Rng } from '../augment/rng.js';
import type { DownstreamAugmentConfig } from './config.js';

/**
 * Downstream augmentation of an image and its label map with one spatial draw (bilinear for the image,
 * nearest for the labels; outside the field: 0 and background) and an intensity draw on the image only.
 */

export interface AugmentedPair {
  image: Float32Array;
  label: Uint8Array;
}

/** Draws the spatial grid of a slice, or null when this slice stays in place (probability 1 − spatialP). */
export function drawGrid(rng: Rng, cfg: DownstreamAugmentConfig, size: number): Float32Array | null {
  // Draw everything every time so the stream does not depend on the probabilities.
  const on = rng.chance(cfg.spatialP);
  const draw = drawSpatial(
    rng,
    { rotationDeg: cfg.rotationDeg, zoomScale: cfg.zoomScale, flipWeights: cfg.flipWeights, elastic: { p: 0, magnitude: 0, controlPoints: 2 } },
    size,
    size,
  );
  // drawSpatial centres the window inside the field for scales ≤ 1; zoom-out (scale > 1) stays centred.
  if (draw.scale > 1) draw.offset = [0, 0];
  return on ? spatialGrid(draw, size, size) : null;
}

export function warpLabel(label: Uint8Array, size: number, grid: Float32Array): Uint8Array {
  const out = new Uint8Array(size * size);
  for (let p = 0; p < out.length; p++) {
    const x = Math.round(grid[2 * p]!);
    const y = Math.round(grid[2 * p + 1]!);
    out[p] = x >= 0 && x < size && y >= 0 && y < size ? label[y * size + x]! : 0;
  }
  return out;
}

export function augmentPair(rng: Rng, cfg: DownstreamAugmentConfig, image: Float32Array, label: Uint8Array, size: number): AugmentedPair {
  const grid = drawGrid(rng, cfg, size);
  const intensity = drawIntensity(rng, cfg.intensity);
  const img = grid ? sampleImage(image, size, size, grid) : image;
  return { image: applyIntensity(img, size, size, intensity), label: grid ? warpLabel(label, size, grid) : label };
}

/**
 * The label augmentPair gives for the same draw, without the image work (its bilinear sampling and intensity
 * transforms are most of the cost): augmentPair draws the grid first, so the same seed gives the same grid.
 * The linear probe counts the pixels it will keep of its augmented copies with it before caching any feature.
 */
export function augmentLabel(rng: Rng, cfg: DownstreamAugmentConfig, label: Uint8Array, size: number): Uint8Array {
  const grid = drawGrid(rng, cfg, size);
  return grid ? warpLabel(label, size, grid) : label;
}

/** Two views of an unlabeled slice for Mean Teacher: one spatial transform, two independent intensity draws. */
export function consistencyViews(rng: Rng, cfg: DownstreamAugmentConfig, image: Float32Array, size: number): [Float32Array, Float32Array] {
  const grid = drawGrid(rng, cfg, size);
  const img = grid ? sampleImage(image, size, size, grid) : image;
  const a = drawIntensity(rng, cfg.intensity);
  const b = drawIntensity(rng, cfg.intensity);
  return [applyIntensity(img, size, size, a), applyIntensity(img, size, size, b)];
}
