import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { experimentCommand } from '../../../../main/cli/commands/experiment.js';
import { UsageError } from '../../../../main/cli/command.js';
import { initBackend } from '../../../../main/ml/backends/init.js';
import { BUDGETS } from '../../../../main/ml/experiment/budgets.js';
import { loadSplit, runAcdcExperiment, runCacheKey, type ExperimentResult, type RunKind, type RunResult } from '../../../../main/ml/experiment/acdc.js';
import { RunWorkers } from '../../../../main/ml/experiment/run-workers.js';
import { fewShotConfig } from '../../../../main/ml/fewshot/config.js';
import { EngineFailure } from '../../../../main/engine/errors.js';
import { dataPath, hasData } from '../../../support/data.js';

describe('pix2rep experiment acdc --jobs', () => {
  it('refuses a --jobs that is not a positive integer before doing anything', async () => {
    for (const bad of ['0', '-1', '1.5', 'two', '']) {
      await expect(experimentCommand.run(['acdc', '--jobs', bad, '--data', '/nonexistent'])).rejects.toThrow(UsageError);
    }
  });

  it("names the run and passes on the worker's error and code", async () => {
    const b = BUDGETS.smoke;
    const workers = new RunWorkers(1, { inputs: { dataDir: join(tmpdir(), 'p2r-no-such-acdc'), preprocess: b.preprocess, classes: [1, 2, 3], labeled: { '1': ['patient001'] }, selection: ['patient002'], scored: ['patient003'], poolImages: [] } });
    try {
      const spec = { regime: '1', seed: 1, method: 'pix2rep-finetune' as const, config: fewShotConfig('finetune', { model: b.model, preprocess: b.preprocess, steps: 2, batch: 2 }), backbone: { name: 'pix2rep' as const, path: '/nonexistent.p2r' } };
      const err = await workers.run(0, spec).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(EngineFailure);
      expect((err as EngineFailure).code).toBe('NOT_FOUND');
      expect((err as Error).message).toMatch(/^regime 1 seed 1 pix2rep-finetune failed on worker 0: ACDC patient patient001 not found under /);
    } finally {
      await workers.close();
    }
    await expect(workers.run(0, {} as never)).rejects.toThrow(/closed/);
  }, 120_000);
});

/** Every file of the work folder's run caches, by path relative to it. */
function cachedRuns(work: string): Map<string, { key: string; result: RunResult }> {
  const out = new Map<string, { key: string; result: RunResult }>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.json') && relative(work, p).split('/').includes('runs')) out.set(relative(work, p), JSON.parse(readFileSync(p, 'utf8')));
    }
  };
  walk(work);
  return out;
}

const withoutSeconds = ({ seconds: _s, ...r }: RunResult) => r;

describe.skipIf(!hasData('acdc'))('the smoke budget on one and on two worker threads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2r-jobs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeAll(async () => {
    await initBackend();
  });
  const results: Record<number, { result: ExperimentResult; logs: string[] }> = {};
  const run = async (jobs: number, work = join(dir, `jobs-${jobs}`)) => {
    const logs: string[] = [];
    const result = await runAcdcExperiment({ dataDir: dataPath('acdc'), budget: 'smoke', workDir: work, evalOn: 'dev', jobs, onLog: (t) => logs.push(t) });
    return { result, logs };
  };

  // Each run is a whole smoke experiment: 30–100 s here, depending on what else the machine runs.
  it('runs with --jobs 1', async () => {
    results[1] = await run(1);
  }, 600_000);

  it('runs with --jobs 2', async () => {
    results[2] = await run(2);
  }, 600_000);

  it('gives the same runs, in the same order, cached under the same files and keys', () => {
    const [one, two] = [results[1], results[2]];
    expect(one && two).toBeTruthy();
    const a = one!.result.runs;
    const b = two!.result.runs;
    expect(a.map((r) => `${r.regime}-${r.seed}-${r.method}`)).toEqual(['1-1-supervised', '1-1-untrained-finetune', '1-1-pix2rep-linear', '1-1-pix2rep-finetune', '1-1-pix2rep-v2-linear', '1-1-pix2rep-v2-finetune', '1-1-mean-teacher']);
    // Bit for bit: toEqual compares the floats exactly.
    expect(b.map(withoutSeconds)).toEqual(a.map(withoutSeconds));

    // The same cache files; each key is what the run's kind gets from this folder's pretraining (the keys of
    // the two folders differ only by the checkpoints' paths).
    const ca = cachedRuns(join(dir, 'jobs-1'));
    const cb = cachedRuns(join(dir, 'jobs-2'));
    expect([...cb.keys()].sort()).toEqual([...ca.keys()].sort());
    expect(cb.size).toBe(b.length);
    const split = loadSplit();
    const pretrainingKey = two!.result.pretraining.map((p): [string, number, string] => [p.method, p.steps, p.checkpoint]);
    const control = two!.result.control!;
    const controlKey: Array<[string, number, string]> = [[`${control.method} (untrained control)`, control.steps, control.checkpoint]];
    for (const [file, saved] of cb) {
      const r = saved.result;
      const kind: RunKind = r.method === 'supervised' ? 'scratch' : r.method === 'mean-teacher' && r.base === 'supervised' ? 'scratch-mean-teacher' : r.method.endsWith('-linear') ? 'linear' : r.method === 'untrained-finetune' ? 'control' : 'other';
      expect(saved.key, file).toBe(runCacheKey(BUDGETS.smoke, split, r.method === 'untrained-finetune' ? controlKey : pretrainingKey, {}, 'dev', kind));
      expect(withoutSeconds(r)).toEqual(withoutSeconds(ca.get(file)!.result));
    }

    // Every run is logged once, as with one thread.
    const runLines = (logs: string[]) => logs.filter((t) => t.startsWith('regime ')).map((t) => t.replace(/, \d+ s\)$/, ')'));
    expect(runLines(two!.logs).sort()).toEqual(runLines(one!.logs).sort());
    expect(two!.logs).toContain('downstream: 7 runs on up to 2 worker threads');
  });

  it('answers cached runs without training them again', async () => {
    const again = await run(2);
    expect(again.result.runs).toEqual(results[2]!.result.runs);
    expect(again.logs.filter((t) => t.startsWith('regime ')).every((t) => t.endsWith(', from an earlier run)'))).toBe(true);
    expect(again.result.invocations!.at(-1)).toMatchObject({ trainedRuns: 0, reusedRuns: 7 });
  }, 300_000);

  it('stops its workers and reports the cancellation', async () => {
    // The finished pretraining of --jobs 1, copied: only the downstream runs are left to train.
    const work = join(dir, 'cancel');
    for (const m of ['pix2rep', 'pix2rep-v2', 'control']) cpSync(join(dir, 'jobs-1', `pretrain-${m}`), join(work, `pretrain-${m}`), { recursive: true });
    const ac = new AbortController();
    const done = runAcdcExperiment({
      dataDir: dataPath('acdc'),
      budget: 'smoke',
      workDir: work,
      evalOn: 'dev',
      jobs: 2,
      signal: ac.signal,
      // At the first finished run the other worker is still busy: it is stopped mid-run.
      onLog: (t) => t.startsWith('regime ') && ac.abort(),
    });
    const err = await done.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EngineFailure);
    expect((err as EngineFailure).code).toBe('CANCELLED');
  }, 300_000);
});
