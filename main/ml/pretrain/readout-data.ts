import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { readNifti } from '../../io/nifti.js';
import { openLibrary } from '../../library/library.js';
import type { PreprocessConfig } from '../config.js';
import { niftiLabeledSlices, type LabeledSlice } from '../fewshot/data.js';
import { workspaceTrainingData } from '../fewshot/library.js';
import { findNiftiImages } from './source.js';
import type { ReadoutOptions } from './readout.js';

/** Annotated studies a library readout reads: one trains the probe, the others (at most 5) score it. */
export const READOUT_STUDIES = 6;

export interface ReadoutPlan {
  every: number;
  probeSteps: number;
  batch?: number;
}

/**
 * The one rule of every readout: the probe trains on the first group's slices (one patient or study) and is
 * scored on all other groups' slices, so the score says how well the features carry over to unseen patients.
 * Groups keep the order of `slices`.
 */
export function readoutByGroup(slices: readonly LabeledSlice[], classes: number[], plan: ReadoutPlan, names?: string[]): ReadoutOptions {
  const groups = [...new Set(slices.map((s) => s.group))];
  if (groups.length < 2) throw new Error(`a readout needs labeled slices of at least two patients or studies, found ${groups.length}`);
  const first = groups[0]!;
  return {
    every: plan.every,
    probeSteps: plan.probeSteps,
    labeled: slices.filter((s) => s.group === first),
    validation: slices.filter((s) => s.group !== first),
    classes,
    ...(names ? { names } : {}),
    ...(plan.batch !== undefined ? { batch: plan.batch } : {}),
    description: `linear probe trained on ${first}, scored on ${groups.slice(1).join(', ')}`,
  };
}

/**
 * Readout slices from a folder of labeled NIfTI pairs (NAME.nii.gz + NAME_gt.nii.gz, the ACDC layout), for
 * `pix2rep pretrain --readout DIR`: the probe trains on the first sub-folder's pairs (one patient) and is
 * scored on the others'; with a single folder, on the first pair and scored on the rest. The classes are the
 * label values found in the label maps.
 */
export async function folderReadout(dir: string, pre: PreprocessConfig, plan: ReadoutPlan): Promise<ReadoutOptions> {
  const pairs = (await findNiftiImages(dir))
    .map((image) => ({ image, gt: image.replace(/\.nii(\.gz)?$/, '_gt.nii$1') }))
    .filter((p) => existsSync(p.gt));
  if (pairs.length < 2) throw new Error(`${dir}: a readout needs at least two images with a _gt label map (NAME.nii.gz + NAME_gt.nii.gz), found ${pairs.length}`);
  const values = new Set<number>();
  for (const p of pairs) for (const v of (await readNifti(p.gt)).data) if (v !== 0) values.add(v);
  if (values.size === 0) throw new Error(`${dir}: the label maps hold no labels`);
  if (values.size > 32) throw new Error(`${dir}: ${values.size} distinct label values: these are not label maps`);
  const classes = [...values].sort((a, b) => a - b);
  // A patient per sub-folder; in a flat folder every pair is its own group.
  const perFolder = new Set(pairs.map((p) => dirname(p.image))).size > 1;
  const slices: LabeledSlice[] = [];
  for (const p of pairs) slices.push(...(await niftiLabeledSlices(p.image, p.gt, classes, pre, perFolder ? basename(dirname(p.image)) : basename(p.image))));
  return readoutByGroup(slices, classes, plan);
}

const tooFewStudies = (n: number) => `annotated slices in ${n} stud${n === 1 ? 'y' : 'ies'}; a readout needs two (one trains the probe, the others score it)`;

/**
 * Readout slices from a workspace's annotated slices (the app's pretraining job): one study's slices train the
 * probe, the other studies' score it, with the label names of the annotations. Null, with the reason, when the
 * library does not allow a readout (annotated slices of fewer than two studies).
 */
export async function libraryReadout(workspace: string, pre: PreprocessConfig, plan: ReadoutPlan, maxStudies = READOUT_STUDIES): Promise<{ options: ReadoutOptions | null; reason: string | null }> {
  const lib = openLibrary(workspace);
  let data;
  let patientOf: Map<string, string>;
  try {
    // Only the first few annotated studies (by patient name, then study date) are read: a readout every few
    // hundred steps must stay cheap, and a handful of patients already says whether the features carry over.
    const annotated = (
      lib.db
        .prepare(
          `SELECT DISTINCT st.id, p.name, st.date, st.uid FROM annotated_slices a JOIN annotations an ON an.id = a.annotation_id
           JOIN volumes v ON v.id = an.volume_id JOIN series se ON se.id = v.series_id JOIN studies st ON st.id = se.study_id
           JOIN patients p ON p.id = st.patient_id WHERE an.source != 'predicted' ORDER BY p.name, st.date, st.uid`,
        )
        .all() as Array<{ id: string }>
    ).map((r) => r.id);
    if (annotated.length < 2) return { options: null, reason: tooFewStudies(annotated.length) };
    data = await workspaceTrainingData(lib, pre, annotated.slice(0, maxStudies));
    const rows = lib.db.prepare('SELECT s.id, p.name FROM studies s JOIN patients p ON p.id = s.patient_id').all() as Array<{ id: string; name: string }>;
    patientOf = new Map(rows.map((r) => [r.id, r.name]));
  } finally {
    lib.close();
  }
  const groups = [...new Set(data.labeled.map((s) => s.group))];
  if (groups.length < 2) return { options: null, reason: tooFewStudies(groups.length) };
  // The record names patients, as a person reads it; a patient with several studies keeps the study id too.
  const names = groups.map((g) => patientOf.get(g) || g);
  const label = new Map(groups.map((g, i) => [g, names.indexOf(names[i]!) === names.lastIndexOf(names[i]!) ? names[i]! : `${names[i]} (${g})`]));
  const slices = data.labeled.map((s) => ({ ...s, group: label.get(s.group)! }));
  const structures = data.labels.map((l) => l.name || `label ${l.value}`);
  return { options: readoutByGroup(slices, data.classes, plan, structures), reason: null };
}
