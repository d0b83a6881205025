import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { EngineFailure } from '../engine/errors.js';
import type { Library } from '../library/library.js';
import { BEST, LAST } from '../ml/pretrain/loop.js';

/**
 * Which checkpoint a model reference names. A reference is, in this order: a catalogue model id or name
 * (models registered by finished pretraining jobs), a folder name under the workspace's models/ (what
 * `pix2rep pretrain --out NAME` writes), or a path to a checkpoint file or to a folder holding one. In a
 * folder the best-validation checkpoint is preferred, else the last one.
 */

export interface ModelRef {
  /** Stable id: the catalogue id, `models/NAME`, or `file:ABSOLUTE_PATH`. */
  id: string;
  name: string;
  checkpoint: string;
}

export interface ModelListing extends ModelRef {
  source: 'catalogue' | 'folder';
}

function checkpointIn(dir: string): string | null {
  for (const f of [BEST, LAST]) if (existsSync(join(dir, f))) return join(dir, f);
  return null;
}

interface ModelRow {
  id: string;
  name: string;
  path: string | null;
}

function catalogueModels(lib: Library): ModelRow[] {
  return lib.db.prepare('SELECT id, name, path FROM models ORDER BY created_at').all() as ModelRow[];
}

function rowCheckpoint(lib: Library, row: ModelRow): string | null {
  if (!row.path) return null;
  const p = isAbsolute(row.path) ? row.path : lib.abs(row.path);
  if (existsSync(p) && statSync(p).isFile()) return p;
  return checkpointIn(p);
}

export function resolveModel(lib: Library, ref: string, allowPaths: boolean): ModelRef {
  const rows = catalogueModels(lib);
  const row = rows.find((r) => r.id === ref) ?? rows.find((r) => r.name === ref);
  if (row) {
    const ck = rowCheckpoint(lib, row);
    if (!ck) throw new EngineFailure('BAD_INPUT', `model ${row.name} (${row.id}) has no checkpoint file at ${row.path ?? '(no path)'}`);
    return { id: row.id, name: row.name, checkpoint: ck };
  }
  // A folder model by name, or by the `models/NAME` id that listModels (embed.models) hands out.
  const folder = ref.startsWith('models/') ? ref.slice('models/'.length) : ref;
  if (folder && !folder.includes('/') && !folder.includes('\\')) {
    const dir = join(lib.layout.models, folder);
    const ck = existsSync(dir) ? checkpointIn(dir) : null;
    if (ck) return { id: `models/${folder}`, name: folder, checkpoint: ck };
  }
  if (allowPaths) {
    const p = resolve(ref);
    if (existsSync(p)) {
      const ck = statSync(p).isDirectory() ? checkpointIn(p) : p;
      if (!ck) throw new EngineFailure('BAD_INPUT', `${p} holds no ${BEST} or ${LAST} checkpoint`);
      return { id: `file:${ck}`, name: ref, checkpoint: ck };
    }
  }
  const known = listModels(lib).map((m) => m.name);
  throw new EngineFailure('NOT_FOUND', `no model "${ref}"${known.length ? ` (known: ${known.join(', ')})` : ' (the workspace has no pretrained model yet)'}`);
}

/** Every model the inspector can use: catalogue models with a checkpoint, then unregistered model folders. */
export function listModels(lib: Library): ModelListing[] {
  const out: ModelListing[] = [];
  const seen = new Set<string>();
  for (const row of catalogueModels(lib)) {
    const ck = rowCheckpoint(lib, row);
    if (!ck) continue;
    out.push({ id: row.id, name: row.name, checkpoint: ck, source: 'catalogue' });
    seen.add(resolve(ck));
  }
  let names: string[] = [];
  try {
    names = subfolders(lib.layout.models);
  } catch {
    names = [];
  }
  for (const name of names.sort()) {
    const ck = checkpointIn(join(lib.layout.models, name));
    if (ck && !seen.has(resolve(ck))) out.push({ id: `models/${name}`, name, checkpoint: ck, source: 'folder' });
  }
  return out;
}

function subfolders(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);
}

const hashes = new Map<string, { stamp: string; hash: string }>();

/**
 * SHA-256 of a checkpoint's bytes (the cache's invalidation key), memoised per (path, size, mtime) so that
 * an interactive session hashes each checkpoint once.
 */
export async function checkpointHash(path: string): Promise<string> {
  const st = statSync(path);
  const stamp = `${st.size}:${st.mtimeMs}`;
  const hit = hashes.get(path);
  if (hit?.stamp === stamp) return hit.hash;
  const h = createHash('sha256');
  await new Promise<void>((res, rej) => {
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('end', () => res())
      .on('error', rej);
  });
  const hash = h.digest('hex');
  hashes.set(path, { stamp, hash });
  return hash;
}
