import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPinia, setActivePinia } from 'pinia';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEngine } from '../../main/engine/create.js';
import type { Engine } from '../../main/engine/engine.js';
import { heat } from '../../main/embed/colormap.js';
import { writeNifti } from '../../main/io/nifti.js';
import { EngineClient, provideClient } from '../../renderer/api/index.js';
import { colourBarGradient, colourBarTicks, decodeFloat32, heatColour } from '../../renderer/components/embed/heat.js';
import { useEmbedStore, useProjectionStore } from '../../renderer/stores/embed.js';
import { saveUntrainedBackbone } from '../engine/embed/fixture.js';
import { useCpu } from '../engine/ml/cpu.js';
import { LoopbackTransport } from './support/loopback.js';

describe('heat colour map and colour bar', () => {
  it('interpolates the stops linearly (hand-computed values)', () => {
    expect(heatColour(-0.3)).toEqual([0, 0, 0]);
    expect(heatColour(0)).toEqual([0, 0, 0]);
    // Halfway between 0.35 (150, 20, 10) and 0.65 (240, 120, 20).
    expect(heatColour(0.5)).toEqual([195, 70, 15]);
    expect(heatColour(0.88)).toEqual([255, 230, 60]);
    // Halfway between 0.88 (255, 230, 60) and 1 (255, 255, 255).
    expect(heatColour(0.94)[0]).toBeCloseTo(255, 9);
    expect(heatColour(0.94)[1]).toBeCloseTo(242.5, 9);
    expect(heatColour(0.94)[2]).toBeCloseTo(157.5, 9);
    expect(heatColour(2)).toEqual([255, 255, 255]);
    expect(heatColour(Number.NaN)).toEqual([0, 0, 0]);
  });

  it('matches the engine colour map that the CLI PNGs use', () => {
    for (let s = -1; s <= 1.0001; s += 0.01) expect(heatColour(s).map(Math.round)).toEqual(heat(s));
  });

  it('places and labels ticks with just enough decimals', () => {
    expect(colourBarTicks(-1, 1, 5).map((t) => [t.label, t.at])).toEqual([
      ['-1.0', 0],
      ['-0.5', 0.25],
      ['0.0', 0.5],
      ['0.5', 0.75],
      ['1.0', 1],
    ]);
    expect(colourBarTicks(0, 1, 5).map((t) => t.label)).toEqual(['0.00', '0.25', '0.50', '0.75', '1.00']);
    expect(colourBarTicks(0, 4, 5).map((t) => t.label)).toEqual(['0', '1', '2', '3', '4']);
    expect(() => colourBarTicks(1, 1)).toThrow(/lo < hi/);
  });

  it('builds the bar gradient from the same stops, bottom to top', () => {
    expect(colourBarGradient(-1, 1)).toBe(
      'linear-gradient(to top, rgb(0, 0, 0) 0%, rgb(0, 0, 0) 50.00%, rgb(150, 20, 10) 67.50%, rgb(240, 120, 20) 82.50%, rgb(255, 230, 60) 94.00%, rgb(255, 255, 255) 100.00%)',
    );
  });

  it('decodes base64 little-endian float32 and names a wrong length', () => {
    const values = [1, -0.5, 0.25, 3.5e-8];
    const bytes = Buffer.alloc(16);
    values.forEach((v, n) => bytes.writeFloatLE(v, n * 4));
    expect(Array.from(decodeFloat32(bytes.toString('base64'), 4))).toEqual(Array.from(Float32Array.from(values)));
    expect(() => decodeFloat32(bytes.toString('base64'), 5, 'map of frame 2')).toThrow('map of frame 2: expected 5 float32 values (20 bytes), got 16 bytes');
  });
});

// A real engine on a temp workspace: one imported 2-frame volume and an (untrained) tiny backbone in the
// workspace's models folder, which embed.models lists as a folder model.
const S = 16;
let engine: Engine;
let workspace: string;
let src: string;
let volumeId: string;

beforeAll(async () => {
  await useCpu();
  src = mkdtempSync(join(tmpdir(), 'pix2rep-embed-src-'));
  workspace = mkdtempSync(join(tmpdir(), 'pix2rep-embed-ws-'));
  await writeNifti(join(src, 'phantom.nii.gz'), {
    dims: [S, S, 2],
    frames: 2,
    spacing: [1.5, 1.5, 8],
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    // A bright disc moving one pixel between frames, on a dark background.
    data: Float32Array.from({ length: S * S * 2 * 2 }, (_, n) => {
      const i = n % S;
      const j = Math.floor(n / S) % S;
      const f = Math.floor(n / (S * S * 2));
      return Math.hypot(i - 7 - f, j - 8) < 4 ? 100 : 10;
    }),
  });
  await saveUntrainedBackbone(workspace, { size: S, spacingMm: 1.5, seed: 1 });
  engine = createEngine({ workspace });
  await engine.call('library.import', { paths: [src] });
  const { studies } = await engine.call('library.listStudies', {});
  volumeId = studies[0]!.series[0]!.volumes[0]!.id;
}, 120_000);

afterAll(() => {
  rmSync(src, { recursive: true, force: true });
  rmSync(workspace, { recursive: true, force: true });
});

beforeEach(() => {
  provideClient(new EngineClient(new LoopbackTransport(engine)));
  setActivePinia(createPinia());
});

describe('embed store against a real engine', () => {
  it('lists the backbone, and answers a click with decoded maps of the slice and the compared frame', async () => {
    const s = useEmbedStore();
    await s.loadModels();
    expect(s.models).toEqual([{ id: 'models/tiny', name: 'tiny', source: 'folder' }]);
    expect(s.modelId).toBe('models/tiny');
    s.toggleFrame(1);
    await s.ask({ volumeId, frame: 0, slice: 1, at: [7, 8] });
    expect(s.error).toBeNull();
    expect(s.maps.map((m) => [m.frame, m.slice, m.dims])).toEqual([
      [0, 1, [S, S]],
      [1, 1, [S, S]],
    ]);
    const own = s.maps[0]!;
    expect(own.values).toBeInstanceOf(Float32Array);
    // Cosine similarity of the query with itself, and its own slice's best match is the query.
    expect(own.values[8 * S + 7]).toBeCloseTo(1, 3);
    expect(own.best.at).toEqual([7, 8]);
    for (const m of s.maps) for (const v of m.values) expect(Math.abs(v)).toBeLessThanOrEqual(1 + 1e-5);
    // The best match listed for frame 2 is the maximum of its decoded map.
    const other = s.matches[0]!;
    const [bi, bj] = other.best.at;
    expect(other.values[bj * S + bi]).toBeCloseTo(Math.max(...other.values), 5);
    expect(s.mapOf(volumeId, 1, 1)).toBe(other);
    expect(s.mapOf(volumeId, 1, 0)).toBeUndefined();
  }, 120_000);

  it('keeps one request in flight and sends only the latest waiting query', async () => {
    const s = useEmbedStore();
    await s.loadModels();
    const transport = (await import('../../renderer/api/index.js')).useClient().transport as LoopbackTransport;
    const first = s.ask({ volumeId, frame: 0, slice: 0, at: [1, 1] });
    void s.ask({ volumeId, frame: 0, slice: 0, at: [2, 2] });
    void s.ask({ volumeId, frame: 0, slice: 0, at: [3, 4] });
    expect(s.busy).toBe(true);
    await first;
    expect(s.busy).toBe(false);
    const asked = transport.sent.map((m) => JSON.parse(m) as { method: string; params: { at: number[] } }).filter((m) => m.method === 'embed.similarity');
    // The first goes at once; [2, 2] is superseded by [3, 4] before the first answer comes back.
    expect(asked.map((m) => m.params.at)).toEqual([
      [1, 1],
      [3, 4],
    ]);
    expect(s.sent).toBe(2);
    expect(s.query?.at).toEqual([3, 4]);
    expect(s.maps[0]!.best.at).toEqual([3, 4]);
  }, 120_000);

  it('drops an answer that arrives after clear(), and reports a bad query clearly', async () => {
    const s = useEmbedStore();
    await s.loadModels();
    const p = s.ask({ volumeId, frame: 0, slice: 0, at: [5, 5] });
    s.clear();
    await p;
    expect(s.maps).toEqual([]);
    expect(s.query).toBeNull();
    await s.ask({ volumeId, frame: 0, slice: 7, at: [5, 5] });
    expect(s.maps).toEqual([]);
    expect(s.error).toMatch(/Could not compute the similarity map/);
    expect(s.error).toMatch(/slice/i);
  }, 120_000);

  it('asks for a backbone when none is available', async () => {
    const s = useEmbedStore();
    await s.ask({ volumeId, frame: 0, slice: 0, at: [0, 0] });
    expect(s.sent).toBe(0);
    expect(s.error).toMatch(/Pick a backbone/);
  });
});

describe('projection store against a real engine', () => {
  it('decodes a PCA colouring and links pixels and scatter points both ways', async () => {
    const p = useProjectionStore();
    const seen: string[] = [];
    const stop = (await import('vue')).watch(() => p.progress, (q) => q && seen.push(q.stage));
    await p.run('models/tiny', { volumeId, frame: 0, slice: 1 });
    stop();
    expect(p.error).toBeNull();
    expect(p.running).toBeNull();
    const r = p.result!;
    expect(r.method).toBe('pca');
    expect(r.dims).toEqual([S, S]);
    expect(r.rgb.length).toBe(S * S * 3);
    expect(r.pcaRgb.length).toBe(S * S * 3);
    // 256 pixels, fewer than the sample: every pixel is a point.
    expect(r.x.length).toBe(S * S);
    expect(seen.length).toBeGreaterThan(0);
    for (let n = 0; n < r.x.length; n++) {
      const [i, j] = p.pixelOfPoint(n)!;
      expect(r.pixel[n]).toBe(j * S + i);
      // A sampled pixel is its own representative, so pixel → point → pixel round-trips.
      expect(p.pointOfPixel(i, j)).toBe(n);
      // Its colour in the painted image is its point's colour.
      expect(Array.from(r.rgb.subarray((j * S + i) * 3, (j * S + i) * 3 + 3))).toEqual(Array.from(r.pointRgb.subarray(n * 3, n * 3 + 3)));
      // The contract's scatter square, which the panel maps onto its canvas.
      expect(Math.max(Math.abs(r.x[n]!), Math.abs(r.y[n]!))).toBeLessThanOrEqual(1 + 1e-6);
    }
    expect(p.pointOfPixel(S, 0)).toBeNull();
    expect(p.pixelOfPoint(-1)).toBeNull();
    const n = 17;
    const near = p.nearestPoint(r.x[n]!, r.y[n]!, 1e-9)!;
    expect([r.x[near], r.y[near]]).toEqual([r.x[n], r.y[n]]);
    expect(p.nearestPoint(5, 5, 0.1)).toBeNull();
  }, 120_000);

  it('reports a failed job clearly and a cancelled one as cancelled', async () => {
    const p = useProjectionStore();
    await p.run('no-such-model', { volumeId, frame: 0, slice: 0 });
    expect(p.error).toMatch(/Could not compute the embedding colouring: no model "no-such-model"/);
    expect(p.result).toBeNull();
    p.method = 'umap';
    const job = p.run('models/tiny', { volumeId, frame: 1, slice: 0 });
    expect(p.running).not.toBeNull();
    await p.cancel();
    await job;
    expect(p.cancelled).toBe(true);
    expect(p.running).toBeNull();
    expect(p.result).toBeNull();
    expect(p.error).toBeNull();
  }, 120_000);
});
