import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { readNifti } from '../../io/nifti.js';
import type { PreprocessConfig } from '../config.js';
import { niftiLabeledSlices, type LabeledSlice } from '../fewshot/data.js';
import { findNiftiImages } from './source.js';
import type { ReadoutOptions } from './readout.js';

/**
 * Readout slices from a folder of labeled NIfTI pairs (NAME.nii.gz + NAME_gt.nii.gz, the ACDC layout), for
 * `pix2rep pretrain --readout DIR`: the probe trains on the first sub-folder's pairs (one patient) and is
 * scored on the others'; with a single folder, on the first pair and scored on the rest. The classes are the
 * label values found in the label maps.
 */
export async function folderReadout(dir: string, pre: PreprocessConfig, plan: { every: number; probeSteps: number; batch?: number }): Promise<ReadoutOptions> {
  const pairs = (await findNiftiImages(dir))
    .map((image) => ({ image, gt: image.replace(/\.nii(\.gz)?$/, '_gt.nii$1') }))
    .filter((p) => existsSync(p.gt));
  if (pairs.length < 2) throw new Error(`${dir}: a readout needs at least two images with a _gt label map (NAME.nii.gz + NAME_gt.nii.gz), found ${pairs.length}`);
  const values = new Set<number>();
  for (const p of pairs) for (const v of (await readNifti(p.gt)).data) if (v !== 0) values.add(v);
  if (values.size === 0) throw new Error(`${dir}: the label maps hold no labels`);
  if (values.size > 32) throw new Error(`${dir}: ${values.size} distinct label values: these are not label maps`);
  const classes = [...values].sort((a, b) => a - b);
  const groups = [...new Set(pairs.map((p) => dirname(p.image)))];
  const isFirst = groups.length > 1 ? (p: (typeof pairs)[number]) => dirname(p.image) === groups[0] : (p: (typeof pairs)[number]) => p === pairs[0];
  const slicesOf = async (ps: typeof pairs): Promise<LabeledSlice[]> => {
    const out: LabeledSlice[] = [];
    for (const p of ps) out.push(...(await niftiLabeledSlices(p.image, p.gt, classes, pre, basename(dirname(p.image)))));
    return out;
  };
  const train = pairs.filter(isFirst);
  const scored = pairs.filter((p) => !isFirst(p));
  const name = (ps: typeof pairs) => (groups.length > 1 ? [...new Set(ps.map((p) => basename(dirname(p.image))))] : ps.map((p) => basename(p.image))).join(', ');
  return {
    every: plan.every,
    probeSteps: plan.probeSteps,
    labeled: await slicesOf(train),
    validation: await slicesOf(scored),
    classes,
    ...(plan.batch !== undefined ? { batch: plan.batch } : {}),
    description: `linear probe trained on ${name(train)}, scored on ${name(scored)}`,
  };
}
