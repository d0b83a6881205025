import { isAbsolute, join } from 'node:path';
import { READOUT_FILE, readReadout, type ReadoutRecord } from '../ml/pretrain/readout.js';
import type { Library } from './library.js';

/**
 * The linear-probe readouts the catalogue knows of: a pretraining writes readout.json beside its checkpoints
 * (its job folder, which a finished job's backbone model row points at), so a backbone's readout is found
 * through its row's path and a job's through the job's. Nothing is copied into the catalogue: the file is the
 * record, and a run that is still measuring shows its newest points.
 */

export interface StoredReadout {
  id: string;
  /** Folder the readout belongs to (absolute); null when the row has no folder. */
  dir: string | null;
  readout: ReadoutRecord | null;
  /** Why an existing readout.json could not be read (a damaged file must not hide the other rows). */
  problem: string | null;
}

function read(lib: Library, id: string, rel: string | null): StoredReadout {
  if (!rel) return { id, dir: null, readout: null, problem: null };
  const dir = isAbsolute(rel) ? rel : lib.abs(rel);
  try {
    return { id, dir, readout: readReadout(dir), problem: null };
  } catch (err) {
    return { id, dir, readout: null, problem: (err as Error).message };
  }
}

/** Readouts of pretrained backbones (kind `pretrain`): the listed ids, or all of them. Unknown ids are skipped. */
export function modelReadouts(lib: Library, ids?: readonly string[]): StoredReadout[] {
  const rows = lib.db.prepare("SELECT id, path FROM models WHERE kind = 'pretrain' ORDER BY created_at, id").all() as Array<{ id: string; path: string | null }>;
  const wanted = ids ? new Set(ids) : null;
  return rows.filter((r) => !wanted || wanted.has(r.id)).map((r) => read(lib, r.id, r.path));
}

/** Readouts of pretraining jobs: the listed ids, or all of them. Unknown ids are skipped. */
export function jobReadouts(lib: Library, ids?: readonly string[]): StoredReadout[] {
  const rows = lib.db.prepare("SELECT id, path FROM jobs WHERE kind = 'pretrain' ORDER BY seq").all() as Array<{ id: string; path: string | null }>;
  const wanted = ids ? new Set(ids) : null;
  return rows.filter((r) => !wanted || wanted.has(r.id)).map((r) => read(lib, r.id, r.path));
}

/** Where a folder's readout lives (for messages). */
export function readoutPath(dir: string): string {
  return join(dir, READOUT_FILE);
}
