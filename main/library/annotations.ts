import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { readNifti, readNiftiHeader, writeNiftiLike } from '../io/nifti.js';
import { voxelCount, type Volume } from '../io/volume.js';
import { EngineFailure } from '../engine/errors.js';
import { newId, type AnnotationSourceKind, type LabelInfo } from './catalog.js';
import { volumeSha256 } from './import/hash.js';
import { annotatedSlices, labelValues } from './import/labels.js';
import { labelInfos } from './import/nifti-unit.js';
import type { Library } from './library.js';

export interface SaveAnnotation {
  volumeId: string;
  /** Label voxels in the volume's grid (all frames), i fastest. */
  data: Uint8Array | Uint16Array;
  source: Exclude<AnnotationSourceKind, 'imported'>;
  modelId?: string | null;
  name?: string;
  labels?: LabelInfo[];
  /** Overwrite this annotation (a saved edit) instead of adding one. */
  annotationId?: string;
}

/**
 * Store a drawn or predicted label map for a volume: the file first (in the volume's own NIfTI header, so
 * export keeps its geometry), then the row with its annotated slices. Editing an annotation writes a new
 * file and swaps the row to it; the old file goes only after the commit.
 */
export async function saveAnnotation(lib: Library, a: SaveAnnotation): Promise<string> {
  const vol = lib.catalog.volume(a.volumeId);
  if (!vol) throw new EngineFailure('NOT_FOUND', `no volume ${a.volumeId}`);
  if (a.data.length !== voxelCount(vol)) {
    throw new EngineFailure('BAD_INPUT', `label map has ${a.data.length} voxels; volume ${vol.id} has ${voxelCount(vol)}`);
  }
  const previous = a.annotationId ? lib.catalog.annotation(a.annotationId) : null;
  if (a.annotationId && (!previous || previous.volumeId !== vol.id)) throw new EngineFailure('NOT_FOUND', `no annotation ${a.annotationId} on volume ${vol.id}`);
  const labelVolume: Volume = { dims: vol.dims, frames: vol.frames, spacing: vol.spacing, origin: vol.origin, direction: vol.direction, data: a.data };
  const sha = volumeSha256(labelVolume);
  const id = a.annotationId ?? newId('ann');
  const rel = join('annotations', `${id}-${sha.slice(0, 16)}.nii.gz`);
  const header = await readNiftiHeader(lib.abs(vol.storedPath));
  await writeNiftiLike(lib.abs(rel), header, a.data);
  // Names the user already gave this volume's labels win; else ACDC names for ACDC, "label N" otherwise.
  const known = lib.catalog.annotationsOf(vol.id).flatMap((x) => x.labels);
  const labels =
    a.labels ??
    labelInfos(labelValues(labelVolume), lib.catalog.patientKeyOfVolume(vol.id)?.startsWith('acdc:') ?? false).map(
      (l) => known.find((k) => k.value === l.value) ?? l,
    );
  const slices = annotatedSlices(labelVolume);
  try {
    if (previous) lib.catalog.updateAnnotationContent(previous.id, { contentSha256: sha, storedPath: rel, labels, slices });
    else {
      lib.catalog.insertAnnotationRow(
        vol.id,
        { source: a.source, modelId: a.modelId ?? null, name: a.name ?? a.source, labels, contentSha256: sha, sourcePath: null, storedPath: rel, slices },
        id,
      );
    }
  } catch (err) {
    if (lib.catalog.storedPathRefs(rel) === 0) rmSync(lib.abs(rel), { force: true });
    throw err;
  }
  if (previous && previous.storedPath !== rel && lib.catalog.storedPathRefs(previous.storedPath) === 0) rmSync(lib.abs(previous.storedPath), { force: true });
  return id;
}

/** An annotation's voxels and geometry. */
export async function readAnnotation(lib: Library, annotationId: string): Promise<Volume> {
  const ann = lib.catalog.annotation(annotationId);
  if (!ann) throw new EngineFailure('NOT_FOUND', `no annotation ${annotationId}`);
  return readNifti(lib.abs(ann.storedPath));
}
