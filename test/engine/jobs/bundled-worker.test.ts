import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildElectron } from '../../../scripts/build-electron.mjs';
import { enqueueJob } from '../../../main/jobs/enqueue.js';
import { JobRunner } from '../../../main/jobs/runner.js';
import { BUNDLED_WORKER, workerForHost } from '../../../main/jobs/worker-entry.js';
import { openStore, syntheticWorkspace, tinyPretrain, WORKER_ENV } from './fixture.js';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * The packaged app has no tsx and no sources: its engine forks the compiled job-worker.js. The bundle is built
 * inside the project (.tmp/) so its external packages resolve from node_modules, as they do in the app.
 */
describe('bundled job worker', () => {
  const outdir = join(projectRoot, '.tmp', `jobs-build-${process.pid}`);
  let ws: Awaited<ReturnType<typeof syntheticWorkspace>>;
  beforeAll(async () => {
    [ws] = await Promise.all([syntheticWorkspace('bundled'), buildElectron({ outdir, quiet: true })]);
  }, 120_000);
  afterAll(() => {
    rmSync(outdir, { recursive: true, force: true });
    ws?.cleanup();
  });

  it('build:electron writes the worker next to the engine bundle, without tsx', () => {
    const worker = join(outdir, 'engine', BUNDLED_WORKER);
    expect(existsSync(worker)).toBe(true);
    expect(readFileSync(worker, 'utf8')).not.toMatch(/from\s*["']tsx/);
  });

  it('the host picks the compiled worker only when it runs bundled; under Electron the fork runs as Node', () => {
    const bundledHost = pathToFileURL(join(outdir, 'engine', 'process-entry.js')).href;
    expect(workerForHost(bundledHost, {})).toEqual({ workerEntry: join(outdir, 'engine', BUNDLED_WORKER) });
    expect(workerForHost(bundledHost, { electron: '39.0.0' })).toEqual({
      workerEntry: join(outdir, 'engine', BUNDLED_WORKER),
      workerEnv: { ELECTRON_RUN_AS_NODE: '1' },
    });
    expect(workerForHost(pathToFileURL(join(projectRoot, 'main', 'engine', 'process-entry.ts')).href)).toEqual({});
    expect(() => workerForHost(pathToFileURL(join(outdir, 'nowhere', 'process-entry.js')).href)).toThrow(/job worker .*job-worker\.js is missing/);
  });

  it('a runner started with the compiled worker runs a tiny pretraining to done', async () => {
    const { lib, store } = openStore(ws.workspace);
    let id: string;
    try {
      id = enqueueJob(store, { kind: 'pretrain', params: tinyPretrain(2) }).id;
    } finally {
      lib.close();
    }
    const runner = new JobRunner({
      workspace: ws.workspace,
      pollMs: 100,
      exitWhenIdle: true,
      workerEnv: WORKER_ENV,
      workerEntry: join(outdir, 'engine', BUNDLED_WORKER),
    });
    await runner.start();
    try {
      await runner.idle;
    } finally {
      await runner.stop();
    }
    const after = openStore(ws.workspace);
    try {
      const row = after.store.get(id)!;
      expect(row.error).toBeNull();
      expect(row.status).toBe('done');
      expect(row.step).toBe(2);
      expect(row.model_id).toMatch(/^model-/);
    } finally {
      after.lib.close();
    }
  }, 60_000);
});
