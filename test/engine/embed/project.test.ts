import { beforeAll, describe, expect, it } from 'vitest';
import { pretrainConfig } from '../../../main/ml/config.js';
import { createNet, disposeNet } from '../../../main/ml/unet.js';
import { embedSlice, normalizeEmbedding } from '../../../main/embed/compute.js';
import { projectEmbeddings, samplePixels } from '../../../main/embed/project.js';
import { normalizeIntensity } from '../../../main/io/resample.js';
import { useCpu } from '../ml/cpu.js';
import { S, SPACING, volumeOf } from './fixture.js';

beforeAll(useCpu);

/** Two tissues: left half bright and smooth, right half dark with a fine checker texture. */
function twoTissues(): { img: Float32Array; cls: Uint8Array } {
  const img = new Float32Array(S * S);
  const cls = new Uint8Array(S * S);
  for (let j = 0; j < S; j++) {
    for (let i = 0; i < S; i++) {
      const right = i >= S / 2;
      cls[j * S + i] = right ? 1 : 0;
      img[j * S + i] = right ? 0.15 + 0.1 * ((i + j) % 2) : 0.85;
    }
  }
  return { img, cls };
}

/** Nearest-centroid accuracy of the 2D points for the two classes (a linear separation measure). */
function centroidAccuracy(x: Float32Array, y: Float32Array, labels: number[]): number {
  const c = [0, 1].map((k) => {
    const idx = labels.map((l, n) => (l === k ? n : -1)).filter((n) => n >= 0);
    return [idx.reduce((a, n) => a + x[n]!, 0) / idx.length, idx.reduce((a, n) => a + y[n]!, 0) / idx.length] as const;
  });
  let ok = 0;
  labels.forEach((l, n) => {
    const d = c.map(([cx, cy]) => Math.hypot(x[n]! - cx, y[n]! - cy));
    if ((d[0]! <= d[1]! ? 0 : 1) === l) ok++;
  });
  return ok / labels.length;
}

describe('projection of pixel embeddings', () => {
  const { img, cls } = twoTissues();
  const cfg = pretrainConfig('compact', { model: { unet: { levels: 3, base: 4, embedding: 8 } }, preprocess: { size: S, spacingMm: SPACING } });

  it('samples without repetition, reproducibly, across slices', () => {
    const a = samplePixels([100, 50], 40, 3);
    const b = samplePixels([100, 50], 40, 3);
    expect(Array.from(a.pixel)).toEqual(Array.from(b.pixel));
    const keys = new Set(Array.from(a.slice, (s, n) => s * 1000 + a.pixel[n]!));
    expect(keys.size).toBe(40);
    for (let n = 0; n < 40; n++) expect(a.pixel[n]).toBeLessThan(a.slice[n] === 0 ? 100 : 50);
    expect(samplePixels([5], 10, 1).pixel.length).toBe(5);
  });

  for (const method of ['pca', 'umap'] as const) {
    it(`${method}: separates two tissues of a phantom, paints every pixel, links pixels to points`, async () => {
      const net = createNet(cfg.model, 5, false);
      try {
        const vol = volumeOf([img]);
        const e = normalizeEmbedding(embedSlice(net, cfg.preprocess, vol, normalizeIntensity(vol.data), 0, 0));
        const stages = new Set<string>();
        const p = await projectEmbeddings([e], {
          method,
          sample: 600,
          seed: 4,
          landmarks: 250,
          umap: { nEpochs: 80 },
          onProgress: (q) => stages.add(q.stage),
        });
        expect(p.points.x.length).toBe(600);
        // Pixels at least 3 columns from the boundary: the receptive field sees a single tissue there.
        const far = Array.from(p.points.pixel, (px, n) => (Math.abs((px % S) + 0.5 - S / 2) >= 3 ? n : -1)).filter((n) => n >= 0);
        const acc = centroidAccuracy(
          Float32Array.from(far, (n) => p.points.x[n]!),
          Float32Array.from(far, (n) => p.points.y[n]!),
          far.map((n) => cls[p.points.pixel[n]!]!),
        );
        expect(acc).toBeGreaterThanOrEqual(0.95);
        for (const v of [...p.points.x, ...p.points.y]) expect(Math.abs(v)).toBeLessThanOrEqual(1);
        const s = p.slices[0]!;
        expect(s.rgb.length).toBe(S * S * 3);
        // Every pixel has a representative point; a sampled pixel represents itself and wears its colour.
        expect(Math.min(...s.representative)).toBeGreaterThanOrEqual(0);
        for (let n = 0; n < 600; n += 37) {
          const px = p.points.pixel[n]!;
          expect(s.representative[px]).toBe(n);
          expect(Array.from(s.rgb.subarray(px * 3, px * 3 + 3))).toEqual(Array.from(p.points.rgb.subarray(n * 3, n * 3 + 3)));
        }
        // Representatives stay within their tissue away from the boundary.
        let same = 0;
        let total = 0;
        for (let q = 0; q < S * S; q++) {
          if (Math.abs((q % S) + 0.5 - S / 2) < 3) continue;
          total++;
          if (cls[p.points.pixel[s.representative[q]!]!] === cls[q]) same++;
        }
        expect(same / total).toBeGreaterThanOrEqual(0.98);
        if (method === 'umap') expect([...stages]).toEqual(expect.arrayContaining(['neighbours', 'layout', 'place', 'paint']));
      } finally {
        disposeNet(net);
      }
    }, 120_000);
  }

  it('stops with an AbortError when cancelled', async () => {
    const net = createNet(cfg.model, 5, false);
    const vol = volumeOf([img]);
    const e = normalizeEmbedding(embedSlice(net, cfg.preprocess, vol, normalizeIntensity(vol.data), 0, 0));
    disposeNet(net);
    const ac = new AbortController();
    const run = projectEmbeddings([e], {
      method: 'umap',
      sample: 400,
      landmarks: 200,
      signal: ac.signal,
      onProgress: (q) => {
        if (q.stage === 'layout') ac.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
  });
});
