/**
 * Reading NIfTI files (.nii and .nii.gz; gzip is recognised by its magic bytes, not by the name).
 *
 * Sizes are checked against what the file really holds before any voxel buffer is allocated: a plain file
 * against its length, a gzip stream by decompressing it and keeping only the bytes the header asks for.
 */
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { createGunzip } from 'node:zlib';
import { niftiError, parseNiftiHeader, type NiftiDtype, type NiftiHeader } from './nifti-header.js';
import type { Volume, VoxelArray } from './volume.js';

const HOST_LE = endianness() === 'LE';

/** Bytes that always hold a full header of either version. */
const HEADER_PROBE = 540;

const CTORS: Record<NiftiDtype, new (n: number) => VoxelArray> = {
  uint8: Uint8Array,
  int8: Int8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
};

export interface NiftiFile {
  header: NiftiHeader;
  volume: Volume;
}

/** Reads a NIfTI file into the LPS Volume model (scaled values as Float32Array when the file scales them). */
export async function readNifti(path: string): Promise<Volume> {
  return (await readNiftiFile(path)).volume;
}

/** Reads a NIfTI file and keeps its header (for `writeNiftiLike`, warnings, raw transform fields). */
export async function readNiftiFile(path: string): Promise<NiftiFile> {
  const { header, data } = await loadNifti(path, 'all');
  if (!data) throw niftiError(path, 'no voxel data');
  return { header, volume: toVolume(header, data) };
}

/**
 * Reads only the header (and extensions): cheap, for looking at dims and geometry. For a plain .nii it also
 * checks that the file is long enough for the voxels; a .nii.gz is only decompressed up to vox_offset, so a
 * truncated stream is found by readNifti, not here.
 */
export async function readNiftiHeader(path: string): Promise<NiftiHeader> {
  return (await loadNifti(path, 'header')).header;
}

async function loadNifti(path: string, mode: 'header' | 'all'): Promise<{ header: NiftiHeader; data?: Uint8Array }> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw niftiError(path, fsReason(err));
  }
  try {
    const size = (await fh.stat()).size;
    if (size === 0) throw niftiError(path, 'empty file (0 bytes)');
    const probe = new Uint8Array(Math.min(size, HEADER_PROBE));
    await fh.read(probe, 0, probe.length, 0);
    if (probe[0] === 0x1f && probe[1] === 0x8b) {
      await fh.close().catch(() => undefined);
      return await loadGzip(path, mode);
    }
    return await loadPlain(path, fh, size, probe, mode);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

async function loadPlain(
  path: string,
  fh: FileHandle,
  size: number,
  probe: Uint8Array,
  mode: 'header' | 'all',
): Promise<{ header: NiftiHeader; data?: Uint8Array }> {
  let header = parseNiftiHeader(probe, path);
  checkFits(header, size, 'all');
  if (header.voxOffset > probe.length) {
    const head = new Uint8Array(header.voxOffset);
    await fh.read(head, 0, head.length, 0);
    header = parseNiftiHeader(head, path);
  }
  if (mode === 'header') return { header };
  // Safe to allocate: checkFits proved the file holds these bytes.
  const data = new Uint8Array(header.dataBytes);
  let done = 0;
  while (done < data.length) {
    const { bytesRead } = await fh.read(data, done, data.length - done, header.voxOffset + done);
    if (bytesRead === 0) throw niftiError(path, 'file shrank while it was being read');
    done += bytesRead;
  }
  return { header, data };
}

async function loadGzip(path: string, mode: 'header' | 'all'): Promise<{ header: NiftiHeader; data?: Uint8Array }> {
  const source = createReadStream(path);
  const gunzip = createGunzip();
  source.on('error', (err) => gunzip.destroy(err));
  source.pipe(gunzip);

  const chunks: Buffer[] = [];
  let kept = 0;
  let total = 0;
  let header: NiftiHeader | undefined;
  let want = 0;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (!header) {
        chunks.push(chunk);
        kept += chunk.length;
        if (kept < HEADER_PROBE) continue;
        const head = Buffer.concat(chunks, kept);
        header = parseNiftiHeader(head, path);
        want = mode === 'header' ? header.voxOffset : header.voxOffset + header.dataBytes;
        // The first chunks may reach past the voxels of a small image: keep exactly `want` bytes.
        chunks.length = 0;
        chunks.push(kept > want ? head.subarray(0, want) : head);
        kept = Math.min(kept, want);
      } else if (kept < want) {
        const part = chunk.length > want - kept ? chunk.subarray(0, want - kept) : chunk;
        chunks.push(part);
        kept += part.length;
      }
      if (mode === 'header' && kept >= want) break;
    }
  } catch (err) {
    if (err instanceof Error && err.name === 'EngineFailure') throw err;
    throw niftiError(path, gzipReason(err, total));
  } finally {
    source.destroy();
    gunzip.destroy();
  }
  const bytes = Buffer.concat(chunks, kept);
  if (!header) header = parseNiftiHeader(bytes, path); // short stream: throws the precise reason
  checkFits(header, total, mode);
  if (mode === 'header') return { header: parseNiftiHeader(bytes.subarray(0, header.voxOffset), path) };
  header = parseNiftiHeader(bytes.subarray(0, header.voxOffset), path);
  return { header, data: bytes.subarray(header.voxOffset, header.voxOffset + header.dataBytes) };
}

/** Throws when the header points past the end of the (decompressed) file; `header` checks vox_offset only. */
function checkFits(h: NiftiHeader, available: number, mode: 'header' | 'all'): void {
  if (h.voxOffset > available) {
    throw niftiError(h.path, `vox_offset ${h.voxOffset} is beyond the end of the file (${available} bytes)`);
  }
  if (mode === 'header') return;
  const need = h.voxOffset + h.dataBytes;
  if (need > available) {
    throw niftiError(
      h.path,
      `header lies about its size: ${h.dims.join('x')}x${h.frames} ${h.dtype} voxels need ${need} bytes, ` +
        `the file holds ${available}`,
    );
  }
}

function toVolume(h: NiftiHeader, bytes: Uint8Array): Volume {
  const n = h.dataBytes / h.bytesPerVoxel;
  const raw = new CTORS[h.dtype](n);
  const out = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  out.set(bytes);
  if (h.bytesPerVoxel > 1 && h.littleEndian !== HOST_LE) swapBytes(out, h.bytesPerVoxel);
  let data: VoxelArray = raw;
  if (h.scaled) {
    const scaled = new Float32Array(n);
    for (let i = 0; i < n; i++) scaled[i] = raw[i]! * h.sclSlope + h.sclInter;
    data = scaled;
  }
  const { spacing, origin, direction } = h.geometry;
  return {
    dims: [...h.dims],
    frames: h.frames,
    spacing: [...spacing],
    origin: [...origin],
    direction: [...direction],
    data,
    ...(h.frameInterval !== undefined ? { frameInterval: h.frameInterval } : {}),
  };
}

/** Reverses the byte order of every `size`-byte element in place. */
export function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

function fsReason(err: unknown): string {
  const code = (err as { code?: string }).code;
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EISDIR') return 'is a folder, not a file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return err instanceof Error ? err.message : String(err);
}

function gzipReason(err: unknown, decompressed: number): string {
  const code = (err as { code?: string }).code;
  const msg = err instanceof Error ? err.message : String(err);
  if (code === 'Z_BUF_ERROR' || /unexpected end/i.test(msg)) {
    return `truncated gzip data (stream ends after ${decompressed} decompressed bytes)`;
  }
  if (code === 'Z_DATA_ERROR') return `corrupt gzip data (${msg})`;
  return fsReason(err);
}
