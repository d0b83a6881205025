import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendName } from '../../contract/engine.js';
import { EngineFailure } from '../../engine/errors.js';
import { tf } from '../tf.js';
import { DOWNSTREAM, pretrainConfig, type PretrainMethod } from '../config.js';
import { keptReadoutSteps, readoutCheckpointName, runPretraining } from '../pretrain/loop.js';
import { readCheckpoint } from '../pretrain/checkpoint.js';
import { niftiSliceSource, type SliceSource } from '../pretrain/source.js';
import { DOWNSTREAM_FLIPS_BY_DEFAULT, fewShotConfig, type FewShotMode } from '../fewshot/config.js';
import type { LabeledSlice } from '../fewshot/data.js';
import { writeFileAtomic } from '../../library/atomic.js';
import { BUDGETS, READOUT_PLANS, type Budget, type BudgetName } from './budgets.js';
import type { ReadoutOptions, ReadoutPoint } from '../pretrain/readout.js';
import { controlLevers, downstreamSchedule, hasLevers, leverFewShotOverrides, leverModel, leverPretrainOverrides, leverSlug, linearLevers, pretrainingLevers, pretrainingOnly, recipeLevers, runsToTrain, scratchLevers, type Levers, type NetworkStart } from './levers.js';
import { runOrdered, type OrderedTask } from './pool.js';
import { labeledSlicesOf, mean, patientFiles, RunData, STRUCTURES, trainAndScore, type MethodId, type RunInputs, type RunResult, type RunSpec } from './run.js';
import { RunWorkers, runWorkerEntry } from './run-workers.js';

export { patientFiles, STRUCTURES, type MethodId, type PatientFiles, type RunResult } from './run.js';

/**
 * `pix2rep experiment acdc`: the paper's protocol on ACDC with the split fixed in
 * resources/experiments/acdc-split.json. Pretraining (v1 and v2) on the pool's images only, resumable in the
 * work folder; every method trained on the same labeled patients, selected on the dev patients, and scored
 * by 3D Dice on the test patients (ED and ES volumes, mean of the two per patient).
 */

export interface AcdcSplit {
  description: string;
  groups: Record<string, string[]>;
  pretrainingPool: string[];
  dev: string[];
  labeled: Record<'1' | '2' | '5', string[]>;
  test: string[];
}

export const SPLIT_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'resources', 'experiments', 'acdc-split.json');

export function loadSplit(path = SPLIT_PATH): AcdcSplit {
  const s = JSON.parse(readFileSync(path, 'utf8')) as AcdcSplit;
  const used = new Set([...s.pretrainingPool, ...s.dev, ...Object.values(s.labeled).flat()]);
  const leak = s.test.filter((p) => used.has(p));
  if (leak.length) throw new Error(`${path}: test patients ${leak.join(', ')} are also used for training or selection`);
  return s;
}

/** The patient's 4D cine (every frame of the cycle), or null when the data set has only ED and ES. */
export function cineFile(dataDir: string, patient: string): string | null {
  const dir = dirname(patientFiles(dataDir, patient).frames[0]!.image);
  const f = readdirSync(dir).find((n) => /_4d\.nii(\.gz)?$/.test(n));
  return f ? join(dir, f) : null;
}

export interface ExperimentResult {
  budget: Budget;
  backend: string;
  wallSeconds: number;
  pretraining: Array<{ method: PretrainMethod; steps: number; lastLoss: number | null; bestValidationLoss: number | null; checkpoint: string; readout?: ReadoutPoint[] }>;
  /** The backbone of `untrained-finetune` (absent: no control ran, under a pretraining lever or in older results). */
  control?: { method: PretrainMethod; steps: number; checkpoint: string };
  runs: RunResult[];
  split: { pool: number; dev: string[]; test: string[]; labeled: Record<string, string[]> };
  /** The overrides applied (absent: the budget as defined). */
  levers?: Levers;
  /** Which patients the Dice of `runs` is measured on (absent: the test patients, `split.test`). */
  evaluation?: { on: 'test' | 'dev'; patients: string[]; selection: string[] };
  /** Pretraining slices (more than the ED/ES slices with frames=cine) and how many pool patients had a cine. */
  pretrainingData?: { slices: number; cinePatients: number };
  /**
   * Every finished invocation on this work folder, this one last: a budget run in parts (or a report rewritten
   * from cached runs) reports the time of all of them, not just the last one's few seconds.
   */
  invocations?: Invocation[];
}

export interface Invocation {
  finishedAt: string;
  seconds: number;
  /** Runs trained by this invocation, and runs taken from earlier ones. */
  trainedRuns: number;
  reusedRuns: number;
}

export const INVOCATIONS_FILE = 'invocations.json';

/** Appends this invocation to the folder's record (atomically) and returns the whole record. */
export function recordInvocation(dir: string, inv: Invocation): Invocation[] {
  const f = join(dir, INVOCATIONS_FILE);
  let all: Invocation[] = [];
  if (existsSync(f)) {
    try {
      all = JSON.parse(readFileSync(f, 'utf8')) as Invocation[];
    } catch {
      all = []; // torn: start the record again rather than fail a finished experiment
    }
  }
  all.push(inv);
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(f, Buffer.from(JSON.stringify(all, null, 1), 'utf8'));
  return all;
}

export interface ExperimentOptions {
  dataDir: string;
  budget: BudgetName;
  /** Pretraining checkpoints (resumable) and scratch. */
  workDir: string;
  signal?: AbortSignal;
  onLog?: (text: string) => void;
  /** One-change overrides of the budget's recipe (issue 10); none: the budget exactly as defined. */
  levers?: Levers;
  /**
   * `dev`: score on dev patients kept out of model selection instead of the test patients (levers are chosen
   * there; the test patients are never looked at). Default `test`.
   */
  evalOn?: 'test' | 'dev';
  /**
   * Downstream runs trained at once, each on a worker thread of its own (default 1: in this thread). Results
   * are the same whatever the number: each run is seeded by itself and reads the same inputs.
   */
  jobs?: number;
}

/**
 * Which dev patients select (validation Dice) and which score under `--eval dev`: the budget's selection
 * prefix and the dev patients after it; when the budget selects on every dev patient, the first half selects
 * and the rest scores. Under `test`, selection is the budget's prefix as always.
 */
export function devRoles(dev: string[], devPatients: number | null, evalOn: 'test' | 'dev', scored: number | null): { selection: string[]; scoring: string[] } {
  const n = devPatients ?? dev.length;
  if (evalOn === 'test') return { selection: dev.slice(0, n), scoring: [] };
  const sel = n < dev.length ? n : Math.ceil(dev.length / 2);
  const rest = dev.slice(sel);
  if (rest.length === 0) throw new EngineFailure('BAD_INPUT', `--eval dev: no dev patient is left to score after ${sel} for selection`);
  return { selection: dev.slice(0, sel), scoring: scored === null ? rest : rest.slice(0, scored) };
}

/**
 * Where a run keeps its finished runs (`runs/`) and its result (`result.json`): the work folder itself without
 * overrides (as before levers existed), else `levers/<overrides>[_eval-dev]`.
 */
export function resultDir(workDir: string, levers: Levers, evalOn: 'test' | 'dev'): string {
  const slug = [leverSlug(levers), evalOn === 'dev' ? 'eval-dev' : ''].filter(Boolean).join('_');
  return slug ? join(workDir, 'levers', slug) : workDir;
}

export const RESULT_FILE = 'result.json';

/** Saves a finished experiment's result beside its runs, so that lever runs can be compared with their baseline. */
export function saveResult(workDir: string, r: ExperimentResult): void {
  const dir = resultDir(workDir, r.levers ?? {}, r.evaluation?.on ?? 'test');
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, RESULT_FILE), Buffer.from(JSON.stringify(r), 'utf8'));
}

/** The saved result of the run without recipe overrides scored on the same patients (null when not run yet). */
export function loadBaselineResult(workDir: string, evalOn: 'test' | 'dev'): ExperimentResult | null {
  const f = join(resultDir(workDir, {}, evalOn), RESULT_FILE);
  if (!existsSync(f)) return null;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as ExperimentResult;
  } catch {
    return null; // torn or foreign: no comparison rather than a wrong one
  }
}

/**
 * What of a budget decides one method's result: the linear probe depends on its step count and on how it
 * trains (runs of an earlier probe, streaming or mini-batch, are not reused); every other
 * method on everything but those.
 */
function budgetKey(budget: Budget, linear: boolean): object {
  const { linearSteps, ...rest } = budget;
  // `cache`: how many augmented copies the probe's feature cache holds is decided by the pixels it keeps (since
  // 26 Nov; before, by whole slices: fewer copies for the same data), so runs of the earlier rule are retrained.
  return linear ? { ...rest, probe: { kind: 'balanced-full-batch', steps: linearSteps, cache: 'kept-pixels' } } : rest;
}

/**
 * What a run depends on, for its cache key and folder: the scratch baseline and Mean Teacher built on it no
 * pretraining, the linear probe not the downstream length, every other method the whole recipe.
 */
export type RunKind = 'scratch' | 'scratch-mean-teacher' | 'linear' | 'control' | 'other';

/**
 * The run-cache key of a method's runs: budget (as budgetKey), split, pretraining, and any recipe levers. The
 * supervised baseline uses no pretraining: its key holds only the levers a scratch network depends on, so a
 * lever experiment on pretraining reuses the baseline's supervised runs instead of training them again.
 */
export function runCacheKey(
  budget: Budget,
  split: AcdcSplit,
  pretraining: Array<[string, number, string]>,
  levers: Levers = {},
  evalOn: 'test' | 'dev' = 'test',
  method: RunKind = 'other',
): string {
  const hash = (o: object) => createHash('sha256').update(JSON.stringify(o)).digest('hex').slice(0, 16);
  // Runs at the default downstream flips name them: the default changed (off → on, 27 Nov), and a run of the old
  // one must be retrained, not reused as the new one; a run with `flips=on` is the same run as one at the default.
  const keyed: Levers = levers.flips === undefined ? { ...levers, flips: DOWNSTREAM_FLIPS_BY_DEFAULT } : levers;
  if (method === 'scratch') return hash({ budget: budgetKey(budget, false), split, levers: scratchLevers(keyed), evalOn, scratch: true });
  // Mean Teacher on the supervised network uses no pretraining either; its unlabeled pool follows `frames`.
  if (method === 'scratch-mean-teacher') {
    const pool = keyed.frames !== undefined ? { frames: keyed.frames } : {};
    return hash({ budget: budgetKey(budget, false), split, levers: recipeLevers({ ...scratchLevers(keyed), ...pool }), evalOn, scratch: true, meanTeacher: 'supervised' });
  }
  const recipe = method === 'linear' ? linearLevers(keyed) : method === 'control' ? controlLevers(keyed) : recipeLevers(keyed);
  // Runs at the default fine-tuning rate name it: the default changed (5e-5 → 1e-3, 26 Nov), and a run of the
  // old one must be retrained, not reused as the new one. A rate set by lever is in the levers already.
  const rate = (method === 'other' || method === 'control') && keyed.finetuneLr === undefined ? { finetuneLr: DOWNSTREAM.fineTuneBackboneLr } : {};
  const base = { budget: budgetKey(budget, method === 'linear'), split, pretraining, ...rate };
  return hash(hasLevers(recipe) || evalOn !== 'test' ? { ...base, levers: recipe, evalOn } : base);
}

/**
 * Finished runs are kept in the work folder, keyed by everything that decides their result (budget, split,
 * pretraining checkpoints), so a long budget can be stopped and continued: only unfinished runs are trained
 * again. A changed budget or split changes the key and nothing stale is reused. Each method's runs live in the
 * folder `dirOf` gives it: the supervised baseline's in the folder of the levers it depends on, which a lever
 * experiment on pretraining shares with the baseline.
 */
class RunCache {
  constructor(
    private readonly dirOf: (method: MethodId, base?: MethodId) => string,
    private readonly keyOf: (method: MethodId, base?: MethodId) => string,
  ) {}
  private file(regime: string, seed: number, method: MethodId, base?: MethodId) {
    return join(this.dirOf(method, base), `${regime}-${seed}-${method}.json`);
  }
  /** The finished run of this method (on this base), or null when there is none under the current key. */
  get(regime: string, seed: number, method: MethodId, base?: MethodId): RunResult | null {
    const f = this.file(regime, seed, method, base);
    if (!existsSync(f)) return null;
    try {
      const saved = JSON.parse(readFileSync(f, 'utf8')) as { key: string; result: RunResult };
      return saved.key === this.keyOf(method, base) && saved.result.base === base ? saved.result : null;
    } catch {
      return null; // a torn or foreign file: train the run again
    }
  }
  put(r: RunResult): void {
    mkdirSync(this.dirOf(r.method, r.base), { recursive: true });
    writeFileAtomic(this.file(r.regime, r.seed, r.method, r.base), Buffer.from(JSON.stringify({ key: this.keyOf(r.method, r.base), result: r }), 'utf8'));
  }
}

type Backbone = NonNullable<RunSpec['backbone']>;

/**
 * Every downstream method but Mean Teacher, in training order, and the pretraining whose backbone it starts from
 * (`control`: the one-step run of the untrained control). A method runs when its backbone exists.
 */
const METHODS: Array<{ id: MethodId; mode: FewShotMode; backbone: PretrainMethod | 'control' | null }> = [
  { id: 'supervised', mode: 'supervised', backbone: null },
  { id: 'untrained-finetune', mode: 'finetune', backbone: 'control' },
  { id: 'pix2rep-linear', mode: 'linear', backbone: 'pix2rep' },
  { id: 'pix2rep-finetune', mode: 'finetune', backbone: 'pix2rep' },
  { id: 'pix2rep-v2-linear', mode: 'linear', backbone: 'pix2rep-v2' },
  { id: 'pix2rep-v2-finetune', mode: 'finetune', backbone: 'pix2rep-v2' },
];

/**
 * The checkpoint a pretraining kept at a readout step (the `backboneStep` lever) with what the report says of
 * it; a clear error, listing the kept steps, when there is none.
 */
async function keptBackbone(outDir: string, step: number): Promise<{ steps: number; lastLoss: number | null; bestValidationLoss: number | null; checkpoint: string }> {
  const f = join(outDir, readoutCheckpointName(step));
  if (!existsSync(f)) {
    const kept = keptReadoutSteps(outDir);
    throw new EngineFailure('NOT_FOUND', `backboneStep=${step}: ${f} does not exist (kept readout checkpoints: ${kept.length ? kept.join(', ') : 'none'})`);
  }
  const h = (await readCheckpoint(f)).header;
  return { steps: h.step, lastLoss: h.history.at(-1)?.loss ?? null, bestValidationLoss: h.bestValidationLoss, checkpoint: f };
}

/** The folder of the untrained control's one-step pretraining, beside the pretraining it controls. */
export const CONTROL_FOLDER = 'pretrain-control';

/** The pretraining each value of the `method` lever runs (none: only the networks from scratch). */
const PRETRAINING_OF_METHOD_LEVER: Record<NonNullable<Levers['method']>, PretrainMethod[]> = { v1: ['pix2rep'], v2: ['pix2rep-v2'], none: [] };

export async function runAcdcExperiment(opts: ExperimentOptions): Promise<ExperimentResult> {
  const t0 = performance.now();
  const budget = BUDGETS[opts.budget];
  if (!budget) throw new EngineFailure('BAD_INPUT', `unknown budget ${opts.budget} (smoke, 2h, night, paper)`);
  const log = opts.onLog ?? (() => undefined);
  const levers = opts.levers ?? {};
  const evalOn = opts.evalOn ?? 'test';
  const split = loadSplit();
  const take = <T>(xs: T[], n: number | null) => (n === null ? xs : xs.slice(0, n));
  const pool = take(split.pretrainingPool, budget.poolPatients);
  const roles = devRoles(split.dev, budget.devPatients, evalOn, budget.testPatients);
  const dev = roles.selection;
  const testIds = evalOn === 'dev' ? roles.scoring : take(split.test, budget.testPatients);
  const pre = budget.preprocess;
  const classes = [1, 2, 3];
  const model = leverModel(budget.model, levers);
  const pretrainSteps = levers.steps ?? budget.pretrainSteps;
  // Overrides get folders of their own: pretraining checkpoints of another recipe are never resumed, and
  // finished runs of different lever sets never overwrite each other. Without overrides: the folders as before.
  const pretrainRoot = hasLevers(pretrainingLevers(levers)) ? join(opts.workDir, 'levers', `pretrain_${leverSlug(pretrainingLevers(levers))}`) : opts.workDir;
  const runsDir = join(resultDir(opts.workDir, levers, evalOn), 'runs');

  const jobs = opts.jobs ?? 1;
  if (!Number.isInteger(jobs) || jobs < 1) throw new EngineFailure('BAD_INPUT', `jobs must be a positive integer, got ${jobs}`);
  // A build without the run worker fails before hours of pretraining, not after.
  if (jobs > 1) runWorkerEntry();
  const labeledOf = (patients: string[]): Promise<LabeledSlice[]> => labeledSlicesOf(opts.dataDir, patients, classes, pre);

  // Pretraining on images only: the pool's label maps are never opened.
  let cinePatients = 0;
  const poolImages = pool.flatMap((p) => {
    const cine = levers.frames === 'cine' ? cineFile(opts.dataDir, p) : null;
    if (cine) cinePatients += 1;
    return cine ? [cine] : patientFiles(opts.dataDir, p).frames.map((f) => f.image);
  });
  const poolSource: SliceSource = await niftiSliceSource(poolImages, pre);
  if (levers.frames === 'cine') log(`frames=cine: ${cinePatients} of ${pool.length} pool patients have a 4D cine (the others give ED and ES): ${poolSource.slices.length} slices`);
  const readout = await readoutOptions(budget, levers, split.dev, dev, labeledOf);
  if (pretrainingOnly(levers) && !readout) throw new EngineFailure('BAD_INPUT', `downstreamRuns=off: budget ${budget.name} measures no readout along pretraining; give readout=N`);
  const pretraining: ExperimentResult['pretraining'] = [];
  const backbones: Partial<Record<PretrainMethod, string>> = {};
  const pretrainMethods: PretrainMethod[] = levers.method ? PRETRAINING_OF_METHOD_LEVER[levers.method] : (budget.pretrainMethods ?? ['pix2rep', 'pix2rep-v2']);
  const workers = levers.workers ?? budget.pretrainWorkers;
  const configOf = (method: PretrainMethod, steps: number) =>
    pretrainConfig('compact', {
      ...leverPretrainOverrides(levers, steps),
      model,
      preprocess: pre,
      loss: { ...leverPretrainOverrides(levers, steps).loss, method },
      train: { batch: budget.pretrainBatch, seed: 1 },
    });
  for (const method of pretrainMethods) {
    const outDir = join(pretrainRoot, `pretrain-${method}`);
    if (levers.backboneStep !== undefined) {
      // A kept checkpoint is final: the pretraining is not continued, so this may run while it still trains.
      const kept = await keptBackbone(outDir, levers.backboneStep);
      log(`pretraining ${method}: not continued; the downstream methods start from ${kept.checkpoint}`);
      backbones[method] = kept.checkpoint;
      pretraining.push({ method, ...kept });
      continue;
    }
    const cfg = configOf(method, pretrainSteps);
    log(`pretraining ${method}: ${pretrainSteps} steps on ${poolSource.slices.length} slices of ${pool.length} patients (resumable in ${outDir})`);
    const r = await runPretraining({
      config: cfg,
      source: poolSource,
      outDir,
      steps: pretrainSteps,
      resume: true,
      signal: opts.signal,
      ...(workers !== undefined ? { workers } : {}),
      // Downstream runs from earlier points of the curve need those points' weights.
      keepReadoutCheckpoints: true,
      ...(readout ? { readout, onReadout: (p: ReadoutPoint) => log(`readout ${method} step ${p.step}: linear-probe Dice ${Object.entries(p.dice).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(' ')} (mean ${p.mean.toFixed(3)}, ${p.seconds.toFixed(0)} s)`) } : {}),
    });
    if (r.stopped === 'cancelled') throw new EngineFailure('CANCELLED', 'experiment cancelled during pretraining');
    const ck = r.bestCheckpoint ?? r.lastCheckpoint;
    backbones[method] = ck;
    pretraining.push({ method, steps: r.step, lastLoss: r.lastLoss, bestValidationLoss: r.bestValidationLoss, checkpoint: ck, ...(r.readout.length ? { readout: r.readout } : {}) });
  }
  const resultSplit: ExperimentResult['split'] = {
    pool: pool.length,
    dev,
    test: evalOn === 'dev' ? take(split.test, budget.testPatients) : testIds,
    labeled: Object.fromEntries([...budget.regimes, ...budget.baselineRegimes].map((r) => [r, split.labeled[r]])),
  };
  const pretrainingData = { slices: poolSource.slices.length, cinePatients };
  if (pretrainingOnly(levers)) {
    const wallSeconds = (performance.now() - t0) / 1000;
    // The pretraining it ran is part of what the lever's runs cost: recorded with their invocations.
    recordInvocation(resultDir(opts.workDir, levers, evalOn), { finishedAt: new Date().toISOString(), seconds: Math.round(wallSeconds), trainedRuns: 0, reusedRuns: 0 });
    return { budget, backend: tf.getBackend(), wallSeconds, pretraining, runs: [], split: resultSplit, levers, evaluation: { on: evalOn, patients: testIds, selection: dev }, pretrainingData };
  }
  // The untrained control of the budget's own pretraining (under a pretraining lever, the lever's table
  // compares with the budget's run, which has it): the first method's network after one step, in one process.
  let control: ExperimentResult['control'] = undefined;
  const controlMethod = pretrainMethods[0];
  if (controlMethod && !hasLevers(pretrainingLevers(levers))) {
    const outDir = join(pretrainRoot, CONTROL_FOLDER);
    log(`untrained control: 1 step of ${controlMethod} (resumable in ${outDir})`);
    const r = await runPretraining({ config: configOf(controlMethod, 1), source: poolSource, outDir, steps: 1, resume: true, signal: opts.signal });
    if (r.stopped === 'cancelled') throw new EngineFailure('CANCELLED', 'experiment cancelled during pretraining');
    control = { method: controlMethod, steps: r.step, checkpoint: r.lastCheckpoint };
  }

  // Paths and ids only: a worker loads what a run reads itself; this thread's runs (jobs 1) reuse the pool
  // it pretrained on.
  const inputs: RunInputs = {
    dataDir: opts.dataDir,
    preprocess: pre,
    classes,
    labeled: Object.fromEntries([...budget.regimes, ...budget.baselineRegimes].map((r) => [r, split.labeled[r]])),
    selection: dev,
    scored: testIds,
    poolImages,
  };
  const data = new RunData(inputs, poolSource);
  const devSlices = await data.selection();
  // A missing scored or labeled patient fails now, not after hours of training (or inside a worker).
  for (const p of [...testIds, ...Object.values(inputs.labeled).flat()]) patientFiles(opts.dataDir, p);
  log(`dev ${dev.length} patients (${devSlices.length} slices), ${evalOn === 'dev' ? `scored on dev patients ${testIds.join(', ')}` : `test ${testIds.length} patients`}`);

  const backboneFrom = (b: PretrainMethod | 'control'): Backbone | null => {
    if (b === 'control') return control ? { name: control.method, path: control.checkpoint } : null;
    const path = backbones[b];
    return path ? { name: b, path } : null;
  };
  const backboneOf: Partial<Record<MethodId, Backbone>> = {};
  for (const m of METHODS) {
    const b = m.backbone && backboneFrom(m.backbone);
    if (b) backboneOf[m.id] = b;
  }
  const methods = METHODS.filter((m) => m.backbone === null || backboneOf[m.id]);
  let reusedRuns = 0;
  const pretrainingKey = pretraining.map((p): [string, number, string] => [p.method, p.steps, p.checkpoint]);
  const controlKey: Array<[string, number, string]> = control ? [[`${control.method} (untrained control)`, control.steps, control.checkpoint]] : [];
  const kindOf = (method: MethodId, base?: MethodId): RunKind =>
    method === 'supervised'
      ? 'scratch'
      : method === 'mean-teacher' && base === 'supervised'
        ? 'scratch-mean-teacher'
        : method.endsWith('-linear')
          ? 'linear'
          : method === 'untrained-finetune'
            ? 'control'
            : 'other';
  const scratchRunsDir = join(resultDir(opts.workDir, scratchLevers(levers), evalOn), 'runs');
  const linearRunsDir = join(resultDir(opts.workDir, linearLevers(levers), evalOn), 'runs');
  const controlRunsDir = join(resultDir(opts.workDir, controlLevers(levers), evalOn), 'runs');
  const runsDirOf: Record<RunKind, string> = { scratch: scratchRunsDir, 'scratch-mean-teacher': scratchRunsDir, linear: linearRunsDir, control: controlRunsDir, other: runsDir };
  const cache = new RunCache(
    (method, base) => runsDirOf[kindOf(method, base)],
    (method, base) => {
      const kind = kindOf(method, base);
      return runCacheKey(budget, split, kind === 'control' ? controlKey : pretrainingKey, levers, evalOn, kind);
    },
  );
  const report = (r: RunResult, cached: boolean) =>
    log(
      `regime ${r.regime} seed ${r.seed} ${r.method}${r.base ? ` (on ${r.base})` : ''}: ${evalOn === 'dev' ? 'dev' : 'test'} Dice RV ${r.mean.RV!.toFixed(3)} MYO ${r.mean.MYO!.toFixed(3)} LV ${r.mean.LV!.toFixed(3)} ` +
        `(validation ${r.validationDice?.toFixed(3) ?? 'n/a'}, ${r.steps} steps, ${r.seconds.toFixed(0)} s${cached ? ', from an earlier run' : ''})`,
    );
  const specOf = (regime: string, seed: number, id: MethodId, mode: FewShotMode, backbone: Backbone | null, base?: MethodId): RunSpec => {
    // A pretrained backbone is fine-tuned by `finetune` and by Mean Teacher built on it; `linear` keeps it frozen.
    const start: NetworkStart = backbone === null ? 'scratch' : mode === 'linear' ? 'frozen' : 'finetuned';
    const config = fewShotConfig(mode, {
      ...leverFewShotOverrides(levers, start),
      meanTeacherBase: mode === 'mean-teacher' ? (backbone ? 'finetune' : 'supervised') : undefined,
      model,
      preprocess: pre,
      ...(mode === 'linear' ? { steps: budget.linearSteps, validateEvery: budget.validateEvery, patience: budget.patience } : downstreamSchedule(budget, levers)),
      batch: budget.batch,
      seed,
    });
    return { regime, seed, method: id, ...(base ? { base } : {}), config, backbone };
  };
  // The workers' tfjs runs the backend this thread does (tfjs-node's 'tensorflow' may be either of ours: the
  // worker's own choice, from the same environment, is the same one).
  const activeBackend = tf.getBackend();
  const workerBackend: BackendName | undefined = activeBackend === 'wasm' || activeBackend === 'cpu' ? activeBackend : undefined;
  const runWorkers = jobs > 1 ? new RunWorkers(jobs, { inputs, ...(workerBackend ? { backend: workerBackend } : {}) }) : null;
  // A cached run is answered here: it never occupies a worker.
  const runOne = async (slot: number, spec: RunSpec): Promise<RunResult> => {
    if (opts.signal?.aborted) throw new EngineFailure('CANCELLED', 'experiment cancelled');
    const done = cache.get(spec.regime, spec.seed, spec.method, spec.base);
    if (done) {
      reusedRuns += 1;
      report(done, true);
      return done;
    }
    const r = runWorkers ? await runWorkers.run(slot, spec) : await trainAndScore(spec, data, opts.signal);
    cache.put(r);
    report(r, false);
    return r;
  };
  // Mean Teacher and the larger baseline regimes as the budget says, unless a lever leaves them out.
  const toTrain = runsToTrain(budget, levers);
  // The runs in the order a sequential experiment trains them, which is the order of `runs` whatever `jobs`.
  const tasks: Array<OrderedTask<RunResult>> = [];
  for (const regime of budget.regimes) {
    const first = tasks.length;
    for (const seed of budget.seeds) for (const m of methods) tasks.push({ run: (slot) => runOne(slot, specOf(regime, seed, m.id, m.mode, backboneOf[m.id] ?? null)) });
    if (toTrain.meanTeacher) {
      const regimeRuns = Array.from({ length: tasks.length - first }, (_, k) => first + k);
      // The control measures the recipe; it is no method to build on.
      const candidates = methods.filter((m) => m.mode !== 'linear' && m.id !== 'untrained-finetune');
      for (const seed of budget.seeds) {
        tasks.push({
          after: regimeRuns,
          run: (slot, finished) => {
            // The base is chosen on the dev patients (validation Dice), never on the test patients.
            const score = (id: MethodId) => mean(regimeRuns.map((k) => finished[k]!).filter((r) => r.method === id).map((r) => r.validationDice ?? 0));
            const best = candidates.reduce((a, b) => (score(b.id) > score(a.id) ? b : a));
            return runOne(slot, specOf(regime, seed, 'mean-teacher', 'mean-teacher', backboneOf[best.id] ?? null, best.id));
          },
        });
      }
    }
  }
  // How many labeled patients the baseline needs to match Pix2Rep at one: the supervised U-Net alone on more.
  for (const regime of toTrain.baselineRegimes) for (const seed of budget.seeds) tasks.push({ run: (slot) => runOne(slot, specOf(regime, seed, 'supervised', 'supervised', null)) });

  if (runWorkers) log(`downstream: ${tasks.length} runs on up to ${jobs} worker threads`);
  // Cancelling stops the workers mid-run: their runs reject, and the experiment reports the cancellation.
  const stopWorkers = () => void runWorkers?.close();
  opts.signal?.addEventListener('abort', stopWorkers);
  let runs: RunResult[];
  try {
    runs = await runOrdered(tasks, jobs);
  } catch (err) {
    if (opts.signal?.aborted) throw new EngineFailure('CANCELLED', 'experiment cancelled');
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', stopWorkers);
    await runWorkers?.close();
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  const invocations = recordInvocation(resultDir(opts.workDir, levers, evalOn), {
    finishedAt: new Date().toISOString(),
    seconds: Math.round(wallSeconds),
    trainedRuns: runs.length - reusedRuns,
    reusedRuns,
  });
  return {
    budget,
    backend: tf.getBackend(),
    wallSeconds,
    invocations,
    pretraining,
    ...(control ? { control } : {}),
    runs,
    split: resultSplit,
    ...(hasLevers(levers) ? { levers } : {}),
    evaluation: { on: evalOn, patients: testIds, selection: dev },
    pretrainingData,
  };
}

/**
 * The readout of the experiment's pretraining runs: a probe trained on the first dev patient's labeled slices
 * and scored on the other selection dev patients (or the next dev patient when the budget selects on one):
 * dev patients only, never the test split. On by the budget's plan (READOUT_PLANS) unless readout=off.
 */
async function readoutOptions(
  budget: Budget,
  levers: Levers,
  allDev: string[],
  selection: string[],
  labeledOf: (patients: string[]) => Promise<LabeledSlice[]>,
): Promise<ReadoutOptions | null> {
  const plan = READOUT_PLANS[budget.name];
  if (levers.readout === 'off' || (levers.readout === undefined && !plan)) return null;
  const every = typeof levers.readout === 'number' ? levers.readout : plan!.every;
  const probeSteps = levers.probeSteps ?? plan?.probeSteps ?? budget.linearSteps;
  const trainOn = allDev[0]!;
  const scoreOn = selection.length > 1 ? selection.slice(1) : allDev.slice(1, 2);
  return {
    every,
    probeSteps,
    labeled: await labeledOf([trainOn]),
    validation: await labeledOf(scoreOn),
    classes: [1, 2, 3],
    names: STRUCTURES.map((s) => s.name),
    batch: budget.batch,
    description: `linear probe trained on dev ${trainOn}, scored on dev ${scoreOn.join(', ')}`,
  };
}
