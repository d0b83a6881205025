import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readNiftiFile, writeNiftiLike } from '../io/nifti.js';
import { sameGeometry } from '../io/volume.js';
import { EngineFailure } from '../engine/errors.js';
import type { AnnotationRow, VolumeRow } from './catalog.js';
import type { Library } from './library.js';

export interface ExportedFile {
  annotationId: string;
  volumeId: string;
  path: string;
}

const GEOMETRY_TOL = 1e-3;

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '') || 'volume';
}

/**
 * One annotation as a NIfTI label map in its volume's geometry. The stored file carries the header of the
 * imported label map (or of the volume, for drawn and predicted ones), kept byte for byte, so an imported
 * ACDC `_gt` file comes back with its own affine, voxel for voxel.
 */
export async function exportAnnotation(lib: Library, annotationId: string, outPath: string): Promise<ExportedFile> {
  const ann = lib.catalog.annotation(annotationId);
  if (!ann) throw new EngineFailure('NOT_FOUND', `no annotation ${annotationId}`);
  const vol = lib.catalog.volume(ann.volumeId);
  if (!vol) throw new EngineFailure('NOT_FOUND', `annotation ${annotationId} refers to missing volume ${ann.volumeId}`);
  const file = await readNiftiFile(lib.abs(ann.storedPath));
  const v = file.volume;
  const fits = v.frames === vol.frames && sameGeometry(v, vol, GEOMETRY_TOL);
  if (!fits) throw new EngineFailure('INTERNAL', `stored annotation ${annotationId} does not fit volume ${vol.id}'s geometry`);
  await writeNiftiLike(outPath, file.header, v.data);
  return { annotationId, volumeId: vol.id, path: outPath };
}

function fileNames(vol: VolumeRow, anns: AnnotationRow[]): string[] {
  const used = new Map<string, number>();
  return anns.map((a) => {
    const base = `${safeName(vol.name)}_${a.source === 'imported' ? 'gt' : a.source}`;
    const n = (used.get(base) ?? 0) + 1;
    used.set(base, n);
    return `${base}${n > 1 ? `_${n}` : ''}.nii.gz`;
  });
}

async function exportVolumeAnnotations(lib: Library, vol: VolumeRow, outDir: string): Promise<ExportedFile[]> {
  const anns = lib.catalog.annotationsOf(vol.id);
  const names = fileNames(vol, anns);
  const out: ExportedFile[] = [];
  for (let i = 0; i < anns.length; i++) out.push(await exportAnnotation(lib, anns[i]!.id, join(outDir, names[i]!)));
  return out;
}

/**
 * Export what `ref` names into `outDir`: an annotation id, a volume id (its annotations), or a study (id,
 * uid or patient name: every annotation of every volume in it).
 */
export async function exportTarget(lib: Library, ref: string, outDir: string): Promise<ExportedFile[]> {
  const dir = resolve(outDir);
  mkdirSync(dir, { recursive: true });
  const ann = lib.catalog.annotation(ref);
  if (ann) {
    const vol = lib.catalog.volume(ann.volumeId)!;
    return [await exportAnnotation(lib, ann.id, join(dir, fileNames(vol, [ann])[0]!))];
  }
  const vol = lib.catalog.volume(ref);
  if (vol) return exportVolumeAnnotations(lib, vol, dir);
  const studies = lib.catalog.findStudies(ref);
  if (studies.length === 0) throw new EngineFailure('NOT_FOUND', `no study, volume or annotation "${ref}" in the library`);
  if (studies.length > 1) {
    throw new EngineFailure('BAD_INPUT', `"${ref}" names ${studies.length} studies (${studies.map((s) => s.id).join(', ')}); give a study id`);
  }
  const out: ExportedFile[] = [];
  for (const v of lib.catalog.volumesOfStudy(studies[0]!.id)) out.push(...(await exportVolumeAnnotations(lib, v, dir)));
  return out;
}
