import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../library/atomic.js';
import { decodeCheckpoint } from '../ml/pretrain/checkpoint.js';
import { LAST } from '../ml/pretrain/loop.js';

/**
 * Checkpoint history of a job. The training loop keeps one working file (`last.p2r`, replaced atomically);
 * after each write the job copies it to `checkpoints/ck-<step>.p2r` with a SHA-256 sidecar and keeps the newest
 * KEEP of them. Before resuming, the newest copy that still matches its checksum and parses wins; a damaged or
 * missing file is reported and the previous good one used.
 */

export const KEEP = 2;
const DIR = 'checkpoints';
const NAME = /^ck-(\d{9})\.p2r$/;

export interface CheckpointFile {
  step: number;
  path: string;
}

export interface Verified {
  ok: boolean;
  step: number | null;
  reason?: string;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function parse(buf: Buffer, path: string): number {
  const ck = decodeCheckpoint(buf, path);
  if (!Number.isInteger(ck.header.step) || ck.header.step < 0) throw new Error(`${path}: checkpoint has no valid step`);
  return ck.header.step;
}

/** Copies of past checkpoints, newest first. */
export function history(jobDir: string): CheckpointFile[] {
  const dir = join(jobDir, DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((n) => NAME.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), path: join(dir, m[0]) }))
    .sort((a, b) => b.step - a.step);
}

/** A history file checked against its sidecar checksum and parsed. */
export function verify(path: string): Verified {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    return { ok: false, step: null, reason: `cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
  const sidecar = `${path}.sha256`;
  if (existsSync(sidecar)) {
    const want = readFileSync(sidecar, 'utf8').trim();
    if (want !== sha256(buf)) return { ok: false, step: null, reason: 'its checksum does not match (the file is damaged)' };
  }
  try {
    return { ok: true, step: parse(buf, path) };
  } catch (err) {
    return { ok: false, step: null, reason: (err as Error).message };
  }
}

/**
 * Copy the loop's current last.p2r into the history (if it is newer than the newest copy) and prune.
 * Returns the copied step, or null when there was nothing new.
 */
export function snapshot(jobDir: string): CheckpointFile | null {
  const last = join(jobDir, LAST);
  let buf: Buffer;
  try {
    buf = readFileSync(last);
  } catch {
    return null;
  }
  const step = parse(buf, last);
  const newest = history(jobDir)[0];
  if (newest && newest.step >= step) return null;
  mkdirSync(join(jobDir, DIR), { recursive: true });
  const path = join(jobDir, DIR, `ck-${String(step).padStart(9, '0')}.p2r`);
  // Sidecar first: a crash between the two leaves a sidecar without its file, which is ignored.
  writeFileAtomic(`${path}.sha256`, Buffer.from(sha256(buf) + '\n'));
  writeFileAtomic(path, buf);
  for (const old of history(jobDir).slice(KEEP)) {
    rmSync(old.path, { force: true });
    rmSync(`${old.path}.sha256`, { force: true });
  }
  return { step, path };
}

export interface ResumePoint {
  /** Step the next run starts from (0: from scratch). */
  step: number;
  /** The file the loop will resume from (last.p2r after this call), or null when starting over. */
  from: string | null;
  /** Files that were passed over, with why. */
  rejected: { path: string; reason: string }[];
}

/**
 * Make `last.p2r` the newest good checkpoint before a (re)start. `last.p2r` itself counts when it parses and
 * either is newer than every copy (written just before a crash, not yet copied) or matches the copy of its step.
 */
export function prepareResume(jobDir: string): ResumePoint {
  const last = join(jobDir, LAST);
  const rejected: { path: string; reason: string }[] = [];
  const copies = history(jobDir);
  let good: CheckpointFile | null = null;
  for (const c of copies) {
    const v = verify(c.path);
    if (v.ok && v.step === c.step) {
      good = c;
      break;
    }
    rejected.push({ path: c.path, reason: v.reason ?? `it holds step ${v.step}, not ${c.step}` });
  }
  if (existsSync(last)) {
    let lastStep: number | null = null;
    let lastBuf: Buffer | null = null;
    try {
      lastBuf = readFileSync(last);
      lastStep = parse(lastBuf, last);
    } catch (err) {
      rejected.push({ path: last, reason: (err as Error).message });
    }
    if (lastStep !== null && lastBuf) {
      const same = copies.find((c) => c.step === lastStep);
      const sidecar = same ? `${same.path}.sha256` : null;
      const matches = !same || !sidecar || !existsSync(sidecar) || readFileSync(sidecar, 'utf8').trim() === sha256(lastBuf);
      if (!matches) rejected.push({ path: last, reason: 'it differs from the verified copy of the same step (the file is damaged)' });
      else if (!good || lastStep >= good.step) return { step: lastStep, from: last, rejected };
    }
  }
  if (!good) {
    // Nothing usable: start over rather than fail on a file the loop cannot read.
    rmSync(last, { force: true });
    return { step: 0, from: null, rejected };
  }
  writeFileAtomic(last, readFileSync(good.path));
  return { step: good.step, from: last, rejected };
}

