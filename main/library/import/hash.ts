import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Volume, VoxelArray } from '../../io/volume.js';

export type DType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64';

export function dtypeOf(a: VoxelArray): DType {
  if (a instanceof Uint8Array) return 'uint8';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Uint16Array) return 'uint16';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Uint32Array) return 'uint32';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Float32Array) return 'float32';
  return 'float64';
}

/**
 * Identity of a volume's content: geometry, voxel type and voxels. The same image imported from .nii, .nii.gz
 * or a renamed copy hashes the same, which is what makes import idempotent. `salt` scopes the identity
 * (DICOM: the series, so two series holding the same pixels, e.g. one image in several transfer syntaxes,
 * stay two records).
 */
export function volumeSha256(v: Volume, salt = ''): string {
  const h = createHash('sha256');
  if (salt) h.update(salt + '\0');
  h.update(
    JSON.stringify({ dims: v.dims, frames: v.frames, spacing: v.spacing, origin: v.origin, direction: v.direction, dtype: dtypeOf(v.data) }),
  );
  h.update(new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength));
  return h.digest('hex');
}

/**
 * Hash of source files' bytes (sorted by path) and of what was made of them (`salt`: the series key, since
 * one set of DICOM files can yield several volumes). Equal hashes mean a re-import can skip decoding.
 */
export async function sourceSha256(paths: string[], salt = ''): Promise<string> {
  const h = createHash('sha256');
  h.update(salt + '\0');
  for (const p of [...paths].sort()) {
    const bytes = await readFile(p);
    h.update(`${bytes.length}\0`);
    h.update(bytes);
  }
  return h.digest('hex');
}
