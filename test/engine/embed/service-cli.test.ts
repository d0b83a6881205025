import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pretrainConfig } from '../../../main/ml/config.js';
import { createNet, disposeNet } from '../../../main/ml/unet.js';
import { buildCheckpoint, readCheckpoint, writeCheckpoint } from '../../../main/ml/pretrain/checkpoint.js';
import { readNifti, writeNifti } from '../../../main/io/nifti.js';
import { EmbedService } from '../../../main/embed/service.js';
import { useCpu } from '../ml/cpu.js';
import { phantomSlices } from '../ml/phantoms.js';
import { runCli } from '../../support/cli.js';
import { createEngine } from '../../../main/engine/create.js';
import { decodePng } from '../../support/png.js';
import { S, SPACING, volumeOf } from './fixture.js';

let dir: string;
let workspace: string;
let niftiPath: string;
let ckPath: string;

/** An (untrained) backbone saved as a checkpoint in the workspace's models/tiny folder. */
async function saveModel(seed: number): Promise<void> {
  const config = pretrainConfig('compact', { model: { unet: { levels: 3, base: 4, embedding: 8 } }, preprocess: { size: S, spacingMm: SPACING } });
  const net = createNet(config.model, seed, false);
  const ck = buildCheckpoint(net, null, {
    backend: 'cpu',
    step: 0,
    epoch: 0,
    rng: { seed, scheme: 'mulberry32(deriveSeed(seed, stream, index))' },
    config,
    provenance: { kind: 'memory', volumes: [], slices: 0 },
    split: { train: 0, validation: 0 },
    history: [],
    validation: [],
    bestValidationLoss: null,
  });
  disposeNet(net);
  await writeCheckpoint(ckPath, ck);
}

beforeAll(async () => {
  await useCpu();
  dir = await mkdtemp(join(tmpdir(), 'p2r-embed-'));
  workspace = join(dir, 'ws');
  await mkdir(join(workspace, 'models', 'tiny'), { recursive: true });
  ckPath = join(workspace, 'models', 'tiny', 'last.p2r');
  await saveModel(1);
  niftiPath = join(dir, 'phantom.nii.gz');
  await writeNifti(niftiPath, volumeOf(phantomSlices(3, S, 8)));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('embedding service', () => {
  it('computes once, then serves from memory, then from the disk cache; a changed model invalidates', async () => {
    const key = { volumeId: niftiPath, frame: 0, slice: 1 };
    const a = new EmbedService(workspace, { allowPaths: true });
    const first = await a.embedding('tiny', key);
    expect(first.source).toBe('computed');
    expect(first.embedding.dims).toEqual([S, S]);
    expect((await a.embedding('tiny', key)).source).toBe('memory');
    a.close();
    const b = new EmbedService(workspace, { allowPaths: true });
    const again = await b.embedding('tiny', key);
    expect(again.source).toBe('disk');
    // float16 storage, renormalised: within half-precision rounding of the computed unit vectors.
    let worst = 0;
    for (let n = 0; n < again.embedding.data.length; n++) worst = Math.max(worst, Math.abs(again.embedding.data[n]! - first.embedding.data[n]!));
    expect(worst).toBeLessThan(2e-3);
    b.close();
    // Retrained weights under the same name: the stale file is detected by hash and replaced.
    const old = await readCheckpoint(ckPath);
    old.data[0] = old.data[0]! + 0.5;
    await writeCheckpoint(ckPath, old);
    const c = new EmbedService(workspace, { allowPaths: true });
    expect((await c.embedding('tiny', key)).source).toBe('computed');
    expect(c.cache.stats.invalidated).toBe(1);
    c.close();
  }, 60_000);

  it('the backend matrix-vector path gives the JS loop\'s maps; self-similarity 1, best match in range', async () => {
    const query = { volumeId: niftiPath, frame: 0, slice: 0 };
    const against = [{ volumeId: niftiPath, frame: 0, slice: 2 }, { volumeId: niftiPath, frame: 0, slice: 0 }];
    // Both services read the same (float16) cache files: the first call computes and stores them.
    const first = new EmbedService(workspace, { allowPaths: true });
    await first.similarity('tiny', query, [16, 16], against);
    first.close();
    const fast = new EmbedService(workspace, { allowPaths: true });
    const slow = new EmbedService(workspace, { allowPaths: true, accelerate: false });
    const a = await fast.similarity('tiny', query, [16, 16], against);
    const b = await slow.similarity('tiny', query, [16, 16], against);
    expect(a.maps.map((m) => m.source)).toEqual(['disk', 'disk', 'memory']);
    expect(a.maps.map((m) => m.slice)).toEqual([0, 2, 0]);
    for (const [n, m] of a.maps.entries()) {
      let worst = 0;
      for (let p = 0; p < m.values.length; p++) worst = Math.max(worst, Math.abs(m.values[p]! - b.maps[n]!.values[p]!));
      expect(worst).toBeLessThan(1e-5);
      expect(m.best.value).toBeCloseTo(b.maps[n]!.best.value, 5);
    }
    expect(a.maps[0]!.values[16 * S + 16]).toBeCloseTo(1, 5);
    expect(a.maps[2]!.values[16 * S + 16]).toBeCloseTo(1, 5);
    fast.close();
    slow.close();
  }, 60_000);

  it('names the problem for an unknown model, volume, slice or pixel', async () => {
    const s = new EmbedService(workspace, { allowPaths: true });
    await expect(s.embedding('nope', { volumeId: niftiPath, frame: 0, slice: 0 })).rejects.toThrow(/no model "nope" \(known: tiny\)/);
    await expect(s.embedding('tiny', { volumeId: 'vol-missing', frame: 0, slice: 0 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(s.embedding('tiny', { volumeId: niftiPath, frame: 0, slice: 3 })).rejects.toThrow(/has 3 slice\(s\); slice 3 does not exist/);
    await expect(s.similarity('tiny', { volumeId: niftiPath, frame: 0, slice: 0 }, [S, 0])).rejects.toThrow(/outside the 32x32 slice/);
    s.close();
  });
});

/** Bytes of a base64 field (Buffer.from may return a view into a shared pool: copy the exact range). */
function bytes(b64: string): ArrayBuffer {
  const b = Buffer.from(b64, 'base64');
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
}

describe('contract embed.*', () => {
  it('lists models, answers similarity and projection for a library volume, with progress; unknown model is NOT_FOUND', async () => {
    const engine = createEngine({ workspace });
    await engine.call('library.import', { paths: [niftiPath] });
    const { studies } = await engine.call('library.listStudies', {});
    const volumeId = studies[0]!.series[0]!.volumes[0]!.id;
    expect((await engine.call('embed.models', {})).models).toEqual([{ id: 'models/tiny', name: 'tiny', source: 'folder' }]);
    const sim = await engine.call('embed.similarity', { modelId: 'tiny', volumeId, slice: 1, at: [16, 16], against: [{ volumeId, slice: 2 }] });
    expect(sim.maps).toHaveLength(2);
    const values = new Float32Array(bytes(sim.maps[0]!.values));
    expect(values.length).toBe(S * S);
    expect(values[16 * S + 16]).toBeCloseTo(1, 5);
    expect(sim.maps[0]!.best.at).toEqual([16, 16]);
    const events: string[] = [];
    engine.onEvent((name, data) => {
      if (name === 'request.progress') events.push((data as { stage: string }).stage);
    });
    const proj = await engine.call('embed.project', { modelId: 'tiny', slices: [{ volumeId, slice: 0 }, { volumeId, slice: 1 }], method: 'pca', sample: 200 });
    expect(proj.points.count).toBe(200);
    expect(proj.slices).toHaveLength(2);
    expect(Buffer.from(proj.slices[1]!.rgb, 'base64').length).toBe(S * S * 3);
    const rep = new Int32Array(bytes(proj.slices[1]!.representative));
    const pointSlice = new Int32Array(bytes(proj.points.slice));
    // Every pixel of slice 1 is represented by a scatter point of slice 1.
    for (const r of rep) expect(pointSlice[r]).toBe(1);
    expect(events).toEqual(expect.arrayContaining(['embed', 'pca', 'paint']));
    await expect(engine.call('embed.similarity', { modelId: 'nope', volumeId, slice: 0, at: [0, 0] })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(engine.call('embed.similarity', { modelId: 'tiny', volumeId, slice: 0, at: [S, 0] })).rejects.toMatchObject({ code: 'BAD_INPUT' });
  }, 120_000);
});

describe('pix2rep embed', () => {
  it('similarity writes a NIfTI in the slice geometry and a PNG per slice', () => {
    const out = join(dir, 'sim');
    const r = runCli(['embed', 'similarity', '--workspace', workspace, '--model', 'tiny', '--volume', niftiPath, '--slice', '1', '--at', '10,12', '--against', `${niftiPath}:2`, '--out', out, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const summary = JSON.parse(r.stdout) as { maps: Array<{ best: { at: [number, number]; value: number } }> };
    expect(summary.maps).toHaveLength(2);
    expect(summary.maps[0]!.best).toMatchObject({ at: [10, 12] });
    return (async () => {
      const v = await readNifti(join(out, 'sim-0.nii.gz'));
      expect(v.dims).toEqual([S, S, 1]);
      // Slice 1 of a volume with origin (10, -20, 30), identity direction, 8 mm slices.
      expect(v.origin.map((x) => +x.toFixed(4))).toEqual([10, -20, 38]);
      expect(v.data[12 * S + 10]).toBeCloseTo(1, 5);
      for (const x of v.data) expect(Math.abs(x)).toBeLessThanOrEqual(1);
      const other = await readNifti(join(out, 'sim-1.nii.gz'));
      expect(other.origin[2]).toBeCloseTo(46, 4);
      const [bi, bj] = summary.maps[1]!.best.at;
      expect(other.data[bj * S + bi]).toBeCloseTo(summary.maps[1]!.best.value, 5);
      const png = decodePng(await readFile(join(out, 'sim-1.png')));
      expect([png.width, png.height]).toEqual([S, S]);
    })();
  }, 120_000);

  it('project writes the colour image, the PCA preview and i,j,x,y coordinates', async () => {
    const out = join(dir, 'proj');
    const r = runCli(['embed', 'project', '--workspace', workspace, '--model', 'tiny', '--volume', niftiPath, '--slice', '0', '--method', 'pca', '--sample', '300', '--out', out]);
    expect(r.status).toBe(0);
    for (const f of ['projection.png', 'pca.png']) {
      const png = decodePng(await readFile(join(out, f)));
      expect([png.width, png.height]).toEqual([S, S]);
    }
    const rows = (await readFile(join(out, 'points.csv'), 'utf8')).trim().split('\n');
    expect(rows[0]).toBe('i,j,x,y');
    expect(rows).toHaveLength(301);
    for (const row of rows.slice(1)) {
      const [i, j, x, y] = row.split(',').map(Number);
      expect(i).toBeGreaterThanOrEqual(0);
      expect(j).toBeLessThan(S);
      expect(Math.abs(x!)).toBeLessThanOrEqual(1);
      expect(Math.abs(y!)).toBeLessThanOrEqual(1);
    }
    expect(existsSync(join(out, 'summary.json'))).toBe(true);
  }, 120_000);

  it('refuses t-SNE and a bad --at with a usage error', () => {
    const t = runCli(['embed', 'project', '--workspace', workspace, '--model', 'tiny', '--volume', niftiPath, '--slice', '0', '--method', 'tsne', '--out', join(dir, 'x')]);
    expect(t.status).toBe(2);
    expect(t.stderr).toMatch(/t-SNE is not available/);
    const a = runCli(['embed', 'similarity', '--workspace', workspace, '--model', 'tiny', '--volume', niftiPath, '--slice', '0', '--at', '3', '--out', join(dir, 'x')]);
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/--at must be X,Y/);
  }, 120_000);
});
