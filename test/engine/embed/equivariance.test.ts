import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../main/ml/tf.js';
import { pretrainConfig } from '../../../main/ml/config.js';
import { createNet, disposeNet, type Net } from '../../../main/ml/unet.js';
import { embedSlice, normalizeEmbedding, pixelVector } from '../../../main/embed/compute.js';
import { similarityMap } from '../../../main/embed/similarity.js';
import { normalizeIntensity } from '../../../main/io/resample.js';
import { phantomSlices } from '../ml/phantoms.js';
import { useCpu } from '../ml/cpu.js';
import { rot90, rot90At, S, SPACING, volumeOf } from './fixture.js';

/**
 * Rotating the input by 90° must rotate the similarity map. Two parts:
 * 1. A backbone rotation-equivariant by construction (every 3×3 kernel averaged over its four rotations,
 *    every 2×2 up-sampling kernel constant) must give exactly the rotated map: this checks the whole
 *    pipeline (network grid planning, mapping back to the slice grid, pixel indexing, similarity) to float
 *    rounding (tolerance 1e-4 on cosines).
 * 2. A briefly pretrained backbone: equivariance-pretrained.test.ts (measured, with the tolerances it asserts).
 */

beforeAll(useCpu);

/** Makes every spatial kernel invariant under 90° rotations (in place). */
function symmetrize(net: Net): void {
  for (const [name, v] of Object.entries(net.params)) {
    if (!name.endsWith('.w') || v.shape[0] === 1) continue;
    const next = tf.tidy(() => {
      if (v.shape[0] === 2) return tf.mul(tf.mean(v, [0, 1], true), tf.onesLike(v));
      // rot90 of a [k, k, …] kernel: transpose the spatial axes, then reverse the first.
      const r = (t: tf.Tensor) => tf.reverse(tf.transpose(t, [1, 0, 2, 3]), 0);
      const r1 = r(v);
      const r2 = r(r1);
      const r3 = r(r2);
      return tf.div(tf.addN([v, r1, r2, r3]), 4);
    });
    v.assign(next);
    next.dispose();
  }
}

function mapsFor(net: Net, img: Float32Array, at: [number, number]) {
  const vol = volumeOf([img, rot90(img)]);
  const norm = normalizeIntensity(vol.data);
  const e0 = normalizeEmbedding(embedSlice(net, { spacingMm: SPACING }, vol, norm, 0, 0));
  const e1 = normalizeEmbedding(embedSlice(net, { spacingMm: SPACING }, vol, norm, 1, 0));
  const r = rot90At(at);
  const original = similarityMap(e0, pixelVector(e0, at[1] * S + at[0]));
  const ofRotated = similarityMap(e1, pixelVector(e1, r[1] * S + r[0]));
  return { rotatedMap: rot90(original.values), ofRotated: ofRotated.values, original };
}

const QUERIES: Array<[number, number]> = [
  [16, 16],
  [8, 20],
  [3, 3],
  [20, 10],
];

describe('rotating the input rotates the similarity map', () => {
  const img = phantomSlices(1, S, 99)[0]!;

  it('exactly, for a backbone equivariant by construction', () => {
    const cfg = pretrainConfig('compact', { model: { unet: { levels: 3, base: 4, embedding: 8 } }, preprocess: { size: S, spacingMm: SPACING } });
    const net = createNet(cfg.model, 11, false);
    try {
      symmetrize(net);
      for (const at of QUERIES) {
        const { rotatedMap, ofRotated, original } = mapsFor(net, img, at);
        let worst = 0;
        for (let n = 0; n < rotatedMap.length; n++) worst = Math.max(worst, Math.abs(rotatedMap[n]! - ofRotated[n]!));
        expect(worst).toBeLessThan(1e-4);
        // Not vacuous: the map varies over the slice.
        expect(Math.min(...original.values)).toBeLessThan(0.9);
      }
    } finally {
      disposeNet(net);
    }
  });
});
