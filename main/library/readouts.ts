import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { ReadoutSummary } from '../contract/ml.js';
import type { Library } from './library.js';

/**
 * The linear-probe readouts the catalogue knows of: a pretraining writes readout.json beside its checkpoints
 * (its job folder, which a finished job's backbone model row points at), so a backbone's readout is found
 * through its row's path and a job's through the job's. Nothing is copied into the catalogue: the file is the
 * record, and a run that is still measuring shows its newest points.
 *
 * The file is read here, not through ml/pretrain/readout.ts's readReadout: that module loads tfjs and the
 * few-shot stack (about 5 s on first use under load), too much for listing backbones. The name and the fields
 * are the ones readout.ts writes; test/engine/ml/pretrain/expectation-contract.test.ts writes with its
 * writeReadout and reads back through ml.readouts.
 */
export const READOUT_FILE_NAME = 'readout.json';

/** The stored record; per-point probe timings and anything newer are dropped (zod strips unknown keys). */
const ReadoutFile = ReadoutSummary.extend({ version: z.literal(1) });

export interface StoredReadout {
  id: string;
  /** Folder the readout belongs to (absolute); null when the row has no folder. */
  dir: string | null;
  readout: ReadoutSummary | null;
  /** Why an existing readout.json could not be read (a damaged file must not hide the other rows). */
  problem: string | null;
}

/** A folder's readout: null when the run measured none; throws, naming the file, when it is not a readout. */
export function readReadoutSummary(dir: string): ReadoutSummary | null {
  const path = readoutPath(dir);
  if (!existsSync(path)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not a readout record (${(err as Error).message})`);
  }
  const r = ReadoutFile.safeParse(raw);
  if (!r.success) {
    const what = r.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || 'record'}: ${i.message}`).join('; ');
    throw new Error(`${path}: not a readout record (${what})`);
  }
  const { version: _, ...summary } = r.data;
  return summary;
}

function read(lib: Library, id: string, rel: string | null): StoredReadout {
  if (!rel) return { id, dir: null, readout: null, problem: null };
  const dir = isAbsolute(rel) ? rel : lib.abs(rel);
  try {
    return { id, dir, readout: readReadoutSummary(dir), problem: null };
  } catch (err) {
    return { id, dir, readout: null, problem: (err as Error).message };
  }
}

/** The readouts of the rows `sql` lists (id, path): the listed ids, or all of them; unknown ids are skipped. */
function readoutsOf(lib: Library, sql: string, ids?: readonly string[]): StoredReadout[] {
  const rows = lib.db.prepare(sql).all() as Array<{ id: string; path: string | null }>;
  const wanted = ids ? new Set(ids) : null;
  return rows.filter((r) => !wanted || wanted.has(r.id)).map((r) => read(lib, r.id, r.path));
}

/** Readouts of pretrained backbones (kind `pretrain`). */
export function modelReadouts(lib: Library, ids?: readonly string[]): StoredReadout[] {
  return readoutsOf(lib, "SELECT id, path FROM models WHERE kind = 'pretrain' ORDER BY created_at, id", ids);
}

/** Readouts of pretraining jobs. */
export function jobReadouts(lib: Library, ids?: readonly string[]): StoredReadout[] {
  return readoutsOf(lib, "SELECT id, path FROM jobs WHERE kind = 'pretrain' ORDER BY seq", ids);
}

/** Where a folder's readout lives (for messages). */
export function readoutPath(dir: string): string {
  return join(dir, READOUT_FILE_NAME);
}
