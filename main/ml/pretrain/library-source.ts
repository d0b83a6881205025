import type Database from 'better-sqlite3';
import { openLibrary } from '../../library/library.js';
import type { PreprocessConfig } from '../config.js';
import { niftiSliceSource, type SliceSource } from './source.js';

/**
 * Pretraining slices from a workspace library (the CLI's `pix2rep pretrain` and the pretrain job): every stored
 * volume of the listed studies, or of all, every slice of every frame. Only NIfTI headers are read up front;
 * voxels stream in per batch with a small volume cache, so the library never has to fit in memory. The
 * catalogue is closed before training starts.
 */
export async function librarySliceSource(
  workspaceDir: string,
  cfg: PreprocessConfig,
  studies?: string[],
): Promise<{ source: SliceSource; volumes: number }> {
  const lib = openLibrary(workspaceDir);
  let paths: string[];
  try {
    paths = storedVolumes(lib.db, studies).map((rel) => lib.abs(rel));
  } finally {
    lib.close();
  }
  if (paths.length === 0) throw new Error(`the workspace ${workspaceDir} has no volumes to train on: import studies first (pix2rep import PATH)`);
  return { source: await niftiSliceSource(paths, cfg), volumes: paths.length };
}

/**
 * Stored paths (relative to the workspace), in a fixed order: a resumed pretraining must see the same slice
 * list as the run that wrote its checkpoint.
 */
function storedVolumes(db: Database.Database, studies?: string[]): string[] {
  const base = 'SELECT v.stored_path, se.study_id FROM volumes v JOIN series se ON se.id = v.series_id';
  if (!studies || studies.length === 0) {
    return (db.prepare(`${base} ORDER BY v.stored_path`).all() as Array<{ stored_path: string }>).map((r) => r.stored_path);
  }
  const rows = db.prepare(`${base} WHERE se.study_id IN (${studies.map(() => '?').join(',')}) ORDER BY v.stored_path`).all(...studies) as Array<{ stored_path: string; study_id: string }>;
  const found = new Set(rows.map((r) => r.study_id));
  const missing = studies.filter((s) => !found.has(s));
  if (missing.length) throw new Error(`no stored volumes for stud${missing.length > 1 ? 'ies' : 'y'} ${missing.join(', ')} (unknown id, or nothing imported)`);
  return rows.map((r) => r.stored_path);
}
