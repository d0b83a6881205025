import Database from 'better-sqlite3';
import { join } from 'node:path';
import { removeDeadTemps, removeUnreferenced } from './atomic.js';
import { Catalog } from './catalog.js';
import { ensureLayout, type WorkspaceLayout } from './layout.js';
import { migrate } from './schema.js';

export interface Library {
  layout: WorkspaceLayout;
  db: Database.Database;
  catalog: Catalog;
  /** Absolute path of a stored file given its catalogue (workspace-relative) path. */
  abs(rel: string): string;
  close(): void;
}

export interface OpenOptions {
  /** Minimum age of an unreferenced stored file before it is treated as debris of a killed import. */
  orphanMinAgeMs?: number;
}

/**
 * Open (creating on first use) the workspace at `dir`: folders, catalogue in WAL mode with foreign keys,
 * migrations, then cleanup of what a killed import may have left (temp files, files never committed).
 */
export function openLibrary(dir: string, opts: OpenOptions = {}): Library {
  const layout = ensureLayout(dir);
  const db = new Database(layout.catalog);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    // Another process (engine + CLI) may hold a write lock briefly; wait rather than fail.
    db.pragma('busy_timeout = 10000');
    db.pragma('synchronous = NORMAL');
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  const catalog = new Catalog(db);
  const abs = (rel: string) => join(layout.root, rel);
  for (const d of [layout.volumes, layout.annotations, layout.root]) removeDeadTemps(d);
  const referenced = new Set(catalog.storedPaths().map(abs));
  for (const d of [layout.volumes, layout.annotations]) removeUnreferenced(d, referenced, opts.orphanMinAgeMs);
  return { layout, db, catalog, abs, close: () => db.close() };
}
