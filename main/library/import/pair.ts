import { basename, dirname } from 'node:path';
import { globCapture, globToRegExp } from './glob.js';
import type { FileIssue } from './types.js';

/** Label maps that need no `--labels`: ACDC's `X_gt.nii.gz` next to `X.nii.gz`. */
export const DEFAULT_LABEL_GLOBS = ['*_gt.nii.gz', '*_gt.nii'];

export interface Pairing {
  images: string[];
  /** image path → label map path */
  labelOf: Map<string, string>;
  issues: FileIssue[];
}

export function stripNiftiExt(name: string): string {
  return name.replace(/\.nii(\.gz)?$/i, '');
}

/**
 * Split NIfTI files into images and label maps and pair each label map with its image. A file whose name
 * matches a label glob is a label map; the text its wildcards matched (less any NIfTI extension) is the
 * image's name without extension, looked up first in the same folder, then anywhere in this import when
 * unique (imagesTr/ + labelsTr/ layouts). A label map with no image, or two for one image, is an issue.
 */
export function pairLabelMaps(niftiFiles: string[], labelGlob?: string): Pairing {
  const globs = (labelGlob ? [labelGlob] : DEFAULT_LABEL_GLOBS).map(globToRegExp);
  const labels: Array<{ path: string; stem: string }> = [];
  const images: string[] = [];
  for (const f of niftiFiles) {
    const name = basename(f);
    let stem: string | null = null;
    for (const g of globs) {
      stem = globCapture(g, name);
      if (stem !== null) break;
    }
    if (stem === null) images.push(f);
    else labels.push({ path: f, stem: stripNiftiExt(stem) });
  }

  const byStem = new Map<string, string[]>();
  for (const img of images) {
    const k = stripNiftiExt(basename(img));
    byStem.set(k, [...(byStem.get(k) ?? []), img]);
  }

  const labelOf = new Map<string, string>();
  const issues: FileIssue[] = [];
  for (const l of labels) {
    const candidates = byStem.get(l.stem) ?? [];
    const sameDir = candidates.filter((c) => dirname(c) === dirname(l.path));
    const pick = sameDir.length ? sameDir : candidates;
    if (pick.length === 0) {
      issues.push({ path: l.path, reason: `label map has no matching image (looked for ${l.stem}.nii or ${l.stem}.nii.gz)` });
      continue;
    }
    if (pick.length > 1) {
      issues.push({ path: l.path, reason: `label map matches ${pick.length} images (${pick.map((p) => basename(p)).join(', ')}); cannot tell which` });
      continue;
    }
    const img = pick[0]!;
    const prev = labelOf.get(img);
    if (prev) {
      issues.push({ path: l.path, reason: `image ${basename(img)} already has label map ${basename(prev)}` });
      continue;
    }
    labelOf.set(img, l.path);
  }
  return { images, labelOf, issues };
}
