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

  it('names the problem for an unknown model, volume, slice or pixel', async () => {
    const s = new EmbedService(workspace, { allowPaths: true });
    await expect(s.embedding('nope', { volumeId: niftiPath, frame: 0, slice: 0 })).rejects.toThrow(/no model "nope" \(known: tiny\)/);
    await expect(s.embedding('tiny', { volumeId: 'vol-missing', frame: 0, slice: 0 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(s.embedding('tiny', { volumeId: niftiPath, frame: 0, slice: 3 })).rejects.toThrow(/has 3 slice\(s\); slice 3 does not exist/);
    await expect(s.similarity('tiny', { volumeId: niftiPath, frame: 0, slice: 0 }, [S, 0])).rejects.toThrow(/outside the 32x32 slice/);
    s.close();
  });
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
