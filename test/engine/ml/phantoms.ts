import { Rng } from '../../../main/ml/augment/rng.js';

/** Small synthetic "slices": a bright disc in a ring on a dim background, at random places, in [0, 1]. */
export function phantomSlices(count: number, size: number, seed: number): Float32Array[] {
  const r = new Rng(seed);
  return Array.from({ length: count }, () => {
    const img = new Float32Array(size * size);
    const cx = r.uniform(0.35, 0.65) * size;
    const cy = r.uniform(0.35, 0.65) * size;
    const rad = r.uniform(0.12, 0.22) * size;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const d = Math.hypot(x - cx, y - cy);
        img[y * size + x] = d < rad ? 0.9 : d < rad * 1.6 ? 0.45 : 0.1 + 0.05 * Math.sin(x * 0.7 + y * 0.3);
      }
    }
    return img;
  });
}
