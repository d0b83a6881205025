/**
 * Writing NIfTI files, atomically (temp file in the target folder, then rename), gzip when the name ends
 * in .gz.
 *
 * - `writeNifti(path, volume)`: a fresh NIfTI-1 header from the Volume's geometry, sform and qform both set
 *   (code 1, scanner), voxels in the Volume's own dtype.
 * - `writeNiftiLike(path, source, data)`: the source file's header bytes kept as they are (transforms,
 *   pixdim, extensions, byte order), only the datatype and scaling patched when the data need it; this is
 *   how a label map is exported in its image's exact geometry.
 */
import { randomBytes } from 'node:crypto';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { endianness } from 'node:os';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { EngineFailure } from '../engine/errors.js';
import {
  lpsDirectionToRas,
  lpsToRasAffine,
  noNegZero,
  orthonormalityError,
  rotationToQuaternion,
} from './nifti-geometry.js';
import { NIFTI_DATATYPES, datatypeCodeOf, type NiftiDtype, type NiftiHeader } from './nifti-header.js';
import { swapBytes } from './nifti-read.js';
import { sameGeometry, voxelCount, type Volume, type VoxelArray } from './volume.js';

const gzipAsync = promisify(gzip);
const HOST_LE = endianness() === 'LE';

export interface WriteNiftiOptions {
  /** Text for the 80-byte descrip field (ASCII, cut to 79 characters). */
  description?: string;
  /** gzip level 1..9 (default 6) when the path ends in .gz. */
  gzipLevel?: number;
}

/** The NIfTI dtype name of a typed array. */
export function dtypeOfArray(a: VoxelArray): NiftiDtype {
  if (a instanceof Uint8Array) return 'uint8';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Uint16Array) return 'uint16';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint32Array) return 'uint32';
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  throw new Error('unsupported voxel array type');
}

/** Writes a Volume as a NIfTI-1 file with sform and qform describing its LPS geometry. */
export async function writeNifti(path: string, volume: Volume, opts: WriteNiftiOptions = {}): Promise<void> {
  checkVolume(path, volume);
  const header = buildHeader(volume, opts);
  await writeAtomic(path, header, voxelBytes(volume.data, true), opts);
}

/**
 * Writes `data` (a Volume or just its voxels) with the header of `source` (from readNiftiHeader or
 * readNiftiFile). A Volume must have the header's geometry (it is not written: the header's is). The
 * affine fields stay bit-for-bit; when the data's dtype differs from the source's, or
 * the source scales its voxels, datatype/bitpix are set to the data's and slope/intercept to 1/0, since the
 * values given are the real ones.
 */
export async function writeNiftiLike(
  path: string,
  source: NiftiHeader,
  data: Volume | VoxelArray,
  opts: WriteNiftiOptions = {},
): Promise<void> {
  const voxels = ArrayBuffer.isView(data) ? data : data.data;
  const expected = source.dims[0] * source.dims[1] * source.dims[2] * source.frames;
  if (!ArrayBuffer.isView(data) && (data.dims.some((n, i) => n !== source.dims[i]) || data.frames !== source.frames)) {
    throw writeError(
      path,
      `volume is ${data.dims.join('x')}x${data.frames}, source header ${source.path} is ${source.dims.join('x')}x${source.frames}`,
    );
  }
  if (!ArrayBuffer.isView(data) && !sameGeometry(data, { dims: source.dims, ...source.geometry })) {
    // The header's transforms are written, not the volume's: refuse rather than silently move the voxels.
    throw writeError(path, `volume geometry differs from the source header of ${source.path}`);
  }
  if (voxels.length !== expected) {
    throw writeError(path, `${voxels.length} voxels given, source header ${source.path} describes ${expected}`);
  }
  if (source.raw.length < source.voxOffset) {
    throw writeError(path, `source header of ${source.path} is incomplete (read it with readNiftiHeader)`);
  }
  const header = new Uint8Array(source.raw.subarray(0, source.voxOffset));
  const dtype = dtypeOfArray(voxels);
  if (dtype !== source.dtype || source.scaled) patchDatatype(header, source, dtype);
  if (opts.description !== undefined) writeDescrip(header, source, opts.description);
  await writeAtomic(path, header, voxelBytes(voxels, source.littleEndian), opts);
}

function checkVolume(path: string, v: Volume): void {
  if (v.dims.some((n) => !Number.isInteger(n) || n < 1 || n > 32767)) {
    throw writeError(path, `dims ${v.dims.join('x')} cannot be stored in NIfTI-1`);
  }
  if (!Number.isInteger(v.frames) || v.frames < 1 || v.frames > 32767) {
    throw writeError(path, `${v.frames} frames cannot be stored in NIfTI-1`);
  }
  if (v.data.length !== voxelCount(v)) {
    throw writeError(path, `volume holds ${v.data.length} voxels, dims say ${voxelCount(v)}`);
  }
  if (![...v.spacing, ...v.origin, ...v.direction].every(Number.isFinite) || v.spacing.some((s) => s <= 0)) {
    throw writeError(path, 'volume geometry has non-finite values or non-positive spacing');
  }
}

function buildHeader(v: Volume, opts: WriteNiftiOptions): Uint8Array {
  const buf = new Uint8Array(352);
  const view = new DataView(buf.buffer);
  const le = true;
  const dtype = dtypeOfArray(v.data);
  const code = datatypeCodeOf(dtype);
  view.setInt32(0, 348, le);
  const dim = [v.frames > 1 ? 4 : 3, v.dims[0], v.dims[1], v.dims[2], v.frames, 1, 1, 1];
  dim.forEach((d, i) => view.setInt16(40 + 2 * i, d, le));
  view.setInt16(70, code, le);
  view.setInt16(72, NIFTI_DATATYPES[code]!.bytes * 8, le);

  const rasDir = lpsDirectionToRas(v.direction);
  // A sheared direction matrix has no quaternion; the sform then carries the geometry alone.
  const qformOk = orthonormalityError(v.direction) < 1e-4;
  const q = qformOk ? rotationToQuaternion(rasDir) : { b: 0, c: 0, d: 0, qfac: 1 as const };
  const timed = v.frames > 1 && v.frameInterval !== undefined && v.frameInterval > 0;
  const pixdim = [q.qfac, v.spacing[0], v.spacing[1], v.spacing[2], timed ? v.frameInterval! : 0, 0, 0, 0];
  pixdim.forEach((p, i) => view.setFloat32(76 + 4 * i, p, le));
  view.setFloat32(108, 352, le); // vox_offset
  view.setFloat32(112, 1, le); // scl_slope
  view.setFloat32(116, 0, le); // scl_inter
  view.setUint8(123, 2 | (timed ? 8 : 0)); // mm, and seconds when frames are timed

  const affine = lpsToRasAffine(v);
  const origin = [affine[3]!, affine[7]!, affine[11]!];
  view.setInt16(252, qformOk ? 1 : 0, le);
  view.setInt16(254, 1, le);
  [q.b, q.c, q.d].forEach((x, i) => view.setFloat32(256 + 4 * i, noNegZero(x), le));
  origin.forEach((x, i) => view.setFloat32(268 + 4 * i, x, le));
  affine.forEach((x, i) => view.setFloat32(280 + 4 * i, x, le));
  buf.set([0x6e, 0x2b, 0x31, 0x00], 344); // "n+1\0"
  writeDescrip(buf, { version: 1 }, opts.description ?? 'Pix2Rep Workstation');
  return buf;
}

function patchDatatype(header: Uint8Array, source: NiftiHeader, dtype: NiftiDtype): void {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const le = source.littleEndian;
  const code = datatypeCodeOf(dtype);
  const bitpix = NIFTI_DATATYPES[code]!.bytes * 8;
  if (source.version === 1) {
    view.setInt16(70, code, le);
    view.setInt16(72, bitpix, le);
    view.setFloat32(112, 1, le);
    view.setFloat32(116, 0, le);
  } else {
    view.setInt16(12, code, le);
    view.setInt16(14, bitpix, le);
    view.setFloat64(176, 1, le);
    view.setFloat64(184, 0, le);
  }
}

function writeDescrip(header: Uint8Array, source: Pick<NiftiHeader, 'version'>, text: string): void {
  const off = source.version === 1 ? 148 : 240;
  header.fill(0, off, off + 80);
  const ascii = text.replace(/[^\x20-\x7e]/g, '?').slice(0, 79);
  for (let i = 0; i < ascii.length; i++) header[off + i] = ascii.charCodeAt(i);
}

/** The voxels' bytes in the requested byte order (a copy only when bytes must be swapped). */
function voxelBytes(data: VoxelArray, littleEndian: boolean): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data.BYTES_PER_ELEMENT === 1 || littleEndian === HOST_LE) return bytes;
  const copy = new Uint8Array(bytes);
  swapBytes(copy, data.BYTES_PER_ELEMENT);
  return copy;
}

async function writeAtomic(path: string, header: Uint8Array, voxels: Uint8Array, opts: WriteNiftiOptions): Promise<void> {
  const body = Buffer.concat([header, voxels]);
  const payload = /\.gz$/i.test(path) ? await gzipAsync(body, { level: opts.gzipLevel ?? 6 }) : body;
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, payload, { flush: true });
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw writeError(path, err instanceof Error ? err.message : String(err));
  }
}

function writeError(path: string, reason: string): EngineFailure {
  return new EngineFailure('BAD_INPUT', `Cannot write NIfTI file ${path}: ${reason}`, { path, reason });
}
