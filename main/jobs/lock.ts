import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';

/**
 * One runner per workspace: an exclusive lock file holding the owner's pid. A file left by a dead process
 * (crash, power loss) is taken over; a live owner's lock is respected.
 */

export interface LockInfo {
  pid: number;
  startedAt: string;
}

export class RunnerLockedError extends Error {
  constructor(
    readonly path: string,
    readonly owner: LockInfo,
  ) {
    super(`another job runner (pid ${owner.pid}, since ${owner.startedAt}) holds ${path}`);
    this.name = 'RunnerLockedError';
  }
}

export function pidAlive(pid: number | null | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readLock(path: string): LockInfo | null {
  try {
    const info = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
    return typeof info.pid === 'number' ? info : null;
  } catch {
    return null;
  }
}

/** The pid of the live runner holding the lock, or null. */
export function lockOwner(path: string): number | null {
  const info = readLock(path);
  return info && pidAlive(info.pid) ? info.pid : null;
}

/** Locks this process holds: a lock file naming our own pid that is not here was left by an earlier process
 * that happened to have the same pid (after a reboot), so it is stale. */
const held = new Set<string>();

/** Take the lock or throw RunnerLockedError. Returns a release function. */
export function acquireLock(path: string, pid = process.pid): () => void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, JSON.stringify({ pid, startedAt: new Date().toISOString() } satisfies LockInfo));
      } finally {
        closeSync(fd);
      }
      if (pid === process.pid) held.add(path);
      return () => {
        held.delete(path);
        // Only remove the file if it is still ours (a stale-lock takeover by another runner replaced it).
        if (readLock(path)?.pid === pid) rmSync(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const info = readLock(path);
      const ours = info?.pid === process.pid;
      if (info && pidAlive(info.pid) && (!ours || held.has(path))) throw new RunnerLockedError(path, info);
      // Stale (dead owner) or unreadable (a writer died between create and write): remove and retry.
      rmSync(path, { force: true });
    }
  }
  throw new Error(`could not take the runner lock ${path}`);
}
