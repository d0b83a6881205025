import { openLibrary } from '../../library/library.js';
import type { PreprocessConfig } from '../config.js';
import { niftiSliceSource, type SliceSource } from './source.js';

/**
 * Slices of every volume in a workspace library. The library stores each volume as a NIfTI file, so this is
 * the NIfTI source over the catalogue's stored files (read-only: the catalogue is closed before training).
 */
export async function librarySliceSource(workspaceDir: string, cfg: PreprocessConfig): Promise<{ source: SliceSource; volumes: number }> {
  const lib = openLibrary(workspaceDir);
  let paths: string[];
  try {
    const ids = lib.catalog.listStudies().flatMap((st) => st.series.flatMap((se) => se.volumes.map((v) => v.id)));
    paths = ids.map((id) => {
      const row = lib.catalog.volume(id);
      if (!row) throw new Error(`volume ${id} disappeared from the catalogue while listing`);
      return lib.abs(row.storedPath);
    });
  } finally {
    lib.close();
  }
  if (paths.length === 0) throw new Error(`the workspace ${workspaceDir} holds no volumes: import studies first (pix2rep import PATH)`);
  return { source: await niftiSliceSource(paths, cfg), volumes: paths.length };
}
