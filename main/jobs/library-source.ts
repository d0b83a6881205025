import type Database from 'better-sqlite3';
import { join } from 'node:path';
import type { PreprocessConfig } from '../ml/config.js';
import { niftiSliceSource, type SliceSource } from '../ml/pretrain/source.js';

/**
 * Pretraining slices from the workspace library: every stored volume (of the listed studies, or all), every
 * slice of every frame. Only NIfTI headers are read up front; voxels stream in per batch with a small volume
 * cache, so the library never has to fit in memory.
 */
export async function librarySliceSource(db: Database.Database, root: string, cfg: PreprocessConfig, studies?: string[]): Promise<SliceSource> {
  let rows: Array<{ stored_path: string; study_id: string }>;
  const base = `SELECT v.stored_path, se.study_id FROM volumes v JOIN series se ON se.id = v.series_id`;
  if (studies && studies.length) {
    rows = db.prepare(`${base} WHERE se.study_id IN (${studies.map(() => '?').join(',')}) ORDER BY v.stored_path`).all(...studies) as typeof rows;
    const found = new Set(rows.map((r) => r.study_id));
    const missing = studies.filter((s) => !found.has(s));
    if (missing.length) throw new Error(`no stored volumes for stud${missing.length > 1 ? 'ies' : 'y'} ${missing.join(', ')} (unknown id, or nothing imported)`);
  } else {
    rows = db.prepare(`${base} ORDER BY v.stored_path`).all() as typeof rows;
  }
  if (rows.length === 0) throw new Error('the workspace has no volumes to train on: import studies first (pix2rep import PATH)');
  return niftiSliceSource(rows.map((r) => join(root, r.stored_path)), cfg);
}
