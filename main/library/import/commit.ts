import type { AnnotationRecord, PatientIdentity, SeriesIdentity, StudyIdentity, VolumeRecord } from '../catalog.js';
import type { Library } from '../library.js';

/** Running totals of what an import changed. */
export interface Tally {
  studiesAdded: number;
  seriesAdded: number;
  volumesAdded: number;
  annotationsAdded: number;
  alreadyPresent: number;
}

export function emptyTally(): Tally {
  return { studiesAdded: 0, seriesAdded: 0, volumesAdded: 0, annotationsAdded: 0, alreadyPresent: 0 };
}

/**
 * Commit a stored volume and its annotations in one transaction, after its files are in place. A volume
 * another importer committed meanwhile counts as already present, and its annotations are added to that one.
 */
export function commitVolume(
  lib: Library,
  tally: Tally,
  who: { patient: PatientIdentity; study: StudyIdentity; series: SeriesIdentity },
  volume: VolumeRecord,
  annotations: AnnotationRecord[],
): string {
  const r = lib.catalog.addVolume(who.patient, who.study, who.series, volume, annotations);
  if (r) {
    tally.volumesAdded++;
    if (r.studyAdded) tally.studiesAdded++;
    if (r.seriesAdded) tally.seriesAdded++;
    tally.annotationsAdded += r.annotationIds.length;
    return r.volumeId;
  }
  const existing = lib.catalog.volumeIdByContent(volume.contentSha256)!;
  tally.alreadyPresent++;
  for (const a of annotations) commitAnnotation(lib, tally, existing, a);
  return existing;
}

export function commitAnnotation(lib: Library, tally: Tally, volumeId: string, a: AnnotationRecord): void {
  if (lib.catalog.addAnnotation(volumeId, a)) tally.annotationsAdded++;
}
