import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readNifti } from '../../io/nifti.js';
import type { Volume } from '../../io/volume.js';
import { EngineFailure } from '../../engine/errors.js';
import type { PreprocessConfig, PretrainMethod } from '../config.js';
import { niftiSliceSource, type SliceSource } from '../pretrain/source.js';
import type { FewShotConfig } from '../fewshot/config.js';
import { niftiLabeledSlices, type LabeledSlice } from '../fewshot/data.js';
import { runFewShot } from '../fewshot/train.js';
import { disposeSegmenter, type Segmenter } from '../fewshot/segmenter.js';
import { predictVolume } from '../infer/index.js';
import { dice } from '../metrics/dice.js';

/**
 * One downstream run of `pix2rep experiment acdc` (train, select on the dev patients, score): the only code that
 * does it, whether the experiment runs it in its own thread (`--jobs 1`) or on a worker (run-worker.ts), so
 * the two cannot give different results. Its inputs are paths and patient ids, which a worker loads itself.
 */

export const STRUCTURES = [
  { label: 1, name: 'RV' },
  { label: 2, name: 'MYO' },
  { label: 3, name: 'LV' },
] as const;

export interface PatientFiles {
  patient: string;
  frames: Array<{ image: string; gt: string }>;
}

/** ED and ES images of a patient and their `_gt` label maps. */
export function patientFiles(dataDir: string, patient: string): PatientFiles {
  const dir = [join(dataDir, 'training', patient), join(dataDir, 'testing', patient), join(dataDir, patient)].find((d) => existsSync(d));
  if (!dir) throw new EngineFailure('NOT_FOUND', `ACDC patient ${patient} not found under ${dataDir}`);
  const frames = readdirSync(dir)
    .filter((n) => /_frame\d+\.nii(\.gz)?$/.test(n))
    .sort()
    .map((n) => ({ image: join(dir, n), gt: join(dir, n.replace(/\.nii(\.gz)?$/, '_gt.nii$1')) }))
    .filter((f) => existsSync(f.gt));
  if (frames.length === 0) throw new EngineFailure('NOT_FOUND', `${dir}: no patientXXX_frameYY.nii.gz with a _gt label map`);
  return { patient, frames };
}

/** The labeled slices of these patients' ED and ES frames, patient by patient. */
export async function labeledSlicesOf(dataDir: string, patients: readonly string[], classes: readonly number[], pre: PreprocessConfig): Promise<LabeledSlice[]> {
  const out: LabeledSlice[] = [];
  for (const p of patients) for (const f of patientFiles(dataDir, p).frames) out.push(...(await niftiLabeledSlices(f.image, f.gt, classes, pre, p)));
  return out;
}

/**
 * `untrained-finetune` is the control of the fine-tuned methods: their recipe from a backbone that has not
 * learned (the pretraining network after one step), so a table can tell what pretraining adds from what the
 * fine-tune recipe adds by itself.
 */
export type MethodId = 'supervised' | 'untrained-finetune' | 'pix2rep-linear' | 'pix2rep-finetune' | 'pix2rep-v2-linear' | 'pix2rep-v2-finetune' | 'mean-teacher';

export interface RunResult {
  regime: string;
  seed: number;
  method: MethodId;
  /** For Mean Teacher: the method it was built on. */
  base?: MethodId;
  validationDice: number | null;
  steps: number;
  /** Step whose weights were kept (0: the untrained head/network scored best on the dev patients). */
  bestStep: number;
  seconds: number;
  /** Validation Dice (model-selection dev patients) at every validation of the run; absent in older runs. */
  curve?: Array<{ step: number; dice: number }>;
  /** Per test patient: Dice per structure (mean of ED and ES). */
  patients: Array<{ patient: string; dice: Record<string, number> }>;
  /** Mean over test patients per structure, and the mean of the three. */
  mean: Record<string, number>;
}

/** What every run of an experiment reads, as paths and patient ids (sent to each worker once). */
export interface RunInputs {
  dataDir: string;
  preprocess: PreprocessConfig;
  classes: number[];
  /** Labeled patients of each regime. */
  labeled: Record<string, string[]>;
  /** Dev patients whose validation Dice selects the model. */
  selection: string[];
  /** Patients scored by 3D Dice (the test patients, or dev patients under `--eval dev`). */
  scored: string[];
  /** Mean Teacher's unlabeled slices: the pretraining images, in the pretraining's order. */
  poolImages: string[];
}

/** One run: everything that is not shared by the experiment's runs. */
export interface RunSpec {
  regime: string;
  seed: number;
  method: MethodId;
  base?: MethodId;
  config: FewShotConfig;
  backbone: { name: PretrainMethod; path: string } | null;
}

export type ScoredVolumes = Array<{ patient: string; volumes: Array<{ image: Volume; gt: Volume }> }>;

/**
 * The inputs, loaded on first use and kept: a worker trains many runs on the same slices and volumes. The
 * experiment passes the pool it pretrained on instead of reading it again.
 */
export class RunData {
  private readonly labeledBy = new Map<string, Promise<LabeledSlice[]>>();
  private selectionSlices: Promise<LabeledSlice[]> | null = null;
  private scoredVolumes: Promise<ScoredVolumes> | null = null;
  private poolSource: Promise<SliceSource> | null;

  constructor(
    readonly inputs: RunInputs,
    pool?: SliceSource,
  ) {
    this.poolSource = pool ? Promise.resolve(pool) : null;
  }

  labeled(regime: string): Promise<LabeledSlice[]> {
    let hit = this.labeledBy.get(regime);
    if (!hit) {
      const patients = this.inputs.labeled[regime];
      if (!patients) throw new Error(`no labeled patients for regime ${regime}`);
      hit = labeledSlicesOf(this.inputs.dataDir, patients, this.inputs.classes, this.inputs.preprocess);
      this.labeledBy.set(regime, hit);
    }
    return hit;
  }

  selection(): Promise<LabeledSlice[]> {
    return (this.selectionSlices ??= labeledSlicesOf(this.inputs.dataDir, this.inputs.selection, this.inputs.classes, this.inputs.preprocess));
  }

  scored(): Promise<ScoredVolumes> {
    return (this.scoredVolumes ??= (async () => {
      const out: ScoredVolumes = [];
      for (const p of this.inputs.scored) {
        const volumes = [];
        for (const f of patientFiles(this.inputs.dataDir, p).frames) volumes.push({ image: await readNifti(f.image), gt: await readNifti(f.gt) });
        out.push({ patient: p, volumes });
      }
      return out;
    })());
  }

  pool(): Promise<SliceSource> {
    return (this.poolSource ??= niftiSliceSource(this.inputs.poolImages, this.inputs.preprocess));
  }
}

/** Arithmetic mean; 0 for none (a regime with no runs scores nothing). */
export const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

async function score(seg: Segmenter, preprocess: PreprocessConfig, scored: ScoredVolumes): Promise<RunResult['patients']> {
  const out: RunResult['patients'] = [];
  for (const t of scored) {
    const per: Record<string, number[]> = {};
    for (const v of t.volumes) {
      const pred = await predictVolume({ segmenter: seg, preprocess }, v.image, { batch: 8 });
      for (const s of STRUCTURES) (per[s.name] ??= []).push(dice(pred, v.gt.data, s.label));
    }
    out.push({ patient: t.patient, dice: Object.fromEntries(Object.entries(per).map(([k, xs]) => [k, mean(xs)])) });
  }
  return out;
}

export function summarise(patients: RunResult['patients']): Record<string, number> {
  const m: Record<string, number> = {};
  for (const s of STRUCTURES) m[s.name] = mean(patients.map((p) => p.dice[s.name]!));
  m.mean = mean(STRUCTURES.map((s) => m[s.name]!));
  return m;
}

/** Trains the run's model and scores it. A cancelled run throws: its partial model must never be kept as a result. */
export async function trainAndScore(spec: RunSpec, data: RunData, signal?: AbortSignal): Promise<RunResult> {
  const cfg = spec.config;
  const { segmenter, record } = await runFewShot({
    config: cfg,
    data: {
      labeled: await data.labeled(spec.regime),
      validation: await data.selection(),
      classes: data.inputs.classes,
      unlabeled: cfg.mode === 'mean-teacher' ? await data.pool() : undefined,
      description: `ACDC regime ${spec.regime}`,
    },
    backbone: spec.backbone,
    signal,
  });
  try {
    if (record.stopped === 'cancelled') throw new EngineFailure('CANCELLED', 'experiment cancelled');
    const patients = await score(segmenter, data.inputs.preprocess, await data.scored());
    return {
      regime: spec.regime,
      seed: spec.seed,
      method: spec.method,
      ...(spec.base ? { base: spec.base } : {}),
      validationDice: record.validationDice,
      steps: record.steps,
      bestStep: record.bestStep,
      seconds: record.seconds,
      curve: record.curves.validation,
      patients,
      mean: summarise(patients),
    };
  } finally {
    disposeSegmenter(segmenter);
  }
}
