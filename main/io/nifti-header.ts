/**
 * NIfTI-1 / NIfTI-2 header parsing and validation (no file access here: see nifti.ts).
 *
 * Every problem is reported as an EngineFailure('BAD_INPUT') whose message names the file and the reason,
 * and nothing here allocates from header numbers: the reader checks sizes against the file first.
 */
import { EngineFailure } from '../engine/errors.js';
import {
  columnNorms,
  noNegZero,
  quaternionToRotation,
  rasAffineToLps,
  type LpsGeometry,
} from './nifti-geometry.js';
import type { Vec3 } from './volume.js';

export type NiftiDtype = 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';

export const NIFTI_DATATYPES: Record<number, { dtype: NiftiDtype; bytes: number }> = {
  2: { dtype: 'uint8', bytes: 1 },
  4: { dtype: 'int16', bytes: 2 },
  8: { dtype: 'int32', bytes: 4 },
  16: { dtype: 'float32', bytes: 4 },
  64: { dtype: 'float64', bytes: 8 },
  256: { dtype: 'int8', bytes: 1 },
  512: { dtype: 'uint16', bytes: 2 },
  768: { dtype: 'uint32', bytes: 4 },
};

/** Names of the standard codes we do not read, so the error says what the file holds. */
const UNSUPPORTED_DATATYPES: Record<number, string> = {
  0: 'unknown',
  1: 'binary (1 bit)',
  32: 'complex64',
  128: 'rgb24',
  1024: 'int64',
  1280: 'uint64',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'rgba32',
};

export function datatypeCodeOf(dtype: NiftiDtype): number {
  for (const [code, t] of Object.entries(NIFTI_DATATYPES)) if (t.dtype === dtype) return Number(code);
  throw new Error(`no NIfTI datatype for ${dtype}`);
}

/** Above this many voxels a header is treated as corrupt rather than as a real image. */
export const MAX_VOXELS = 2 ** 31;

export interface NiftiHeader {
  path: string;
  version: 1 | 2;
  littleEndian: boolean;
  /** 348 (NIfTI-1) or 540 (NIfTI-2). */
  headerSize: number;
  datatype: number;
  dtype: NiftiDtype;
  bytesPerVoxel: number;
  /** The raw dim[0..7] field. */
  dim: number[];
  dims: Vec3;
  frames: number;
  /** The raw pixdim[0..7] field. */
  pixdim: number[];
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  /** True when slope/intercept change values (slope not 0 or 1, or intercept not 0). */
  scaled: boolean;
  xyztUnits: number;
  qformCode: number;
  sformCode: number;
  /** quatern_b, quatern_c, quatern_d as stored. */
  quatern: Vec3;
  /** qoffset_x, y, z as stored (RAS). */
  qoffset: Vec3;
  /** srow_x, srow_y, srow_z as stored (RAS, 3x4 row-major). */
  srow: number[];
  intentCode: number;
  descrip: string;
  /** The transform the geometry came from. */
  geometrySource: 'sform' | 'qform' | 'pixdim';
  /** LPS geometry in millimetres (what the Volume gets). */
  geometry: LpsGeometry;
  /** Seconds between frames when the file says so (pixdim[4] with a time unit), else undefined. */
  frameInterval?: number;
  /** Bytes of voxel data the header claims (all frames). */
  dataBytes: number;
  /** Oddities that did not stop reading (sform/pixdim disagreement, fixed vox_offset, ...). */
  warnings: string[];
  /** The file's bytes before the voxels (header + extensions), for writing a file with the same header. */
  raw: Uint8Array;
}

export function niftiError(path: string, reason: string): EngineFailure {
  return new EngineFailure('BAD_INPUT', `Cannot read NIfTI file ${path}: ${reason}`, { path, reason });
}

/** Size of the header whose first 4 bytes are `bytes` and its byte order, or null if it is not NIfTI. */
export function detectNifti(bytes: Uint8Array): { headerSize: 348 | 540; littleEndian: boolean } | null {
  if (bytes.length < 4) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 4);
  for (const littleEndian of [true, false]) {
    const size = view.getInt32(0, littleEndian);
    if (size === 348 || size === 540) return { headerSize: size, littleEndian };
  }
  return null;
}

const SPATIAL_UNIT_MM: Record<number, number> = { 0: 1, 1: 1000, 2: 1, 3: 0.001 };
const TIME_UNIT_S: Record<number, number> = { 8: 1, 16: 1e-3, 24: 1e-6 };

/**
 * Parses and validates a header. `bytes` must hold at least the header (348 or 540 bytes); `raw` in the
 * result holds whatever of [0, vox_offset) `bytes` contains, so pass vox_offset bytes to keep extensions.
 */
export function parseNiftiHeader(bytes: Uint8Array, path: string): NiftiHeader {
  if (bytes.length === 0) throw niftiError(path, 'empty file (0 bytes)');
  const kind = detectNifti(bytes);
  if (!kind) {
    if (bytes.length < 4) throw niftiError(path, `file too short to be NIfTI (${bytes.length} bytes)`);
    const v = new DataView(bytes.buffer, bytes.byteOffset, 4);
    throw niftiError(path, `not a NIfTI file (sizeof_hdr is ${v.getInt32(0, true)}, expected 348 or 540)`);
  }
  const { headerSize, littleEndian: le } = kind;
  if (bytes.length < headerSize) {
    throw niftiError(path, `truncated header (${bytes.length} of ${headerSize} bytes)`);
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, headerSize);
  const version = headerSize === 348 ? 1 : 2;
  const text = (off: number, len: number) => {
    let s = '';
    for (let i = 0; i < len; i++) {
      const ch = bytes[off + i]!;
      if (ch === 0) break;
      s += String.fromCharCode(ch);
    }
    return s;
  };
  const f32 = (off: number) => v.getFloat32(off, le);
  const f64 = (off: number) => v.getFloat64(off, le);
  const i64 = (off: number) => Number(v.getBigInt64(off, le));

  const magicOff = version === 1 ? 344 : 4;
  const magic = text(magicOff, 4);
  if (magic === 'ni1' || magic === 'ni2') {
    throw niftiError(path, 'header/image pairs (.hdr + .img) are not supported; convert to a single .nii file');
  }
  if (magic !== (version === 1 ? 'n+1' : 'n+2')) {
    throw niftiError(path, `bad NIfTI-${version} magic ${JSON.stringify(magic)} (not a NIfTI file?)`);
  }

  const dim: number[] = [];
  const pixdim: number[] = [];
  for (let i = 0; i < 8; i++) {
    dim.push(version === 1 ? v.getInt16(40 + 2 * i, le) : i64(16 + 8 * i));
    pixdim.push(version === 1 ? f32(76 + 4 * i) : f64(104 + 8 * i));
  }
  const h = {
    datatype: version === 1 ? v.getInt16(70, le) : v.getInt16(12, le),
    voxOffsetRaw: version === 1 ? f32(108) : i64(168),
    sclSlope: version === 1 ? f32(112) : f64(176),
    sclInter: version === 1 ? f32(116) : f64(184),
    xyztUnits: version === 1 ? v.getUint8(123) : v.getInt32(500, le),
    intentCode: version === 1 ? v.getInt16(68, le) : v.getInt32(504, le),
    descrip: version === 1 ? text(148, 80) : text(240, 80),
    qformCode: version === 1 ? v.getInt16(252, le) : v.getInt32(344, le),
    sformCode: version === 1 ? v.getInt16(254, le) : v.getInt32(348, le),
    quatern: [0, 1, 2].map((i) => (version === 1 ? f32(256 + 4 * i) : f64(352 + 8 * i))) as Vec3,
    qoffset: [0, 1, 2].map((i) => (version === 1 ? f32(268 + 4 * i) : f64(376 + 8 * i))) as Vec3,
    srow: Array.from({ length: 12 }, (_, i) => (version === 1 ? f32(280 + 4 * i) : f64(400 + 8 * i))),
  };
  const warnings: string[] = [];

  // --- dimensions: validated before any size is computed from them
  const ndim = dim[0]!;
  if (!(ndim >= 1 && ndim <= 7)) throw niftiError(path, `dim[0] is ${ndim} (must be 1 to 7)`);
  for (let i = 1; i <= ndim; i++) {
    if (!(dim[i]! >= 1)) throw niftiError(path, `dimension ${i} is ${dim[i]} (must be at least 1)`);
  }
  for (let i = 5; i <= ndim; i++) {
    if (dim[i]! > 1) {
      throw niftiError(path, `${ndim}D data (dim[${i}] = ${dim[i]}) is not supported: only 3D volumes and 4D time series`);
    }
  }
  const size = (i: number) => (i <= ndim ? dim[i]! : 1);
  const dims: Vec3 = [size(1), size(2), size(3)];
  const frames = size(4);
  const voxels = dims[0] * dims[1] * dims[2] * frames;
  if (voxels > MAX_VOXELS) {
    throw niftiError(path, `header claims an absurd size (${dims.join('x')}x${frames} = ${voxels} voxels)`);
  }

  // --- datatype
  const type = NIFTI_DATATYPES[h.datatype];
  if (!type) {
    const name = UNSUPPORTED_DATATYPES[h.datatype];
    throw niftiError(path, `unsupported datatype code ${h.datatype}${name ? ` (${name})` : ''}`);
  }
  const bitpix = version === 1 ? v.getInt16(72, le) : v.getInt16(14, le);
  if (bitpix !== type.bytes * 8) warnings.push(`bitpix ${bitpix} disagrees with datatype ${type.dtype}; datatype used`);

  // --- voxel offset
  let voxOffset = h.voxOffsetRaw;
  if (!Number.isFinite(voxOffset) || voxOffset < 0 || !Number.isInteger(voxOffset)) {
    throw niftiError(path, `invalid vox_offset ${voxOffset}`);
  }
  if (voxOffset < headerSize) {
    // Some old writers leave 0 here; the single-file layout puts voxels right after the 4 extension bytes.
    warnings.push(`vox_offset ${voxOffset} is inside the header; using ${headerSize + 4}`);
    voxOffset = headerSize + 4;
  }

  // --- scaling (NIfTI: slope 0 or non-finite means "no scaling")
  const slopeOn = Number.isFinite(h.sclSlope) && h.sclSlope !== 0;
  const sclSlope = slopeOn ? h.sclSlope : 1;
  const sclInter = slopeOn && Number.isFinite(h.sclInter) ? h.sclInter : 0;
  const scaled = sclSlope !== 1 || sclInter !== 0;

  // --- geometry
  const unitScale = SPATIAL_UNIT_MM[h.xyztUnits & 0x07] ?? 1;
  const { source, geometry } = chooseGeometry(h, pixdim, unitScale, warnings);
  const timeScale = TIME_UNIT_S[h.xyztUnits & 0x38];
  const frameInterval =
    frames > 1 && timeScale !== undefined && Number.isFinite(pixdim[4]) && pixdim[4]! > 0
      ? pixdim[4]! * timeScale
      : undefined;

  return {
    path,
    version,
    littleEndian: le,
    headerSize,
    datatype: h.datatype,
    dtype: type.dtype,
    bytesPerVoxel: type.bytes,
    dim,
    dims,
    frames,
    pixdim,
    voxOffset,
    sclSlope,
    sclInter,
    scaled,
    xyztUnits: h.xyztUnits,
    qformCode: h.qformCode,
    sformCode: h.sformCode,
    quatern: h.quatern,
    qoffset: h.qoffset,
    srow: h.srow,
    intentCode: h.intentCode,
    descrip: h.descrip,
    geometrySource: source,
    geometry,
    ...(frameInterval !== undefined ? { frameInterval } : {}),
    dataBytes: voxels * type.bytes,
    warnings,
    raw: bytes.slice(0, Math.min(voxOffset, bytes.length)),
  };
}

interface TransformFields {
  qformCode: number;
  sformCode: number;
  quatern: Vec3;
  qoffset: Vec3;
  srow: number[];
}

/** The qform as a RAS 3x4 affine (rotation x diag(pixdim) with qfac on the third axis, plus qoffset). */
export function qformAffine(h: Pick<TransformFields, 'quatern' | 'qoffset'>, pixdim: number[]): number[] {
  const r = quaternionToRotation(h.quatern[0], h.quatern[1], h.quatern[2]);
  const qfac = pixdim[0]! < 0 ? -1 : 1;
  const step = [1, 2, 3].map((i) => positiveOr(pixdim[i]!, 1));
  const zoom = [step[0]!, step[1]!, qfac * step[2]!];
  const out: number[] = [];
  for (let row = 0; row < 3; row++) {
    for (let c = 0; c < 3; c++) out.push(r[row * 3 + c]! * zoom[c]!);
    out.push(h.qoffset[row]!);
  }
  return out;
}

function positiveOr(x: number, fallback: number): number {
  const a = Math.abs(x);
  return Number.isFinite(a) && a > 0 ? a : fallback;
}

/**
 * sform if its code is set and it is usable, else qform, else pixdim only. Spacing comes from |pixdim| when
 * valid (as ITK does): ACDC's sforms, for one, hold unit columns while pixdim holds the real 1.56 mm;
 * sform column norms are the fallback when pixdim is missing.
 */
function chooseGeometry(
  h: TransformFields,
  pixdim: number[],
  unitScale: number,
  warnings: string[],
): { source: NiftiHeader['geometrySource']; geometry: LpsGeometry } {
  const scale = (g: LpsGeometry): LpsGeometry => ({
    spacing: g.spacing.map((s) => s * unitScale) as Vec3,
    origin: g.origin.map((o) => noNegZero(o * unitScale)) as Vec3,
    direction: g.direction,
  });
  if (h.sformCode > 0) {
    const norms = columnNorms(h.srow);
    if (h.srow.every(Number.isFinite) && norms.every((n) => n > 0)) {
      const spacing = [1, 2, 3].map((i) => positiveOr(pixdim[i]!, norms[i - 1]!)) as Vec3;
      const mismatch = spacing.some((s, i) => Math.abs(s - norms[i]!) > 1e-4 * Math.max(s, norms[i]!));
      if (mismatch) {
        const fmt = (a: readonly number[]) => a.map((x) => +x.toFixed(4)).join(' x ');
        warnings.push(`sform column lengths (${fmt(norms)}) differ from pixdim (${fmt(spacing)}); spacing taken from pixdim`);
      }
      return { source: 'sform', geometry: scale(rasAffineToLps(h.srow, spacing)) };
    }
    warnings.push('sform is degenerate (zero or non-finite column); ignored');
  }
  if (h.qformCode > 0) {
    const fields = [...h.quatern, ...h.qoffset];
    if (fields.every(Number.isFinite) && Math.hypot(...h.quatern) <= 1 + 1e-4) {
      const affine = qformAffine(h, pixdim);
      const spacing = [1, 2, 3].map((i) => positiveOr(pixdim[i]!, 1)) as Vec3;
      return { source: 'qform', geometry: scale(rasAffineToLps(affine, spacing)) };
    }
    warnings.push('qform quaternion is invalid; ignored');
  }
  // Analyze-style: axes along RAS, voxel (0,0,0) at the origin.
  const spacing = [1, 2, 3].map((i) => positiveOr(pixdim[i]!, 1)) as Vec3;
  const affine = [spacing[0], 0, 0, 0, 0, spacing[1], 0, 0, 0, 0, spacing[2], 0];
  return { source: 'pixdim', geometry: scale(rasAffineToLps(affine, spacing)) };
}
