/**
 * NIfTI-1 / NIfTI-2 input and output for the engine.
 *
 * - `readNifti(path)`: the file as an LPS `Volume` (see volume.ts); `readNiftiFile(path)` also returns the
 *   parsed header; `readNiftiHeader(path)` reads only the header (dims, geometry, transforms).
 * - `writeNifti(path, volume)`: a new NIfTI-1 file (.nii or .nii.gz by name) with sform and qform set.
 * - `writeNiftiLike(path, sourceHeader, voxels)`: the source's header kept byte for byte (exact affine).
 *
 * Bad files throw EngineFailure('BAD_INPUT') with a message naming the file and the reason.
 */
export { readNifti, readNiftiFile, readNiftiHeader, type NiftiFile } from './nifti-read.js';
export { writeNifti, writeNiftiLike, dtypeOfArray, type WriteNiftiOptions } from './nifti-write.js';
export {
  parseNiftiHeader,
  qformAffine,
  NIFTI_DATATYPES,
  MAX_VOXELS,
  type NiftiDtype,
  type NiftiHeader,
} from './nifti-header.js';
