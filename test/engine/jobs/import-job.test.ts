import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../../main/engine/create.js';
import { attachRunner } from '../../../main/jobs/index.js';
import { syntheticWorkspace } from './fixture.js';

/** An import as a background job: runs in a worker, reports progress, and the library sees the volumes. */
describe('import job', () => {
  let ws: Awaited<ReturnType<typeof syntheticWorkspace>>;
  let target: string;
  beforeAll(async () => {
    ws = await syntheticWorkspace('import');
    target = mkdtempSync(join(tmpdir(), 'p2r-import-job-'));
  });
  afterAll(() => {
    ws?.cleanup();
    rmSync(target, { recursive: true, force: true });
  });

  it('imports in a worker process; job.state events reach the engine listeners', async () => {
    const engine = createEngine({ workspace: target });
    const states: string[] = [];
    engine.onEvent((e, d) => {
      if (e === 'job.state') states.push((d as { job: { status: string } }).job.status);
      if (e === 'library.changed') states.push(`changed: ${(d as { reason: string }).reason}`);
    });
    const runner = await attachRunner(engine, { workspace: target, pollMs: 100 });
    try {
      const job = await engine.call('jobs.enqueue', { kind: 'import', params: { paths: [join(dirname(ws.workspace), 'src')] } });
      let j = await engine.call('jobs.get', { id: job.id });
      const t0 = Date.now();
      while (!['done', 'failed', 'cancelled'].includes(j.status) && Date.now() - t0 < 90_000) {
        await new Promise((r) => setTimeout(r, 100));
        j = await engine.call('jobs.get', { id: job.id });
      }
      expect(j.error).toBeNull();
      expect(j.status).toBe('done');
      expect(j.result).toMatchObject({ volumesAdded: 2, studiesAdded: 2 });
      expect(states).toEqual(['queued', 'running', 'done', 'changed: import job']);
      const { studies } = await engine.call('library.listStudies');
      expect(studies).toHaveLength(2);
    } finally {
      await runner?.stop();
    }
  }, 120_000);
});
