import { readNiftiFile, type NiftiFile } from '../../io/nifti.js';
import { describeError } from '../../engine/errors.js';

export type ReadOutcome<T> = { ok: true; value: T } | { ok: false; reason: string };

/** The reason part of a reader's error: readers already name the file, the report names it once. */
export function reasonOf(err: unknown): string {
  if (err && typeof err === 'object' && 'details' in err) {
    const d = (err as { details?: unknown }).details;
    if (d && typeof d === 'object' && typeof (d as { reason?: unknown }).reason === 'string') return (d as { reason: string }).reason;
  }
  const msg = describeError(err);
  return msg || 'unreadable file';
}

/** Never throws: any failure of the reader (including plain objects thrown by wasm code) is a reason. */
export async function guard<T>(read: () => Promise<T>): Promise<ReadOutcome<T>> {
  try {
    return { ok: true, value: await read() };
  } catch (err) {
    return { ok: false, reason: reasonOf(err) };
  }
}

export function readNiftiSafe(path: string): Promise<ReadOutcome<NiftiFile>> {
  return guard(() => readNiftiFile(path));
}
