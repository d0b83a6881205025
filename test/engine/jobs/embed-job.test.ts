import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../../main/engine/create.js';
import type { Engine } from '../../../main/engine/engine.js';
import { attachRunner, type JobRunner } from '../../../main/jobs/index.js';
import { openLibrary } from '../../../main/library/library.js';
import { decodePng } from '../../support/png.js';
import { saveUntrainedBackbone } from '../embed/fixture.js';
import { useCpu } from '../ml/cpu.js';
import { syntheticWorkspace, WORKER_ENV, settle } from './fixture.js';

/** An untrained tiny backbone (2-level base-4 U-Net, 8-dim embeddings) saved as the workspace's models/tiny. */
async function saveTinyModel(workspace: string): Promise<void> {
  await saveUntrainedBackbone(workspace, { size: 16, spacingMm: 2.25, seed: 4, head: { hidden: 8, out: 8 } });
}


/** Embedding projections as queued jobs in real worker processes, on the two-volume phantom workspace (24² px slices). */
describe('embed jobs', () => {
  let ws: Awaited<ReturnType<typeof syntheticWorkspace>>;
  let engine: Engine;
  let runner: JobRunner | null = null;
  let volumeIds: string[] = [];

  beforeAll(async () => {
    await useCpu();
    ws = await syntheticWorkspace('embed');
    await saveTinyModel(ws.workspace);
    const lib = openLibrary(ws.workspace);
    try {
      volumeIds = lib.catalog.listStudies().flatMap((s) => s.series.flatMap((se) => se.volumes.map((v) => v.id)));
    } finally {
      lib.close();
    }
    engine = createEngine({ workspace: ws.workspace });
    runner = await attachRunner(engine, { workspace: ws.workspace, pollMs: 100, workerEnv: WORKER_ENV });
  }, 60_000);
  afterAll(async () => {
    await runner?.stop();
    ws?.cleanup();
  });

  it('refuses bad parameters when queued, naming the field', async () => {
    await expect(engine.call('jobs.enqueue', { kind: 'embed', params: { model: 'tiny', slices: [] } })).rejects.toThrow(/invalid embed job parameters: slices/);
    await expect(engine.call('jobs.enqueue', { kind: 'embed', params: { model: 'tiny', slices: [{ volumeId: 'v', slice: 0 }], method: 'tsne' } })).rejects.toThrow(
      /invalid embed job parameters: method/,
    );
    await expect(engine.call('jobs.enqueue', { kind: 'embed', params: { model: 'tiny', slices: [{ volumeId: 'v', slice: -1 }] } })).rejects.toThrow(
      /invalid embed job parameters: slices\.0\.slice/,
    );
    await expect(engine.call('jobs.enqueue', { kind: 'embed', params: { slices: [{ volumeId: 'v', slice: 0 }] } })).rejects.toThrow(/invalid embed job parameters: model/);
  });

  it('a PCA job over two slices ends done; its PNGs decode and the CSV has one row per sampled point', async () => {
    const slices = [
      { volumeId: volumeIds[0]!, frame: 1, slice: 2 },
      { volumeId: volumeIds[1]!, frame: 0, slice: 0 },
    ];
    const job = await engine.call('jobs.enqueue', { kind: 'embed', params: { model: 'tiny', slices, method: 'pca', sample: 300, seed: 7 } });
    const j = await settle(engine, job.id);
    expect(j.error).toBeNull();
    expect(j.status).toBe('done');
    // pca: embed, sample, pca, paint, write.
    expect([j.step, j.totalSteps, j.progress]).toEqual([5, 5, 1]);
    const result = j.result as { files: string[]; points: number; method: string };
    expect(result.method).toBe('pca');
    expect(result.points).toBe(300);
    const dir = join(ws.workspace, 'jobs', job.id, 'projection');
    expect(result.files.map((f) => f.slice(dir.length + 1)).sort()).toEqual(
      ['pca-0.png', 'pca-1.png', 'points.csv', 'projection-0.png', 'projection-1.png', 'summary.json'].sort(),
    );
    // Temp files of the atomic writes are gone.
    expect((await readdir(dir)).sort()).toEqual(result.files.map((f) => f.slice(dir.length + 1)).sort());
    for (const f of ['projection-0.png', 'pca-0.png', 'projection-1.png', 'pca-1.png']) {
      const png = decodePng(await readFile(join(dir, f)));
      expect([png.width, png.height]).toEqual([24, 24]);
      // A colouring, not a blank image.
      const colours = new Set<number>();
      for (let p = 0; p < png.rgba.length; p += 4) colours.add((png.rgba[p]! << 16) | (png.rgba[p + 1]! << 8) | png.rgba[p + 2]!);
      expect(colours.size).toBeGreaterThan(10);
    }
    const rows = (await readFile(join(dir, 'points.csv'), 'utf8')).trim().split('\n');
    expect(rows[0]).toBe('slice,i,j,x,y');
    expect(rows).toHaveLength(301);
    const perSlice = [0, 0];
    const seen = new Set<string>();
    for (const row of rows.slice(1)) {
      const [s, i, j, x, y] = row.split(',').map(Number);
      expect([0, 1]).toContain(s);
      perSlice[s!]!++;
      expect(Number.isInteger(i) && i! >= 0 && i! < 24 && Number.isInteger(j) && j! >= 0 && j! < 24).toBe(true);
      expect(Math.abs(x!)).toBeLessThanOrEqual(1);
      expect(Math.abs(y!)).toBeLessThanOrEqual(1);
      seen.add(`${s},${i},${j}`);
    }
    // Sampled without repetition, from both slices.
    expect(seen.size).toBe(300);
    expect(perSlice[0]! > 0 && perSlice[1]! > 0).toBe(true);
    const summary = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8'));
    expect(summary.points).toBe(300);
    expect(summary.slices.map((s: { volumeId: string; frame: number; slice: number }) => [s.volumeId, s.frame, s.slice])).toEqual(slices.map((s) => [s.volumeId, s.frame, s.slice]));
  }, 60_000);

  it('a UMAP job over one slice reports every stage and keeps the single-slice file names', async () => {
    const job = await engine.call('jobs.enqueue', { kind: 'embed', params: { model: 'tiny', slices: [{ volumeId: volumeIds[0]!, slice: 1 }], method: 'umap', sample: 200, seed: 2 } });
    const j = await settle(engine, job.id);
    expect(j.error).toBeNull();
    expect(j.status).toBe('done');
    // umap: embed, sample, pca, neighbours, layout, place, paint, write.
    expect([j.step, j.totalSteps]).toEqual([8, 8]);
    const dir = join(ws.workspace, 'jobs', job.id, 'projection');
    expect((await readdir(dir)).sort()).toEqual(['pca.png', 'points.csv', 'projection.png', 'summary.json']);
    const rows = (await readFile(join(dir, 'points.csv'), 'utf8')).trim().split('\n');
    expect(rows[0]).toBe('i,j,x,y');
    expect(rows).toHaveLength(201);
    expect((j.result as { method: string }).method).toBe('umap');
    // One progress point per stage, in order.
    const { points } = await engine.call('jobs.progress', { id: job.id });
    expect(points.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  }, 60_000);

  it('a job naming a slice the volume lacks fails with the reason', async () => {
    const job = await engine.call('jobs.enqueue', { kind: 'embed', params: { model: 'tiny', slices: [{ volumeId: volumeIds[0]!, slice: 9 }], method: 'pca' } });
    const j = await settle(engine, job.id);
    expect(j.status).toBe('failed');
    expect(j.error).toMatch(/has 3 slice\(s\); slice 9 does not exist/);
  }, 60_000);

  it('a cancelled UMAP job stops and writes nothing', async () => {
    const slices = volumeIds.flatMap((volumeId) => [0, 1].flatMap((frame) => [0, 1, 2].map((slice) => ({ volumeId, frame, slice }))));
    const job = await engine.call('jobs.enqueue', { kind: 'embed', params: { model: 'tiny', slices, method: 'umap', sample: 6000 } });
    const t0 = Date.now();
    // Cancelled inside the projection (the 12 slices are embedded): UMAP on 1,000 landmarks takes seconds more.
    while ((await engine.call('jobs.get', { id: job.id })).step < 1 && Date.now() - t0 < 40_000) await new Promise((r) => setTimeout(r, 50));
    await engine.call('jobs.cancel', { id: job.id });
    const j = await settle(engine, job.id);
    expect(j.error).toBeNull();
    expect(j.status).toBe('cancelled');
    expect(j.step).toBeGreaterThanOrEqual(1);
    expect(j.step).toBeLessThan(7);
    const log = await engine.call('jobs.log', { id: job.id });
    expect(log.text).toMatch(/stopped after \d of 8 stages; nothing written/);
    expect(existsSync(join(ws.workspace, 'jobs', job.id, 'projection', 'summary.json'))).toBe(false);
  }, 60_000);
});
