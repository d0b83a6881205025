import { basename } from 'node:path';
import { groupSeries, readDicomHeader, readDicomSeries, type DicomFileHeader, type DicomSeriesInfo } from '../../io/dicom/index.js';
import { imageProblem } from '../../io/dicom/header.js';
import { nonImageReason } from '../../io/dicom/tags.js';
import type { PatientIdentity, SeriesIdentity, StudyIdentity, VolumeRecord } from '../catalog.js';
import type { Library } from '../library.js';
import { commitVolume, type Tally } from './commit.js';
import { dedupeVolume } from './dedupe.js';
import { dtypeOf, sourceSha256 } from './hash.js';
import { guard, reasonOf } from './read.js';
import { storeNifti, volumeFileName } from './store.js';
import type { FileIssue } from './types.js';

/**
 * Headers of the files classify found to be DICOM, grouped into series volumes by io/dicom. Files that are
 * not images (SR, RT plans, DICOMDIR), lack pixel data or cannot be parsed become issues.
 */
export async function scanDicomFiles(files: string[], signal?: AbortSignal): Promise<{ series: DicomSeriesInfo[]; issues: FileIssue[] }> {
  const headers: DicomFileHeader[] = [];
  const issues: FileIssue[] = [];
  for (const path of files) {
    signal?.throwIfAborted();
    const r = await guard(() => readDicomHeader(path));
    if (!r.ok) {
      issues.push({ path, reason: r.reason });
      continue;
    }
    const problem = nonImageReason(r.value.sopClassUid) ?? imageProblem(r.value);
    if (problem) issues.push({ path, reason: problem });
    else headers.push(r.value);
  }
  let series: DicomSeriesInfo[] = [];
  try {
    series = groupSeries(headers, (path, reason) => issues.push({ path, reason }));
  } catch (err) {
    for (const h of headers) issues.push({ path: h.path, reason: `cannot group DICOM series: ${reasonOf(err)}` });
  }
  return { series, issues };
}

export function dicomIdentity(s: DicomSeriesInfo): { patient: PatientIdentity; study: StudyIdentity; series: SeriesIdentity; name: string } {
  const patientName = s.patientName.replace(/\^+/g, ' ').trim();
  const label = s.seriesDescription || (s.seriesNumber !== undefined ? `series ${s.seriesNumber}` : basename(s.files[0] ?? 'series'));
  const part = s.part ? ` (${s.part})` : '';
  return {
    patient: { key: `dicom:${s.patientId}\u0000${s.patientName}`, name: patientName || s.patientId || 'anonymous' },
    // A study without StudyInstanceUID (non-conformant files) is kept to its series rather than merged.
    study: { uid: s.studyInstanceUid || `dicom-series:${s.seriesInstanceUid}`, date: s.studyDate || null, description: s.studyDescription },
    series: { uid: s.key, number: s.seriesNumber ?? null, description: `${s.seriesDescription}${part}`, modality: s.modality },
    name: `${label}${part}`,
  };
}

/** One DICOM series volume through read → dedupe → store → commit. Never throws for bad files. */
export async function importDicomSeries(lib: Library, tally: Tally, s: DicomSeriesInfo): Promise<FileIssue[]> {
  const src = await guard(() => sourceSha256(s.files, `${s.key}\0${s.part}`));
  if (src.ok && lib.catalog.volumeIdBySource(src.value)) {
    tally.alreadyPresent++;
    return [];
  }
  const r = await guard(() => readDicomSeries(s));
  if (!r.ok) {
    const reason = `series "${s.seriesDescription || s.seriesInstanceUid}" cannot be read: ${r.reason}`;
    return s.files.map((path) => ({ path, reason }));
  }
  const v = r.value;
  const dd = dedupeVolume(lib, v, `dicom:${s.key}`);
  if (dd.existingId) {
    tally.alreadyPresent++;
    return [];
  }
  const stored = await storeNifti(lib, volumeFileName(dd.sha256), v, null);
  const who = dicomIdentity(s);
  const record: VolumeRecord = {
    name: who.name,
    dims: v.dims,
    frames: v.frames,
    spacing: v.spacing,
    origin: v.origin,
    direction: v.direction,
    frameInterval: v.frameInterval ?? null,
    dtype: dtypeOf(v.data),
    contentSha256: dd.sha256,
    sourceSha256: src.ok ? src.value : null,
    sourcePaths: [...s.files].sort(),
    sourceFormat: 'dicom',
    phase: null,
    storedPath: stored.rel,
    storedBytes: stored.bytes,
  };
  commitVolume(lib, tally, who, record, []);
  return [];
}
