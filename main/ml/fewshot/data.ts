import { readNifti } from '../../io/nifti.js';
import { planSlice, sliceOf, toNetwork } from '../../io/resample.js';
import { sameGeometry, type Volume } from '../../io/volume.js';
import { EngineFailure } from '../../engine/errors.js';
import type { PreprocessConfig } from '../config.js';
import { VolumePreprocessor } from '../pretrain/source.js';
import { deriveSeed, hashString } from '../augment/rng.js';

/**
 * Labeled slices at network size. Images go through exactly the pretraining preprocessing (VolumePreprocessor:
 * in-plane resampling to the configured spacing, centre crop/pad, per-volume percentile normalisation: no
 * label is looked at); label maps follow the same plan with nearest-neighbour sampling and are stored as class
 * indices (0 = background, c = classes[c − 1]).
 */

export interface LabeledSlice {
  volumeId: string;
  /** Patient or study the volume belongs to (splits are made per group when given). */
  group: string;
  k: number;
  frame: number;
  image: Float32Array;
  /** Class index per network pixel. */
  label: Uint8Array;
}

/** label value → class index (values not listed are refused: a label the model does not know cannot be learned). */
export function classIndex(classes: readonly number[]): Map<number, number> {
  const m = new Map<number, number>([[0, 0]]);
  classes.forEach((v, i) => m.set(v, i + 1));
  return m;
}

/**
 * The slices `slices` ([frame, k]) of one image/label pair as labeled training slices. Only those slices
 * count as labeled: a partially annotated volume gives just its annotated slices.
 */
export function labeledSlices(
  image: Volume,
  label: Volume,
  slices: ReadonlyArray<readonly [number, number]>,
  classes: readonly number[],
  cfg: PreprocessConfig,
  ids: { volumeId: string; group: string; name?: string },
): LabeledSlice[] {
  const name = ids.name ?? ids.volumeId;
  if (image.dims.some((n, i) => n !== label.dims[i]) || image.frames !== label.frames) {
    throw new EngineFailure('BAD_INPUT', `${name}: label map is ${label.dims.join('x')}x${label.frames}, image ${image.dims.join('x')}x${image.frames}`);
  }
  if (!sameGeometry(image, label)) throw new EngineFailure('BAD_INPUT', `${name}: label map geometry differs from the image`);
  const pre = new VolumePreprocessor(cfg);
  const normalized = pre.normalize(image);
  const plan = planSlice(image, { spacingMm: cfg.spacingMm, size: cfg.size });
  const index = classIndex(classes);
  const out: LabeledSlice[] = [];
  for (const [frame, k] of slices) {
    const raw = toNetwork(plan, sliceOf(label, k, frame), { mode: 'nearest' });
    const lab = new Uint8Array(raw.length);
    for (let p = 0; p < raw.length; p++) {
      const c = index.get(raw[p]!);
      if (c === undefined) throw new EngineFailure('BAD_INPUT', `${name}: label value ${raw[p]} (slice ${k}, frame ${frame}) is not among the classes ${classes.join(', ')}`);
      lab[p] = c;
    }
    out.push({ volumeId: ids.volumeId, group: ids.group, k, frame, image: pre.slice(image, normalized, k, frame), label: lab });
  }
  return out;
}

/** [frame, k] of every slice holding a non-zero label (what the library records as annotated). */
export function nonEmptySlices(label: Volume): Array<[number, number]> {
  const [ni, nj, nk] = label.dims;
  const out: Array<[number, number]> = [];
  for (let f = 0; f < label.frames; f++) {
    for (let k = 0; k < nk; k++) {
      const s = sliceOf(label, k, f);
      for (let i = 0; i < ni * nj; i++) {
        if (s[i]) {
          out.push([f, k]);
          break;
        }
      }
    }
  }
  return out;
}

/** Distinct non-zero values of a label map, ascending. */
export function labelValuesOf(label: Volume): number[] {
  const seen = new Set<number>();
  for (let i = 0; i < label.data.length; i++) if (label.data[i]) seen.add(label.data[i]!);
  return [...seen].sort((a, b) => a - b);
}

/** A NIfTI image and its label map (e.g. ACDC `_gt`), every non-empty label slice counted as annotated. */
export async function niftiLabeledSlices(imagePath: string, labelPath: string, classes: readonly number[], cfg: PreprocessConfig, group: string): Promise<LabeledSlice[]> {
  const [image, label] = await Promise.all([readNifti(imagePath), readNifti(labelPath)]);
  return labeledSlices(image, label, nonEmptySlices(label), classes, cfg, { volumeId: imagePath, group, name: labelPath });
}

/**
 * Training/validation split of labeled slices, a function of the slice identity and the seed only. At least
 * one slice stays in training; at least one is held back when there are two or more and the fraction is > 0.
 */
export function splitLabeled(slices: readonly LabeledSlice[], fraction: number, seed: number): { train: LabeledSlice[]; validation: LabeledSlice[] } {
  const score = (s: LabeledSlice) => deriveSeed(seed, hashString(`${s.volumeId}/k${s.k}/t${s.frame}`)) / 4294967296;
  const ranked = [...slices].sort((a, b) => score(a) - score(b));
  let nVal = Math.round(slices.length * fraction);
  if (fraction > 0 && slices.length >= 2) nVal = Math.max(1, nVal);
  nVal = Math.min(nVal, slices.length - 1);
  const val = new Set(ranked.slice(0, Math.max(0, nVal)));
  return { train: slices.filter((s) => !val.has(s)), validation: slices.filter((s) => val.has(s)) };
}
