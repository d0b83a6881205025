import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Temp files carry the writer's pid so that cleanup on open never deletes a file another live process
 * (the engine and a CLI import may share a workspace) is still writing.
 */
const TEMP_PREFIX = '.tmp-';

export function tempPathFor(finalPath: string): string {
  return join(dirname(finalPath), `${TEMP_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}-${basename(finalPath)}`);
}

/** Write bytes so that `finalPath` is either absent or complete, never half-written. */
export function writeFileAtomic(finalPath: string, bytes: Uint8Array): void {
  const tmp = tempPathFor(finalPath);
  try {
    const fd = openSync(tmp, 'w');
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, finalPath);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Run a writer against a temp path, then move the result into place. */
export async function writeViaTemp(finalPath: string, write: (tmp: string) => Promise<void> | void): Promise<void> {
  const tmp = tempPathFor(finalPath);
  try {
    await write(tmp);
    renameSync(tmp, finalPath);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * The pid of the process writing a temp file, 0 when the name has none, null when it is not a temp file.
 * Two spellings exist: ours (`.tmp-PID-…`) and the NIfTI writer's (`.NAME.PID.HEX.tmp`).
 */
export function tempOwner(name: string): number | null {
  if (name.startsWith(TEMP_PREFIX)) {
    const pid = Number(name.slice(TEMP_PREFIX.length).split('-')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : 0;
  }
  const m = /^\..*\.(\d+)\.[0-9a-f]+\.tmp$/.exec(name);
  return m ? Number(m[1]) : null;
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Remove temp files left by writers that died (killed import). Returns the removed paths. */
export function removeDeadTemps(dir: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const pid = tempOwner(name);
    if (pid === null) continue;
    if (pid > 0 && pidAlive(pid)) continue;
    rmSync(join(dir, name), { force: true, recursive: true });
    removed.push(join(dir, name));
  }
  return removed;
}

/**
 * Remove stored files no catalogue row refers to (a writer killed between rename and commit). Files younger
 * than `minAgeMs` are kept: a live import renames then commits within milliseconds.
 */
export function removeUnreferenced(dir: string, referenced: Set<string>, minAgeMs = 60_000): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  const now = Date.now();
  for (const name of names) {
    if (tempOwner(name) !== null) continue;
    const p = join(dir, name);
    if (referenced.has(p)) continue;
    try {
      const st = statSync(p);
      if (!st.isFile() || now - st.mtimeMs < minAgeMs) continue;
    } catch {
      continue;
    }
    rmSync(p, { force: true });
    removed.push(p);
  }
  return removed;
}
