import { readdir, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { FileIssue } from './types.js';

/**
 * Every regular file under the given paths (files are taken as they are, folders recursively), sorted, each
 * once. Symlinked folders are followed once (cycles are cut by real path). Missing paths become issues.
 */
export async function walkPaths(paths: string[], signal?: AbortSignal): Promise<{ files: string[]; issues: FileIssue[] }> {
  const files = new Set<string>();
  const issues: FileIssue[] = [];
  const seenDirs = new Set<string>();

  async function visit(p: string, top: boolean): Promise<void> {
    signal?.throwIfAborted();
    let st;
    try {
      st = await stat(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (top || code !== 'ENOENT') issues.push({ path: p, reason: code === 'ENOENT' ? 'no such file or folder' : `cannot read (${code ?? String(err)})` });
      return;
    }
    if (st.isFile()) {
      files.add(p);
      return;
    }
    if (!st.isDirectory()) {
      if (top) issues.push({ path: p, reason: 'not a regular file or folder' });
      return;
    }
    const real = await realpath(p).catch(() => p);
    if (seenDirs.has(real)) return;
    seenDirs.add(real);
    let names: string[];
    try {
      names = await readdir(p);
    } catch (err) {
      issues.push({ path: p, reason: `cannot list folder (${(err as NodeJS.ErrnoException).code ?? String(err)})` });
      return;
    }
    names.sort();
    for (const n of names) await visit(join(p, n), false);
  }

  for (const p of paths) await visit(resolve(p), true);
  return { files: [...files].sort(), issues };
}
