import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { experimentCommand } from '../../../../main/cli/commands/experiment.js';
import { UsageError } from '../../../../main/cli/command.js';
import { cineFile, devRoles, loadBaselineResult, loadSplit, patientFiles, resultDir, runCacheKey, saveResult } from '../../../../main/ml/experiment/acdc.js';
import { niftiSliceSource } from '../../../../main/ml/pretrain/source.js';
import { readNiftiHeader } from '../../../../main/io/nifti.js';
import { BUDGETS } from '../../../../main/ml/experiment/budgets.js';
import {
  leverArgs,
  leverFewShotOverrides,
  leverModel,
  leverPretrainOverrides,
  downstreamSchedule,
  leverSlug,
  parseLevers,
  pretrainingLevers,
  runsToTrain,
} from '../../../../main/ml/experiment/levers.js';
import { downstreamCurveMarkdown, leverEffectMarkdown, leverSectionKey } from '../../../../main/ml/experiment/levers-report.js';
import type { ExperimentResult, RunResult } from '../../../../main/ml/experiment/acdc.js';
import { pretrainConfig } from '../../../../main/ml/config.js';
import { fewShotConfig } from '../../../../main/ml/fewshot/config.js';
import { readReadout } from '../../../../main/ml/pretrain/readout.js';
import { dataPath, hasData } from '../../../support/data.js';
import { jsonLinesOf } from '../../../support/cli.js';

describe('lever parsing', () => {
  it('parses every kind of value and names the offending key otherwise', () => {
    const l = parseLevers(['temperature=0.1', 'samples=2000', 'method=v2', 'embedding=32', 'base=8', 'schedule=cosine', 'warmup=10', 'frames=cine', 'rotation=180', 'flips=on', 'readout=25', 'probeSteps=40', 'steps=300', 'lr=1e-3', 'workers=2']);
    expect(l).toEqual({ temperature: 0.1, samples: 2000, method: 'v2', embedding: 32, base: 8, schedule: 'cosine', warmup: 10, frames: 'cine', rotation: 180, flips: true, readout: 25, probeSteps: 40, steps: 300, lr: 1e-3, workers: 2 });
    expect(() => parseLevers(['workers=0'])).toThrow(/workers must be a positive integer/);
    expect(parseLevers([])).toEqual({});
    expect(() => parseLevers(['temp=0.1'])).toThrow(/unknown --set key "temp"/);
    expect(() => parseLevers(['temperature'])).toThrow(/key=value/);
    expect(() => parseLevers(['temperature=-1'])).toThrow(/temperature must be a number > 0/);
    expect(() => parseLevers(['rotation=270'])).toThrow(/rotation .*\[0, 180\]/);
    expect(() => parseLevers(['embedding=3.5'])).toThrow(/embedding must be a positive integer/);
    expect(() => parseLevers(['method=v3'])).toThrow(/method must be one of v1, v2/);
    expect(() => parseLevers(['warmup=5'])).toThrow(/schedule=cosine/);
    expect(() => parseLevers(['flips=yes'])).toThrow(/flips must be one of on, off/);
    expect(() => parseLevers(['base=8', 'base=16'])).toThrow(/twice/);
  });

  it('names folders and sections from the recipe levers only, in key order', () => {
    const l = parseLevers(['temperature=0.1', 'rotation=180', 'readout=25']);
    expect(leverSlug(l)).toBe('rotation-180_temperature-0.1');
    expect(leverSlug(pretrainingLevers(l))).toBe('temperature-0.1');
    // Two workers change the pretraining objective (per-shard negatives): their own checkpoints.
    expect(leverSlug(pretrainingLevers(parseLevers(['workers=2', 'rotation=180'])))).toBe('workers-2');
    expect(leverArgs(l)).toEqual(['readout=25', 'rotation=180', 'temperature=0.1']);
    expect(leverSectionKey('2h', l, 'dev')).toBe('2h:levers:rotation-180_temperature-0.1:eval-dev');
    expect(leverSectionKey('2h', {}, 'dev')).toBe('2h:levers:none:eval-dev');
    // Leaving out Mean Teacher or the larger baseline regimes names no folder; it only trims what is trained.
    const lean = parseLevers(['rotation=180', 'meanTeacher=off', 'baselines=off']);
    expect(lean).toEqual({ rotation: 180, meanTeacher: false, baselines: false });
    expect(leverSlug(lean)).toBe('rotation-180');
    expect(runsToTrain(BUDGETS['2h'], lean)).toEqual({ meanTeacher: false, baselineRegimes: [] });
    expect(runsToTrain(BUDGETS['2h'], {})).toEqual({ meanTeacher: true, baselineRegimes: ['2', '5'] });
    expect(runsToTrain({ meanTeacher: false, baselineRegimes: [] }, parseLevers(['meanTeacher=on']))).toEqual({ meanTeacher: true, baselineRegimes: [] });
    expect(() => parseLevers(['meanTeacher=no'])).toThrow(/meanTeacher must be one of on, off/);
  });

  it('applies architecture, pretraining and downstream levers (hand-checked values)', () => {
    const b = BUDGETS['2h'];
    const m = leverModel(b.model, { embedding: 32, base: 8 });
    expect(m.unet).toMatchObject({ levels: 4, base: 8, embedding: 32 });
    expect(m.head).toEqual({ hidden: 32, out: 32 });
    expect(m.preset).toBe('custom');
    expect(leverModel(b.model, {})).toBe(b.model);
    // Cosine with the default warm-up: 5% of 150 steps = 7.5 → 8.
    const o = leverPretrainOverrides({ schedule: 'cosine', temperature: 0.2 }, 150);
    expect(o).toEqual({ loss: { temperature: 0.2 }, optimizer: { schedule: { kind: 'warmup-cosine', warmupSteps: 8, totalSteps: 150, minFraction: 0 } } });
    const cfg = pretrainConfig('compact', { ...o, loss: { ...o.loss, method: 'pix2rep-v2' } });
    expect(cfg.loss).toMatchObject({ temperature: 0.2, method: 'pix2rep-v2', samples: 1000 });
    expect(leverPretrainOverrides({}, 150)).toEqual({});
    // Every downstream method gets the same augmentation, the supervised baseline included.
    const d = leverFewShotOverrides({ rotation: 180, flips: true }, 'scratch');
    for (const mode of ['supervised', 'linear', 'finetune', 'mean-teacher'] as const) {
      const f = fewShotConfig(mode, { ...d, steps: 5 });
      expect(f.augment.rotationDeg).toEqual([-180, 180]);
      expect(f.augment.flipWeights).toEqual({ x: 1, y: 1, none: 1 });
      expect(f.augment.zoomScale).toEqual([0.85, 1.15]);
    }
    expect(fewShotConfig('supervised', leverFewShotOverrides({}, 'scratch')).augment.rotationDeg).toEqual([-30, 30]);
  });
});

describe('run cache key and dev roles', () => {
  it('keys a run by what decides it: the probe steps only for the linear probe, pretraining not for the scratch baseline', () => {
    const budget = BUDGETS['2h'];
    const split = loadSplit();
    const pre: Array<[string, number, string]> = [['pix2rep', 150, '/w/pretrain-pix2rep/best.p2r']];
    const hash = (o: object) => createHash('sha256').update(JSON.stringify(o)).digest('hex').slice(0, 16);
    // The formula written out: the budget without the probe's steps, or with them, the probe's kind and its cache rule.
    const { linearSteps, ...rest } = budget;
    // A fine-tuned run at the default rate names it (1e-3 since 26 Nov); the probe's does not (no backbone trained).
    // Every run at the default downstream flips names them (on since 27 Nov) as if set by lever.
    const plain = hash({ budget: rest, split, pretraining: pre, finetuneLr: 1e-3, levers: { flips: true }, evalOn: 'test' });
    const probe = hash({ budget: { ...rest, probe: { kind: 'balanced-full-batch', steps: linearSteps, cache: 'kept-pixels' } }, split, pretraining: pre, levers: { flips: true }, evalOn: 'test' });
    const scratch = hash({ budget: rest, split, levers: { flips: true }, evalOn: 'test', scratch: true });
    expect(runCacheKey(budget, split, pre)).toBe(plain);
    expect(runCacheKey(budget, split, pre, {}, 'test', 'linear')).toBe(probe);
    expect(runCacheKey(budget, split, pre, {}, 'test', 'scratch')).toBe(scratch);
    // flips=on is the default's run; flips=off (the default before 27 Nov) is another, for every kind of run.
    expect(runCacheKey(budget, split, pre, { flips: true })).toBe(plain);
    expect(runCacheKey(budget, split, pre, { flips: true }, 'test', 'scratch')).toBe(scratch);
    expect(runCacheKey(budget, split, pre, { flips: false })).not.toBe(plain);
    expect(runCacheKey(budget, split, pre, { flips: false }, 'test', 'linear')).not.toBe(probe);
    expect(runCacheKey(budget, split, pre, { flips: false }, 'test', 'scratch')).not.toBe(scratch);
    // Another probe length re-trains the probe and nothing else.
    const longer = { ...budget, linearSteps: linearSteps + 100 };
    expect(runCacheKey(longer, split, pre)).toBe(plain);
    expect(runCacheKey(longer, split, pre, {}, 'test', 'linear')).not.toBe(probe);
    expect(runCacheKey(budget, split, pre, { readout: 25 })).toBe(plain);
    // Which runs are trained is no recipe: leaving Mean Teacher or the larger baseline regimes out changes no key.
    expect(runCacheKey(budget, split, pre, { meanTeacher: false, baselines: false })).toBe(plain);
    expect(runCacheKey(budget, split, pre, { meanTeacher: false }, 'test', 'scratch')).toBe(scratch);
    expect(runCacheKey(budget, split, pre, { rotation: 180 })).not.toBe(plain);
    // A rate set by lever keys as before the default changed: the lever, no default beside it.
    expect(runCacheKey(budget, split, pre, { finetuneLr: 1e-3 }, 'dev')).toBe(hash({ budget: rest, split, pretraining: pre, levers: { finetuneLr: 1e-3, flips: true }, evalOn: 'dev' }));
    expect(runCacheKey(budget, split, pre, {}, 'dev')).not.toBe(plain);
    // The scratch baseline ignores pretraining and its levers, not the downstream or architecture ones.
    expect(runCacheKey(budget, split, [], { temperature: 0.1, steps: 900, views: 'geometric' }, 'test', 'scratch')).toBe(scratch);
    expect(runCacheKey(budget, split, pre, { rotation: 180 }, 'test', 'scratch')).not.toBe(scratch);
    expect(runCacheKey(budget, split, pre, { base: 8 }, 'test', 'scratch')).not.toBe(scratch);
    expect(runCacheKey(budget, split, pre, {}, 'dev', 'scratch')).not.toBe(scratch);
    // Downstream length retrains the baseline and the fine-tuned networks, never the probe (its own step count).
    expect(runCacheKey(budget, split, pre, { downstream: 600 }, 'test', 'scratch')).not.toBe(scratch);
    expect(runCacheKey(budget, split, pre, { downstream: 600 })).not.toBe(plain);
    expect(runCacheKey(budget, split, pre, { downstream: 600 }, 'test', 'linear')).toBe(probe);
    // Nor fine-tuning's rate: the probe trains no backbone.
    expect(runCacheKey(budget, split, pre, { finetuneLr: 1e-3, downstream: 600 }, 'test', 'linear')).toBe(probe);
    expect(runCacheKey(budget, split, pre, { downstream: 600, rotation: 180 }, 'dev', 'linear')).toBe(runCacheKey(budget, split, pre, { rotation: 180 }, 'dev', 'linear'));
    // Mean Teacher on the supervised network: shared like the baseline, but its unlabeled pool follows `frames`.
    const mt = hash({ budget: rest, split, levers: { flips: true }, evalOn: 'test', scratch: true, meanTeacher: 'supervised' });
    expect(runCacheKey(budget, split, pre, {}, 'test', 'scratch-mean-teacher')).toBe(mt);
    expect(runCacheKey(budget, split, [], { temperature: 0.1, finetuneLr: 1e-3, workers: 2 }, 'test', 'scratch-mean-teacher')).toBe(mt);
    expect(runCacheKey(budget, split, pre, { frames: 'cine' }, 'test', 'scratch-mean-teacher')).not.toBe(mt);
    expect(runCacheKey(budget, split, pre, { downstream: 600 }, 'test', 'scratch-mean-teacher')).not.toBe(mt);
    expect(mt).not.toBe(scratch);
    // The scratch head rate retrains the networks from scratch (and, keyed by the whole recipe, the fine-tuned
    // ones); never the probe.
    expect(runCacheKey(budget, split, pre, { scratchHeadLr: 1e-2 }, 'test', 'scratch')).not.toBe(scratch);
    expect(runCacheKey(budget, split, pre, { scratchHeadLr: 1e-2 }, 'test', 'scratch-mean-teacher')).not.toBe(mt);
    expect(runCacheKey(budget, split, pre, { scratchHeadLr: 1e-2 }, 'test', 'linear')).toBe(probe);
    // No pretraining is not a scratch network's lever: method=none shares the baseline's runs.
    expect(runCacheKey(budget, split, [], { method: 'none', downstream: 600 }, 'dev', 'scratch')).toBe(runCacheKey(budget, split, pre, { method: 'v1', downstream: 600 }, 'dev', 'scratch'));
  });

  it('stretches the validation schedule with the downstream length, keeping its share of the run', () => {
    const b = BUDGETS['2h']; // 60 steps, validation every 10, patience 4
    expect(downstreamSchedule(b, {})).toEqual({ steps: 60, validateEvery: 10, patience: 4 });
    expect(downstreamSchedule(b, parseLevers(['downstream=600']))).toEqual({ steps: 600, validateEvery: 100, patience: 4 });
    expect(downstreamSchedule(b, { downstream: 90 })).toEqual({ steps: 90, validateEvery: 15, patience: 4 });
    expect(downstreamSchedule(b, { downstream: 3 })).toEqual({ steps: 3, validateEvery: 1, patience: 4 });
    expect(() => parseLevers(['downstream=0'])).toThrow(/downstream must be a positive integer/);
    expect(leverSlug(parseLevers(['downstream=600', 'method=v1']))).toBe('downstream-600_method-v1');
  });

  it('selects on the budget prefix and scores on the dev patients after it', () => {
    const dev = ['a', 'b', 'c', 'd', 'e'];
    expect(devRoles(dev, 3, 'test', 10)).toEqual({ selection: ['a', 'b', 'c'], scoring: [] });
    expect(devRoles(dev, 3, 'dev', 10)).toEqual({ selection: ['a', 'b', 'c'], scoring: ['d', 'e'] });
    expect(devRoles(dev, 1, 'dev', 2)).toEqual({ selection: ['a'], scoring: ['b', 'c'] });
    // A budget that selects on every dev patient: half select (3 of 5), the rest score.
    expect(devRoles(dev, null, 'dev', null)).toEqual({ selection: ['a', 'b', 'c'], scoring: ['d', 'e'] });
    expect(devRoles(dev, null, 'test', null)).toEqual({ selection: dev, scoring: [] });
  });
});

describe('the lever against its baseline', () => {
  const run = (seed: number, dice: Record<string, [number, number, number]>): RunResult => ({
    regime: '1',
    seed,
    method: 'supervised',
    validationDice: 0.5,
    steps: 10,
    bestStep: 10,
    seconds: 1,
    patients: Object.entries(dice).map(([patient, [RV, MYO, LV]]) => ({ patient, dice: { RV, MYO, LV } })),
    mean: { RV: 0, MYO: 0, LV: 0, mean: 0 },
  });
  const result = (levers: ExperimentResult['levers'], runs: RunResult[]): ExperimentResult => ({
    budget: BUDGETS.smoke,
    backend: 'cpu',
    wallSeconds: 1,
    pretraining: [],
    runs,
    split: { pool: 3, dev: ['d0'], test: [], labeled: {} },
    ...(levers ? { levers } : {}),
    evaluation: { on: 'dev', patients: ['p1', 'p2'], selection: ['d0'] },
  });

  it('gives paired per-patient differences with the t interval (hand-computed)', () => {
    // Lever: p1 means 0.6 and 0.8 over two seeds → 0.7; p2 → 0.5. Baseline: p1 0.6, p2 0.2.
    // Differences 0.1 and 0.3: mean 0.2, SD 0.1414, half-width 12.706 · 0.1414 / √2 = 1.2706.
    const lever = result({ rotation: 180 }, [run(1, { p1: [0.6, 0.6, 0.6], p2: [0.5, 0.5, 0.5] }), run(2, { p1: [0.8, 0.8, 0.8], p2: [0.4, 0.5, 0.6] })]);
    const base = result(undefined, [run(1, { p1: [0.5, 0.6, 0.7], p2: [0.2, 0.2, 0.2] })]);
    const md = leverEffectMarkdown(lever, base);
    expect(md).toContain('| 1 | supervised | +0.200 | −1.071 to +1.471 | 2 of 2 |');
    expect(leverEffectMarkdown(lever, null)).toContain('No baseline to compare with yet');
    expect(leverEffectMarkdown(base, base)).toBe('');
  });

  it('prints the downstream curve averaged over the seeds that reached each step (hand-computed)', () => {
    const curved = (seed: number, curve: RunResult['curve']): RunResult => ({ ...run(seed, { p1: [0.5, 0.5, 0.5] }), curve });
    // Seed 1 stopped early after step 20: steps 0 and 10 average both seeds, step 20 only seed 2's.
    const r = result({ downstream: 20 }, [curved(1, [{ step: 0, dice: 0.1 }, { step: 10, dice: 0.4 }]), curved(2, [{ step: 0, dice: 0.2 }, { step: 10, dice: 0.5 }, { step: 20, dice: 0.7 }])]);
    expect(downstreamCurveMarkdown(r)).toContain('| 1 | supervised | 0: 0.150 · 10: 0.450 · 20: 0.700 (1 of 2 seeds) |');
    expect(downstreamCurveMarkdown(result({ rotation: 180 }, r.runs))).toBe('');
  });

  it('keeps results where the runs are: the work folder without overrides, levers/… with them', () => {
    const work = mkdtempSync(join(tmpdir(), 'p2r-result-'));
    try {
      expect(resultDir(work, {}, 'test')).toBe(work);
      expect(resultDir(work, { readout: 5 }, 'test')).toBe(work);
      expect(resultDir(work, {}, 'dev')).toBe(join(work, 'levers', 'eval-dev'));
      expect(resultDir(work, { rotation: 180 }, 'dev')).toBe(join(work, 'levers', 'rotation-180_eval-dev'));
      expect(loadBaselineResult(work, 'dev')).toBeNull();
      const base = result(undefined, [run(1, { p1: [0.5, 0.6, 0.7] })]);
      saveResult(work, base);
      saveResult(work, result({ rotation: 180 }, []));
      expect(loadBaselineResult(work, 'dev')).toEqual(base);
      expect(existsSync(join(work, 'levers', 'rotation-180_eval-dev', 'result.json'))).toBe(true);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('pix2rep experiment acdc --set: usage errors', () => {
  it('refuses unknown keys, bad values and a bad --eval before touching any data', async () => {
    await expect(experimentCommand.run(['acdc', '--set', 'temp=1'])).rejects.toThrow(UsageError);
    await expect(experimentCommand.run(['acdc', '--set', 'rotation=400'])).rejects.toThrow(/rotation/);
    await expect(experimentCommand.run(['acdc', '--eval', 'test2'])).rejects.toThrow(/--eval must be test or dev/);
  });
});

describe.skipIf(!hasData('acdc'))('frames=cine', () => {
  it('finds the 4D cine where the data has one, and its every frame becomes pretraining slices', async () => {
    const acdc = dataPath('acdc');
    const cine = cineFile(acdc, 'patient090')!;
    expect(cine).toMatch(/patient090_4d\.nii\.gz$/);
    expect(cineFile(acdc, 'patient001')).toBeNull();
    const pre = BUDGETS.smoke.preprocess;
    const all = await niftiSliceSource([cine], pre);
    const edes = await niftiSliceSource(patientFiles(acdc, 'patient090').frames.map((f) => f.image), pre);
    const h = await readNiftiHeader(cine);
    // Every (slice, frame) of the cycle: nk · frames, against 2 · nk for ED and ES.
    expect(all.slices.length).toBe(h.dims[2] * h.frames);
    expect(edes.slices.length).toBe(2 * h.dims[2]);
    expect(h.frames).toBeGreaterThan(2);
  });
});

describe.skipIf(!hasData('acdc'))('pix2rep experiment acdc --budget smoke with levers, scored on dev', () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2r-levers-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs with its overrides in its own folders and report section, with a readout, never opening the test split', async () => {
    const report = join(dir, 'EVALUATION.md');
    writeFileSync(report, '# Evaluation\n\n<!-- experiment:acdc:smoke:start -->\nthe budget section\n<!-- experiment:acdc:smoke:end -->\n');
    const work = join(dir, 'work');
    const argv = ['acdc', '--budget', 'smoke', '--set', 'method=v1', '--set', 'temperature=0.2', '--set', 'rotation=180', '--set', 'flips=on', '--set', 'readout=3'];
    const { code, lines: events } = await jsonLinesOf(() =>
      experimentCommand.run([...argv, '--set', 'probeSteps=4', '--eval', 'dev', '--data', dataPath('acdc'), '--work', work, '--report', report, '--json']),
    );
    expect(code).toBe(0);
    const done = events.find((e) => e.event === 'done') as {
      runs: Array<{ method: string; base?: string; mean: Record<string, number> }>;
      evaluation: { on: string; patients: string[]; selection: string[] };
      pretraining: Array<{ method: string; readout: Array<{ step: number; dice: Record<string, number> }> }>;
    };
    const split = loadSplit();
    // method=v1: only pix2rep and the methods built on it.
    expect(done.runs.map((r) => r.method)).toEqual(['supervised', 'pix2rep-linear', 'pix2rep-finetune', 'mean-teacher']);
    expect(done.evaluation).toEqual({ on: 'dev', patients: split.dev.slice(1, 3), selection: split.dev.slice(0, 1) });
    for (const p of done.evaluation.patients) expect(split.test).not.toContain(p);
    // Readout at 0, 3 and the last step (6), stored beside the checkpoints of this recipe's own folder.
    expect(done.pretraining.map((p) => p.method)).toEqual(['pix2rep']);
    expect(done.pretraining[0]!.readout.map((q) => q.step)).toEqual([0, 3, 6]);
    const pretrainDir = join(work, 'levers', 'pretrain_temperature-0.2', 'pretrain-pix2rep');
    const rec = readReadout(pretrainDir)!;
    expect(rec.points).toEqual(done.pretraining[0]!.readout);
    expect(rec.description).toBe(`linear probe trained on dev ${split.dev[0]}, scored on dev ${split.dev[1]}`);
    for (const q of rec.points) for (const k of ['RV', 'MYO', 'LV']) expect(q.dice[k]! >= 0 && q.dice[k]! <= 1).toBe(true);
    expect(existsSync(join(work, 'pretrain-pix2rep'))).toBe(false);
    // The supervised baseline depends only on the downstream levers: its run lives in their folder, where an
    // experiment on another pretraining lever with the same downstream levers finds it. So does Mean Teacher
    // when the dev patients chose the supervised network as its base.
    const mtOnSupervised = done.runs.find((r) => r.method === 'mean-teacher')!.base === 'supervised';
    const mt = ['1-1-mean-teacher.json'];
    expect(readdirSync(join(work, 'levers', 'flips-on_method-v1_rotation-180_temperature-0.2_eval-dev', 'runs')).sort()).toEqual([...(mtOnSupervised ? [] : mt), '1-1-pix2rep-finetune.json', '1-1-pix2rep-linear.json']);
    expect(readdirSync(join(work, 'levers', 'flips-on_rotation-180_eval-dev', 'runs')).sort()).toEqual([...(mtOnSupervised ? mt : []), '1-1-supervised.json']);
    expect(existsSync(join(work, 'levers', 'flips-on_method-v1_rotation-180_temperature-0.2_eval-dev', 'result.json'))).toBe(true);
    const text = readFileSync(report, 'utf8');
    expect(text).toContain('the budget section');
    expect(text).toContain('<!-- experiment:acdc:smoke:levers:flips-on_method-v1_rotation-180_temperature-0.2:eval-dev:start -->');
    expect(text).toContain('levers: `flips=on`, `method=v1`, `probeSteps=4`, `readout=3`, `rotation=180`, `temperature=0.2`; scored on dev patients');
    expect(text).toContain('--set flips=on --set method=v1 --set probeSteps=4 --set readout=3 --set rotation=180 --set temperature=0.2 --eval dev');
    expect(text).toMatch(/\| pix2rep \| 6 \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| 4 \|/);
    expect(text).toMatch(/\| 1 \| supervised \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|/);
    expect(text).toContain('No baseline to compare with yet: run the budget without --set (with --eval dev)');

    // Another pretraining lever, the same downstream levers: the supervised run is the one already trained.
    const again = await jsonLinesOf(() =>
      experimentCommand.run(['acdc', '--budget', 'smoke', '--set', 'method=v1', '--set', 'temperature=0.3', '--set', 'rotation=180', '--set', 'flips=on', '--set', 'readout=off', '--eval', 'dev', '--data', dataPath('acdc'), '--work', work, '--report', report, '--json']),
    );
    expect(again.code).toBe(0);
    const logs = again.lines.filter((e) => e.event === 'log').map((e) => String(e.text));
    expect(logs.filter((t) => /^regime 1 seed 1 supervised: .*from an earlier run\)$/.test(t))).toHaveLength(1);
    expect(logs.filter((t) => /^regime 1 seed 1 pix2rep-finetune: /.test(t) && !t.endsWith('from an earlier run)'))).toHaveLength(1);
    const mtAgain = logs.find((t) => /^regime 1 seed 1 mean-teacher /.test(t))!;
    if (mtOnSupervised && mtAgain.includes('(on supervised)')) expect(mtAgain).toMatch(/from an earlier run\)$/);
    else expect(mtAgain).not.toMatch(/from an earlier run\)$/);

    // Mean Teacher left out: nothing retrains (the lever is in no key), and no Mean Teacher run is trained or listed.
    const lean = await jsonLinesOf(() =>
      experimentCommand.run(['acdc', '--budget', 'smoke', '--set', 'method=v1', '--set', 'temperature=0.3', '--set', 'rotation=180', '--set', 'flips=on', '--set', 'readout=off', '--set', 'meanTeacher=off', '--eval', 'dev', '--data', dataPath('acdc'), '--work', work, '--report', report, '--json']),
    );
    expect(lean.code).toBe(0);
    const leanRuns = lean.lines.filter((e) => e.event === 'log' && /^regime /.test(String(e.text))).map((e) => String(e.text));
    expect(leanRuns.map((t) => t.split(':')[0])).toEqual(['regime 1 seed 1 supervised', 'regime 1 seed 1 pix2rep-linear', 'regime 1 seed 1 pix2rep-finetune']);
    for (const t of leanRuns) expect(t).toMatch(/from an earlier run\)$/);

    // No pretraining: only the network from scratch, the same run again, and no pretraining folder made.
    const none = await jsonLinesOf(() =>
      experimentCommand.run(['acdc', '--budget', 'smoke', '--set', 'method=none', '--set', 'rotation=180', '--set', 'flips=on', '--set', 'meanTeacher=off', '--eval', 'dev', '--data', dataPath('acdc'), '--work', work, '--report', report, '--json']),
    );
    expect(none.code).toBe(0);
    const noneDone = none.lines.find((e) => e.event === 'done') as { runs: Array<{ method: string }>; pretraining: unknown[] };
    expect(noneDone.runs.map((r) => r.method)).toEqual(['supervised']);
    expect(noneDone.pretraining).toEqual([]);
    expect(none.lines.filter((e) => e.event === 'log' && /^regime 1 seed 1 supervised: .*from an earlier run\)$/.test(String(e.text)))).toHaveLength(1);
    expect(readdirSync(join(work, 'levers')).filter((d) => d.startsWith('pretrain_') && d.includes('none'))).toEqual([]);
    expect(readFileSync(report, 'utf8')).toContain("Pretraining: none (`method=none`); the pool (");
    // A whole smoke experiment run twice and read once from its cache: about 30 s on a quiet machine, 275 s
    // beside two experiments; the limit only catches a hang.
  }, 600_000);
});
