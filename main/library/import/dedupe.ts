import type { Volume } from '../../io/volume.js';
import type { Library } from '../library.js';
import { volumeSha256 } from './hash.js';

export interface Deduped {
  sha256: string;
  /** Id of the catalogue volume with the same content, or null when it is new. */
  existingId: string | null;
}

/** Content identity of a volume and whether the library holds it already (import is idempotent). */
export function dedupeVolume(lib: Library, v: Volume, salt = ''): Deduped {
  const sha256 = volumeSha256(v, salt);
  return { sha256, existingId: lib.catalog.volumeIdByContent(sha256) };
}

/** True when the volume already carries an annotation with these voxels. */
export function annotationPresent(lib: Library, volumeId: string | null, labelSha256: string): boolean {
  return volumeId !== null && lib.catalog.hasAnnotation(volumeId, labelSha256);
}
