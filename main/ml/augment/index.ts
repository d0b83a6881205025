import type { AugmentConfig } from '../config.js';
import { applyIntensity, drawIntensity, type IntensityDraw } from './intensity.js';
import { Rng } from './rng.js';
import { drawSpatial, gridValidity, sampleImage, spatialGrid, type SpatialDraw } from './spatial.js';

export { Rng, deriveSeed, hashString } from './rng.js';
export * from './spatial.js';
export * from './intensity.js';

/** The two views of one slice: A = t(x), B = t'(φ(x)), with φ as a sampling grid and its validity. */
export interface ViewPair {
  viewA: Float32Array;
  viewB: Float32Array;
  /** height · width · 2 source positions of view B's pixels in x (and in branch A's map). */
  grid: Float32Array;
  /** 1 where φ samples from inside the image. */
  valid: Uint8Array;
  draws: { spatial: SpatialDraw; intensityA: IntensityDraw; intensityB: IntensityDraw };
}

/** Draws φ, t, t' from `rng` (in that order) and renders both views of a height × width slice. */
export function makeViews(rng: Rng, cfg: AugmentConfig, img: Float32Array, height: number, width: number): ViewPair {
  if (img.length !== height * width) throw new Error(`makeViews: image has ${img.length} pixels, expected ${height}×${width}`);
  const spatial = drawSpatial(rng, cfg.spatial, height, width);
  const intensityA = drawIntensity(rng, cfg.intensity);
  const intensityB = drawIntensity(rng, cfg.intensity);
  const grid = spatialGrid(spatial, height, width);
  const valid = gridValidity(grid, height, width);
  const viewA = applyIntensity(img, height, width, intensityA);
  const viewB = applyIntensity(sampleImage(img, height, width, grid), height, width, intensityB);
  return { viewA, viewB, grid, valid, draws: { spatial, intensityA, intensityB } };
}
