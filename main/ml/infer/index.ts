import { join } from 'node:path';
import { readNifti, readNiftiFile, writeNiftiLike } from '../../io/nifti.js';
import { labelsFromScores, planSlice } from '../../io/resample.js';
import { frameSize, type Volume } from '../../io/volume.js';
import { EngineFailure } from '../../engine/errors.js';
import type { Library } from '../../library/library.js';
import { saveAnnotation } from '../../library/annotations.js';
import type { PreprocessConfig } from '../config.js';
import { keepLargestComponentsInPlace } from '../postprocess.js';
import { VolumePreprocessor } from '../pretrain/source.js';
import { disposeSegmenter, type Segmenter } from '../fewshot/segmenter.js';
import { createInferenceRuntime, softmaxRowsInPlace, type RuntimeChoice } from './runtime.js';
import { loadLibraryModel } from '../fewshot/library.js';
import { segmenterFromFile, type ModelFile } from '../fewshot/model-file.js';

/**
 * Inference: a volume of any geometry (slices, frames) is prepared exactly as in training (VolumePreprocessor),
 * predicted slice by slice in batches, and mapped back to its own voxel grid by interpolating the class
 * scores at each voxel (labelsFromScores), so the label map has the volume's dims, frames and affine.
 */

export interface PredictOptions {
  /** Slices per forward pass. */
  batch?: number;
  /** Keep only the largest connected component of each structure (per frame, 3D, 26-connected). */
  largestComponent?: boolean;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** Forward-pass runtime: onnxruntime-node when installed, else tfjs ('auto', default; see infer/runtime.ts). */
  runtime?: RuntimeChoice;
}

export interface LoadedModel {
  segmenter: Segmenter;
  preprocess: PreprocessConfig;
  file: ModelFile;
}

export function loadedModel(file: ModelFile, path = 'model'): LoadedModel {
  return { segmenter: segmenterFromFile(file, path), preprocess: file.header.preprocess, file };
}

export function disposeModel(m: LoadedModel): void {
  disposeSegmenter(m.segmenter);
}

/** Label values (not class indices) for every voxel of `volume`, in its own grid. */
export async function predictVolume(model: Pick<LoadedModel, 'segmenter' | 'preprocess'>, volume: Volume, opts: PredictOptions = {}): Promise<Uint8Array | Uint16Array> {
  const { segmenter, preprocess } = model;
  const size = preprocess.size;
  const batch = Math.max(1, opts.batch ?? 8);
  const pre = new VolumePreprocessor(preprocess);
  const normalized = pre.normalize(volume);
  const plan = planSlice(volume, { spacingMm: preprocess.spacingMm, size });
  const [ni, nj, nk] = volume.dims;
  const plane = ni * nj;
  const maxValue = Math.max(0, ...segmenter.classes);
  const out = maxValue <= 255 ? new Uint8Array(plane * nk * volume.frames) : new Uint16Array(plane * nk * volume.frames);
  const values = [0, ...segmenter.classes];
  const k = values.length;
  const slices: Array<[number, number]> = [];
  for (let f = 0; f < volume.frames; f++) for (let z = 0; z < nk; z++) slices.push([f, z]);
  const n = size * size;
  const runtime = await createInferenceRuntime(segmenter, { prefer: opts.runtime ?? 'auto' });
  try {
    for (let s = 0; s < slices.length; s += batch) {
      if (opts.signal?.aborted) throw new EngineFailure('CANCELLED', 'prediction cancelled');
      const part = slices.slice(s, s + batch);
      const x = new Float32Array(part.length * n);
      part.forEach(([f, z], b) => x.set(pre.slice(volume, normalized, z, f), b * n));
      const scores = softmaxRowsInPlace(await runtime.run(x, part.length, size), k);
      part.forEach(([f, z], b) => {
        const cls = labelsFromScores(plan, scores.subarray(b * n * k, (b + 1) * n * k), k);
        const start = f * frameSize(volume) + z * plane;
        for (let p = 0; p < plane; p++) out[start + p] = values[cls[p]!]!;
      });
      opts.onProgress?.(Math.min(s + batch, slices.length), slices.length);
      // Let progress events and cancellation through between batches.
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    await runtime.dispose();
  }
  if (opts.largestComponent) keepLargestComponentsInPlace(out, volume.dims, volume.frames, { connectivity: 26 });
  return out;
}

/** Predicts a NIfTI file and writes `<outDir>/<name>_pred.nii.gz` with the source header (exact affine). */
export async function predictNiftiFile(model: LoadedModel, input: string, outDir: string, opts: PredictOptions = {}): Promise<string> {
  const { volume, header } = await readNiftiFile(input);
  const labels = await predictVolume(model, volume, opts);
  const base = (input.split(/[\\/]/).pop() ?? 'volume').replace(/\.nii(\.gz)?$/i, '');
  const out = join(outDir, `${base}_pred.nii.gz`);
  await writeNiftiLike(out, header, labels);
  return out;
}

/** Predicts a library volume and stores the result as a `predicted` annotation recording the model. */
export async function predictLibraryVolume(
  lib: Library,
  modelRef: string,
  volumeId: string,
  opts: PredictOptions & { model?: LoadedModel } = {},
): Promise<{ annotationId: string; modelId: string; labels: Uint8Array | Uint16Array }> {
  const row = lib.catalog.volume(volumeId);
  if (!row) throw new EngineFailure('NOT_FOUND', `no volume ${volumeId} in the workspace`);
  const { row: modelRow, file, path } = await loadLibraryModel(lib, modelRef);
  const model = opts.model ?? loadedModel(file, path);
  try {
    const volume = await readNifti(lib.abs(row.storedPath));
    const labels = await predictVolume(model, volume, opts);
    const annotationId = await saveAnnotation(lib, {
      volumeId,
      data: labels,
      source: 'predicted',
      modelId: modelRow.id,
      name: `predicted by ${modelRow.name}`,
      labels: file.header.labels,
    });
    return { annotationId, modelId: modelRow.id, labels };
  } finally {
    if (!opts.model) disposeModel(model);
  }
}
