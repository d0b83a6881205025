/**
 * Hand-encoded NIfTI files for tests, written field by field from the NIfTI-1/2 layouts (independent of the
 * engine's writer, so reader and writer are not only checked against each other).
 */
import { gzipSync } from 'node:zlib';

export interface FixtureSpec {
  version?: 1 | 2;
  littleEndian?: boolean;
  datatype: number;
  bitpix?: number;
  /** dim[0..7]; unspecified entries are 1. */
  dim: number[];
  pixdim?: number[];
  voxOffset?: number;
  sclSlope?: number;
  sclInter?: number;
  xyztUnits?: number;
  qformCode?: number;
  sformCode?: number;
  quatern?: [number, number, number];
  qoffset?: [number, number, number];
  srow?: number[];
  magic?: string;
  /** Voxel values in file order, encoded with `datatype` in the file's byte order. */
  values?: ArrayLike<number>;
  /** Extra raw bytes appended after the voxels (or used instead of values when given alone). */
  trailing?: Uint8Array;
}

const SIZES: Record<number, number> = { 2: 1, 4: 2, 8: 4, 16: 4, 32: 8, 64: 8, 256: 1, 512: 2, 768: 4 };

export function buildNifti(s: FixtureSpec): Buffer {
  const version = s.version ?? 1;
  const le = s.littleEndian ?? true;
  const headerSize = version === 1 ? 348 : 540;
  const voxOffset = s.voxOffset ?? headerSize + 4;
  const size = SIZES[s.datatype] ?? 1;
  const n = s.values?.length ?? 0;
  const buf = Buffer.alloc(Math.max(voxOffset, headerSize + 4) + n * size);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dim = Array.from({ length: 8 }, (_, i) => s.dim[i] ?? 1);
  const pixdim = Array.from({ length: 8 }, (_, i) => s.pixdim?.[i] ?? (i === 0 ? 1 : i <= 4 ? 1 : 0));
  v.setInt32(0, headerSize, le);
  const put = (off: number, text: string) => {
    for (let i = 0; i < text.length; i++) buf[off + i] = text.charCodeAt(i);
  };
  if (version === 1) {
    dim.forEach((d, i) => v.setInt16(40 + 2 * i, d, le));
    v.setInt16(70, s.datatype, le);
    v.setInt16(72, s.bitpix ?? size * 8, le);
    pixdim.forEach((p, i) => v.setFloat32(76 + 4 * i, p, le));
    v.setFloat32(108, voxOffset, le);
    v.setFloat32(112, s.sclSlope ?? 1, le);
    v.setFloat32(116, s.sclInter ?? 0, le);
    v.setUint8(123, s.xyztUnits ?? 2);
    v.setInt16(252, s.qformCode ?? 0, le);
    v.setInt16(254, s.sformCode ?? 0, le);
    (s.quatern ?? [0, 0, 0]).forEach((q, i) => v.setFloat32(256 + 4 * i, q, le));
    (s.qoffset ?? [0, 0, 0]).forEach((q, i) => v.setFloat32(268 + 4 * i, q, le));
    (s.srow ?? new Array(12).fill(0)).forEach((x, i) => v.setFloat32(280 + 4 * i, x, le));
    put(344, s.magic ?? 'n+1\0');
  } else {
    put(4, s.magic ?? 'n+2\0\r\n\x1a\n');
    v.setInt16(12, s.datatype, le);
    v.setInt16(14, s.bitpix ?? size * 8, le);
    dim.forEach((d, i) => v.setBigInt64(16 + 8 * i, BigInt(d), le));
    pixdim.forEach((p, i) => v.setFloat64(104 + 8 * i, p, le));
    v.setBigInt64(168, BigInt(voxOffset), le);
    v.setFloat64(176, s.sclSlope ?? 1, le);
    v.setFloat64(184, s.sclInter ?? 0, le);
    v.setInt32(344, s.qformCode ?? 0, le);
    v.setInt32(348, s.sformCode ?? 0, le);
    (s.quatern ?? [0, 0, 0]).forEach((q, i) => v.setFloat64(352 + 8 * i, q, le));
    (s.qoffset ?? [0, 0, 0]).forEach((q, i) => v.setFloat64(376 + 8 * i, q, le));
    (s.srow ?? new Array(12).fill(0)).forEach((x, i) => v.setFloat64(400 + 8 * i, x, le));
    v.setInt32(500, s.xyztUnits ?? 2, le);
  }
  for (let i = 0; i < n; i++) {
    const off = voxOffset + i * size;
    const x = s.values![i]!;
    switch (s.datatype) {
      case 2: v.setUint8(off, x); break;
      case 256: v.setInt8(off, x); break;
      case 4: v.setInt16(off, x, le); break;
      case 512: v.setUint16(off, x, le); break;
      case 8: v.setInt32(off, x, le); break;
      case 768: v.setUint32(off, x, le); break;
      case 16: v.setFloat32(off, x, le); break;
      case 64: v.setFloat64(off, x, le); break;
      default: throw new Error(`fixture cannot encode datatype ${s.datatype}`);
    }
  }
  return s.trailing ? Buffer.concat([buf, s.trailing]) : buf;
}

export function gz(b: Buffer): Buffer {
  return gzipSync(b);
}
