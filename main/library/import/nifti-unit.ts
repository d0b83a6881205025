import type { NiftiFile } from '../../io/nifti.js';
import type { Volume, VoxelArray } from '../../io/volume.js';
import { DEFAULT_LABELS, type AnnotationRecord, type LabelInfo, type VolumeRecord } from '../catalog.js';
import type { Library } from '../library.js';
import { commitAnnotation, commitVolume, type Tally } from './commit.js';
import { annotationPresent, dedupeVolume } from './dedupe.js';
import { dtypeOf, sourceSha256, volumeSha256 } from './hash.js';
import { niftiIdentity } from './identity.js';
import { annotatedSlices, labelGeometryMismatch, labelValueProblem, labelValues } from './labels.js';
import { readNiftiSafe } from './read.js';
import { annotationFileName, storeNifti, volumeFileName } from './store.js';
import type { FileIssue } from './types.js';

/** Label voxels as the smallest unsigned integer array that holds them (label maps come as float too). */
export function toLabelArray(v: Volume): VoxelArray {
  let max = 0;
  for (let i = 0; i < v.data.length; i++) if (v.data[i]! > max) max = v.data[i]!;
  if (max <= 255) return v.data instanceof Uint8Array ? v.data : Uint8Array.from(v.data);
  return v.data instanceof Uint16Array ? v.data : Uint16Array.from(v.data);
}

interface CheckedLabel {
  file: NiftiFile;
  labelVolume: Volume;
  sha256: string;
}

/** Read and check a label map against its image; an issue when it cannot be used. */
async function readLabel(image: Volume, imagePath: string, labelPath: string): Promise<CheckedLabel | FileIssue> {
  const r = await readNiftiSafe(labelPath);
  if (!r.ok) return { path: labelPath, reason: r.reason };
  const mismatch = labelGeometryMismatch(image, r.value.volume, imagePath, labelPath);
  if (mismatch) return { path: labelPath, reason: mismatch };
  const bad = labelValueProblem(r.value.volume);
  if (bad) return { path: labelPath, reason: bad };
  const labelVolume = { ...r.value.volume, data: toLabelArray(r.value.volume) };
  return { file: r.value, labelVolume, sha256: volumeSha256(labelVolume) };
}

const FALLBACK_COLORS = ['#e6194b', '#3cb44b', '#4363d8', '#ffe119', '#f58231', '#911eb4', '#46f0f0', '#f032e6'];

/** Names and colours of the labels present: ACDC's for ACDC files, neutral "label N" otherwise. */
export function labelInfos(values: number[], acdc: boolean): LabelInfo[] {
  return values.map((v, i) => {
    const known = acdc ? DEFAULT_LABELS.find((l) => l.value === v) : undefined;
    return known ?? { value: v, name: `label ${v}`, color: FALLBACK_COLORS[i % FALLBACK_COLORS.length]! };
  });
}

function annotationRecord(label: CheckedLabel, labelPath: string, storedRel: string, acdc: boolean): AnnotationRecord {
  return {
    source: 'imported',
    modelId: null,
    name: 'imported',
    labels: labelInfos(labelValues(label.labelVolume), acdc),
    contentSha256: label.sha256,
    sourcePath: labelPath,
    storedPath: storedRel,
    slices: annotatedSlices(label.labelVolume),
  };
}

/**
 * One NIfTI image and its optional label map through read → dedupe → store → commit. Returns the issues of
 * this unit (an unreadable image, an unusable label map); never throws for bad files.
 */
export async function importNiftiUnit(lib: Library, tally: Tally, imagePath: string, labelPath: string | undefined): Promise<FileIssue[]> {
  const img = await readNiftiSafe(imagePath);
  if (!img.ok) {
    const issues: FileIssue[] = [{ path: imagePath, reason: img.reason }];
    if (labelPath) issues.push({ path: labelPath, reason: `its image ${imagePath} could not be read` });
    return issues;
  }
  const image = img.value.volume;
  const who = niftiIdentity(imagePath);
  const acdc = who.patient.key.startsWith('acdc:');
  const issues: FileIssue[] = [];
  const dd = dedupeVolume(lib, image);
  let label: CheckedLabel | null = null;
  if (labelPath) {
    const l = await readLabel(image, imagePath, labelPath);
    if ('reason' in l) issues.push(l);
    else label = l;
  }

  if (dd.existingId) {
    tally.alreadyPresent++;
    if (label && labelPath && !annotationPresent(lib, dd.existingId, label.sha256)) {
      const rel = annotationFileName(dd.sha256, label.sha256);
      await storeNifti(lib, rel, label.labelVolume, label.file.header, label.labelVolume.data);
      commitAnnotation(lib, tally, dd.existingId, annotationRecord(label, labelPath, rel, acdc));
    }
    return issues;
  }

  const stored = await storeNifti(lib, volumeFileName(dd.sha256), image, img.value.header);
  const annotations: AnnotationRecord[] = [];
  if (label && labelPath) {
    const rel = annotationFileName(dd.sha256, label.sha256);
    await storeNifti(lib, rel, label.labelVolume, label.file.header, label.labelVolume.data);
    annotations.push(annotationRecord(label, labelPath, rel, acdc));
  }
  const record: VolumeRecord = {
    name: who.volumeName,
    dims: image.dims,
    frames: image.frames,
    spacing: image.spacing,
    origin: image.origin,
    direction: image.direction,
    frameInterval: image.frameInterval ?? null,
    dtype: dtypeOf(image.data),
    contentSha256: dd.sha256,
    sourceSha256: await sourceSha256([imagePath]).catch(() => null),
    sourcePaths: [imagePath],
    sourceFormat: 'nifti',
    phase: who.phase,
    storedPath: stored.rel,
    storedBytes: stored.bytes,
  };
  commitVolume(lib, tally, who, record, annotations);
  return issues;
}
