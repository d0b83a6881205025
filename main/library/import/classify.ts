import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { gunzipSync, constants as zc } from 'node:zlib';
import { looksLikeDicom } from '../../io/dicom/index.js';
import type { Classified } from './types.js';

const HEAD_BYTES = 64 * 1024;

export const NIFTI_EXT = /\.nii(\.gz)?$/i;

/** Files read for metadata only; they are neither imported nor reported as skipped. */
export function isSidecar(path: string): boolean {
  return basename(path).toLowerCase() === 'info.cfg';
}

/**
 * Decide by content which reader a file goes to. Names are only hints: a NIfTI is recognised by its header
 * (sizeof_hdr and magic, inside gzip when compressed), a DICOM file by the DICM marker or, for files without a
 * preamble, by a plausible first element (the DICOM reader's own sniffing decides).
 */
export async function classifyFile(path: string): Promise<Classified> {
  if (isSidecar(path)) return { path, kind: 'sidecar' };
  let head: Buffer;
  let size: number;
  try {
    const fh = await open(path, 'r');
    try {
      size = (await fh.stat()).size;
      const buf = Buffer.alloc(Math.min(HEAD_BYTES, size));
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      head = buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch (err) {
    return { path, kind: 'skip', reason: `cannot read file (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
  }
  return classifyBytes(path, head, size);
}

/** Classification from the first bytes of a file (exported for tests and the fuzz harness). */
export function classifyBytes(path: string, head: Uint8Array, size: number): Classified {
  if (size === 0) return { path, kind: 'skip', reason: 'empty file (0 bytes)' };
  const buf = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  const niftiName = NIFTI_EXT.test(path);
  if (isGzip(buf)) {
    const inner = gunzipPrefix(buf);
    if (!inner) return { path, kind: 'skip', reason: 'gzip-compressed file whose start cannot be decompressed (corrupt)' };
    const n = niftiHeaderKind(inner);
    if (n === 'nifti') return { path, kind: 'nifti' };
    if (n === 'analyze') return { path, kind: 'skip', reason: 'NIfTI/Analyze header-only file (.hdr/.img pairs are not supported)' };
    if (inner.length < 348 && niftiName) return { path, kind: 'skip', reason: `too short for a NIfTI header: ${inner.length} bytes after decompression` };
    return { path, kind: 'skip', reason: niftiName ? 'not a valid NIfTI header (bad sizeof_hdr or magic)' : 'gzip-compressed file that is not NIfTI' };
  }
  const n = niftiHeaderKind(buf);
  if (n === 'nifti') return { path, kind: 'nifti' };
  if (n === 'analyze') return { path, kind: 'skip', reason: 'NIfTI/Analyze header-only file (.hdr/.img pairs are not supported)' };
  if (looksLikeDicom(buf)) return { path, kind: 'dicom' };
  if (niftiName) {
    return { path, kind: 'skip', reason: buf.length < 348 ? `truncated NIfTI: ${buf.length} bytes, a header needs 348` : 'not a valid NIfTI header (bad sizeof_hdr or magic)' };
  }
  if (/\.dcm$/i.test(path)) return { path, kind: 'skip', reason: 'not a DICOM file (no DICM marker and no valid first element)' };
  return { path, kind: 'skip', reason: 'not a DICOM or NIfTI file' };
}

function isGzip(b: Buffer): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

/** Decompress as much of a gzip prefix as the bytes allow (no error on a truncated stream). */
function gunzipPrefix(b: Buffer): Buffer | null {
  try {
    return gunzipSync(b, { finishFlush: zc.Z_SYNC_FLUSH });
  } catch {
    return null;
  }
}

function niftiHeaderKind(b: Buffer): 'nifti' | 'analyze' | null {
  if (b.length >= 348) {
    const le = b.readInt32LE(0);
    const be = b.readInt32BE(0);
    if (le === 348 || be === 348) {
      const magic = b.toString('latin1', 344, 348);
      if (magic === 'n+1\0') return 'nifti';
      if (magic === 'ni1\0') return 'analyze';
    }
  }
  if (b.length >= 540) {
    const le = b.readInt32LE(0);
    const be = b.readInt32BE(0);
    if ((le === 540 || be === 540) && b.toString('latin1', 4, 8) === 'n+2\0') return 'nifti';
    if ((le === 540 || be === 540) && b.toString('latin1', 4, 8) === 'ni2\0') return 'analyze';
  }
  return null;
}
