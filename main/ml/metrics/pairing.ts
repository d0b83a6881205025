import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Pairs prediction files with reference files by name, the way predictions are written (`X_pred.nii.gz`) and
 * references are named in ACDC-style folders (`X_gt.nii.gz`, or `X.nii.gz`).
 *
 * - a prediction's key is its name without the NIfTI extension and without a trailing `_pred`;
 * - a reference's key is its name without the extension and without a trailing `_gt`;
 * - when a folder holds both `X_gt` and `X` (ACDC keeps the image `X.nii.gz` next to its labels), `X_gt` wins:
 *   the reference folder may be the original patient folder;
 * - likewise `X_pred` wins over a plain `X` in the prediction folder;
 * - predictions never come from `_gt` files and references never from `_pred` files, so one folder holding
 *   both `X_pred` and `X_gt` can be given as the prediction and the reference folder.
 */
export interface Pair {
  key: string;
  pred: string;
  ref: string;
}

export interface Pairing {
  pairs: Pair[];
  /** Predictions with no reference of the same key. */
  unmatchedPredictions: string[];
  /** References with no prediction (not an error: a folder may hold more cases than were predicted). */
  unmatchedReferences: string[];
}

const NIFTI = /\.nii(\.gz)?$/i;

export function isNiftiName(name: string): boolean {
  return NIFTI.test(name);
}

/** Name without the .nii / .nii.gz extension. */
export function stripNifti(name: string): string {
  return name.replace(NIFTI, '');
}

/** key → file name, the suffixed name (X_pred, X_gt) taking precedence over the bare one. */
function byKey(names: string[], suffix: string, excluded: string): Map<string, string> {
  const out = new Map<string, { name: string; suffixed: boolean }>();
  for (const name of [...names].sort()) {
    if (!isNiftiName(name)) continue;
    const stem = stripNifti(name);
    if (stem.toLowerCase().endsWith(excluded)) continue;
    const suffixed = stem.toLowerCase().endsWith(suffix) && stem.length > suffix.length;
    const key = suffixed ? stem.slice(0, -suffix.length) : stem;
    const prev = out.get(key);
    if (!prev || (suffixed && !prev.suffixed)) out.set(key, { name, suffixed });
  }
  return new Map([...out].map(([k, v]) => [k, v.name]));
}

/** Pairs file names (not paths) of a prediction folder and a reference folder. */
export function pairNames(predNames: string[], refNames: string[]): Pairing {
  const preds = byKey(predNames, '_pred', '_gt');
  const refs = byKey(refNames, '_gt', '_pred');
  const pairs: Pair[] = [];
  const unmatchedPredictions: string[] = [];
  for (const [key, pred] of [...preds].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const ref = refs.get(key);
    if (ref) pairs.push({ key, pred, ref });
    else unmatchedPredictions.push(pred);
  }
  const unmatchedReferences = [...refs].filter(([key]) => !preds.has(key)).map(([, name]) => name).sort();
  return { pairs, unmatchedPredictions, unmatchedReferences };
}

/** Pairs the NIfTI files of two folders; paths in the result are joined to their folder. */
export function pairFolders(predDir: string, refDir: string): Pairing {
  const list = (dir: string) =>
    readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile() && isNiftiName(e.name))
      .map((e) => e.name);
  const r = pairNames(list(predDir), list(refDir));
  return {
    pairs: r.pairs.map((p) => ({ key: p.key, pred: join(predDir, p.pred), ref: join(refDir, p.ref) })),
    unmatchedPredictions: r.unmatchedPredictions.map((n) => join(predDir, n)),
    unmatchedReferences: r.unmatchedReferences.map((n) => join(refDir, n)),
  };
}
