import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/ml/backends/init.js';
import { BUDGETS } from '../../../../main/ml/experiment/budgets.js';
import { loadSplit, runAcdcExperiment, runCacheKey, type ExperimentResult } from '../../../../main/ml/experiment/acdc.js';
import { parseLevers } from '../../../../main/ml/experiment/levers.js';
import { readCheckpoint } from '../../../../main/ml/pretrain/checkpoint.js';
import { EngineFailure } from '../../../../main/engine/errors.js';
import { dataPath, hasData } from '../../../support/data.js';

describe('the backboneStep lever', () => {
  it('is a positive integer', () => {
    expect(parseLevers(['backboneStep=3000'])).toEqual({ backboneStep: 3000 });
    expect(() => parseLevers(['backboneStep=0'])).toThrow(/backboneStep must be a positive integer/);
  });

  it("changes no key of the untrained control, every other fine-tuned run's", () => {
    const split = loadSplit();
    const pre: Array<[string, number, string]> = [['pix2rep', 6, '/w/pretrain-pix2rep/best.p2r']];
    const control: Array<[string, number, string]> = [['pix2rep (untrained control)', 1, '/w/pretrain-control/last.p2r']];
    expect(runCacheKey(BUDGETS.smoke, split, control, { backboneStep: 3 }, 'dev', 'control')).toBe(runCacheKey(BUDGETS.smoke, split, control, {}, 'dev', 'control'));
    expect(runCacheKey(BUDGETS.smoke, split, pre, { backboneStep: 3 }, 'dev', 'other')).not.toBe(runCacheKey(BUDGETS.smoke, split, pre, {}, 'dev', 'other'));
    // Without levers, the control's key is the fine-tuned runs' key of its own backbone.
    expect(runCacheKey(BUDGETS.smoke, split, control, {}, 'dev', 'control')).toBe(runCacheKey(BUDGETS.smoke, split, control, {}, 'dev', 'other'));
  });
});

/**
 * Smoke budget, v1 only, readout every 3 of its 6 pretraining steps: checkpoints kept at steps 0, 3 and 6. Then
 * the downstream methods from step 3: only the runs that start from a backbone are trained again.
 */
describe.skipIf(!hasData('acdc'))('downstream runs from a kept checkpoint of the pretraining', () => {
  const work = mkdtempSync(join(tmpdir(), 'p2r-bstep-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  beforeAll(async () => {
    await initBackend();
  });
  const run = async (sets: string[]) => {
    const logs: string[] = [];
    const result = await runAcdcExperiment({ dataDir: dataPath('acdc'), budget: 'smoke', workDir: work, evalOn: 'dev', levers: parseLevers(['method=v1', 'readout=3', 'meanTeacher=off', ...sets]), onLog: (t) => logs.push(t) });
    return { result, logs };
  };
  let full: ExperimentResult;

  it('keeps the checkpoint of every readout of the experiment', async () => {
    full = (await run([])).result;
    expect(full.pretraining[0]!.readout!.map((p) => p.step)).toEqual([0, 3, 6]);
    const dir = join(work, 'pretrain-pix2rep');
    expect(readdirSync(dir).filter((n) => n.startsWith('step-')).sort()).toEqual(['step-0.p2r', 'step-3.p2r', 'step-6.p2r']);
    expect((await readCheckpoint(join(dir, 'step-3.p2r'))).header.step).toBe(3);
    expect(full.runs.map((r) => r.method)).toEqual(['supervised', 'untrained-finetune', 'pix2rep-linear', 'pix2rep-finetune']);
  }, 600_000);

  it('trains the backbone methods from that step and reuses the baseline and the control, without continuing the pretraining', async () => {
    // Without its last checkpoint the pretraining would start again from step 0: it must not run at all.
    const dir = join(work, 'pretrain-pix2rep');
    const lastLoss = full.pretraining[0]!.lastLoss;
    rmSync(join(dir, 'last.p2r'));
    const { result, logs } = await run(['backboneStep=3']);
    expect(existsSync(join(dir, 'last.p2r'))).toBe(false);
    const kept = await readCheckpoint(join(dir, 'step-3.p2r'));
    expect(result.pretraining[0]).toEqual({ method: 'pix2rep', steps: 3, lastLoss: kept.header.history.at(-1)!.loss, bestValidationLoss: kept.header.bestValidationLoss, checkpoint: join(dir, 'step-3.p2r') });
    expect(result.pretraining[0]!.lastLoss).not.toBe(lastLoss);
    const fresh = logs.filter((t) => t.startsWith('regime ') && !t.endsWith('from an earlier run)')).map((t) => t.split(':')[0]);
    expect(fresh).toEqual(['regime 1 seed 1 pix2rep-linear', 'regime 1 seed 1 pix2rep-finetune']);
    const byMethod = (r: ExperimentResult, m: string) => r.runs.find((x) => x.method === m)!;
    expect(byMethod(result, 'untrained-finetune')).toEqual(byMethod(full, 'untrained-finetune'));
    expect(byMethod(result, 'supervised')).toEqual(byMethod(full, 'supervised'));
    // A backbone three steps younger is another network: its fine-tuned Dice is its own.
    expect(byMethod(result, 'pix2rep-finetune').patients).not.toEqual(byMethod(full, 'pix2rep-finetune').patients);
    expect(existsSync(join(work, 'levers', 'backboneStep-3_method-v1_eval-dev', 'runs', '1-1-pix2rep-finetune.json'))).toBe(true);
  }, 600_000);

  it('refuses a step without a kept checkpoint before any training, naming what is kept', async () => {
    const err = await run(['backboneStep=4']).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EngineFailure);
    expect((err as Error).message).toMatch(/^backboneStep=4: .*step-4\.p2r does not exist \(kept readout checkpoints: 0, 3, 6\)$/);
  }, 600_000);
});
