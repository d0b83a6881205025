import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { readNifti, readNiftiHeader } from '../../io/nifti.js';
import { normalizeIntensity, planSlice, sliceOf, toNetwork } from '../../io/resample.js';
import type { Volume } from '../../io/volume.js';
import type { PreprocessConfig } from '../config.js';
import { deriveSeed, hashString } from '../augment/rng.js';

/**
 * Where pretraining slices come from. Only references are listed up front; pixels are loaded lazily, so a
 * large library never has to fit in memory. The library supplies its own implementation later; this module
 * provides one over NIfTI files and one over in-memory images (tests, synthetic data).
 */

export interface SliceRef {
  /** Stable id (the validation split is a function of it). */
  id: string;
  volumeId: string;
  /** Slice index along k and time frame (every frame of a cine is a slice too). */
  k: number;
  frame: number;
}

export interface VolumeProvenance {
  id: string;
  path?: string;
  dims: [number, number, number];
  frames: number;
  spacing: [number, number, number];
  /** Content fingerprint when cheap to get (file size + mtime for files). */
  fingerprint?: string;
}

export interface DataProvenance {
  kind: string;
  volumes: VolumeProvenance[];
  slices: number;
}

export interface SliceSource {
  /** Network side (pixels); every loaded slice is size × size, row-major, normalised per volume to [0, 1]. */
  readonly size: number;
  readonly slices: readonly SliceRef[];
  /** The slice's pixels; may be a cached array shared between calls: never modify it. */
  load(index: number): Promise<Float32Array>;
  provenance(): DataProvenance;
}

/** A source over images already at network size (tests, synthetic phantoms). */
export function arraySliceSource(images: Float32Array[], size: number, volumeOf: (i: number) => string = () => 'memory'): SliceSource {
  images.forEach((im, i) => {
    if (im.length !== size * size) throw new Error(`in-memory slice ${i} has ${im.length} pixels, expected ${size}×${size}`);
  });
  const slices = images.map((_, i) => ({ id: `${volumeOf(i)}#${i}`, volumeId: volumeOf(i), k: i, frame: 0 }));
  return {
    size,
    slices,
    load: async (i) => images[i]!,
    provenance: () => ({ kind: 'memory', slices: images.length, volumes: [...new Set(slices.map((s) => s.volumeId))].map((id) => ({ id, dims: [size, size, 1], frames: 1, spacing: [1, 1, 1] })) }),
  };
}

/** Volume → network-grid slice: resample in-plane to the network spacing, centre crop/pad, per-volume [0, 1]. */
export class VolumePreprocessor {
  constructor(private readonly cfg: PreprocessConfig) {}

  /** Every slice (k, frame) of the volume at network size; the normalisation uses the whole volume. */
  slice(volume: Volume, normalized: Float32Array, k: number, frame: number): Float32Array {
    const plan = planSlice(volume, { spacingMm: this.cfg.spacingMm, size: this.cfg.size });
    const view: Volume = { ...volume, data: normalized };
    return toNetwork(plan, sliceOf(view, k, frame), { mode: 'linear' });
  }

  normalize(volume: Volume): Float32Array {
    const [lowPercentile, highPercentile] = this.cfg.clipPercentiles;
    return normalizeIntensity(volume.data, { lowPercentile, highPercentile });
  }
}

const NIFTI = /\.nii(\.gz)?$/i;

/** NIfTI files under `dir` (recursively) whose name does not look like a label map (`_gt`, `label`, `seg`). */
export async function findNiftiImages(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch (err) {
      throw new Error(`cannot list ${d}: ${(err as Error).message}`);
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (NIFTI.test(e.name) && !/(_gt|label|seg|mask)/i.test(e.name)) out.push(p);
    }
  };
  await walk(resolve(dir));
  return out;
}

/**
 * Volume ids that do not depend on where the data sits: the file's parent folder and name
 * (`patient001/patient001_4d.nii.gz`), lengthened by more parent folders only where two files would share one.
 * The validation split hashes slice ids, so a copy of the same library elsewhere (another machine, a CI
 * checkout, a temporary folder) holds out the same slices.
 */
export function locationFreeIds(paths: readonly string[]): string[] {
  const parts = paths.map((p) => resolve(p).split(sep).filter((x) => x.length > 0));
  const suffix = (i: number, n: number) => parts[i]!.slice(-n).join('/');
  const lengths = parts.map((p) => Math.min(2, p.length));
  for (;;) {
    const byId = new Map<string, number[]>();
    lengths.forEach((n, i) => byId.set(suffix(i, n), [...(byId.get(suffix(i, n)) ?? []), i]));
    const clashing = [...byId.values()].filter((group) => group.length > 1).flat().filter((i) => lengths[i]! < parts[i]!.length);
    if (clashing.length === 0) return lengths.map((n, i) => suffix(i, n));
    for (const i of clashing) lengths[i]! += 1;
  }
}

/**
 * Slices of NIfTI volumes. Headers are read up front (dims, frames). A volume is read when one of its slices
 * is first needed, and then *all* its slices are preprocessed to network size and kept (a 128² slice is
 * 64 KB; a whole volume of raw voxels is not kept). Cached volumes are evicted least recently used beyond
 * `cacheBytes`, so a library larger than the budget streams, re-reading evicted volumes as needed.
 */
export async function niftiSliceSource(paths: string[], cfg: PreprocessConfig, cacheBytes = 1 << 30): Promise<SliceSource> {
  if (paths.length === 0) throw new Error('no NIfTI images to train on');
  const pre = new VolumePreprocessor(cfg);
  const volumes: VolumeProvenance[] = [];
  const slices: SliceRef[] = [];
  const ids = locationFreeIds(paths);
  for (const [i, path] of paths.entries()) {
    const h = await readNiftiHeader(path);
    const st = await stat(path);
    const id = ids[i]!;
    volumes.push({
      id,
      path: resolve(path),
      dims: [...h.dims],
      frames: h.frames,
      spacing: [h.pixdim[1] ?? 1, h.pixdim[2] ?? 1, h.pixdim[3] ?? 1],
      fingerprint: createHash('sha256').update(`${st.size}:${st.mtimeMs}`).digest('hex').slice(0, 16),
    });
    for (let f = 0; f < h.frames; f++) for (let k = 0; k < h.dims[2]; k++) slices.push({ id: `${id}/k${k}/t${f}`, volumeId: id, k, frame: f });
  }
  const byId = new Map(volumes.map((v) => [v.id, v]));
  const sliceBytes = cfg.size * cfg.size * 4;
  const cache = new Map<string, Promise<Float32Array[]>>();
  let cachedBytes = 0;
  const bytesOf = (id: string) => {
    const v = byId.get(id)!;
    return v.dims[2] * v.frames * sliceBytes;
  };
  const getVolume = (id: string): Promise<Float32Array[]> => {
    let hit = cache.get(id);
    if (hit) {
      cache.delete(id);
      cache.set(id, hit);
      return hit;
    }
    const prov = byId.get(id)!;
    hit = readNifti(prov.path!).then((volume) => {
      const normalized = pre.normalize(volume);
      const out: Float32Array[] = [];
      for (let f = 0; f < volume.frames; f++) for (let k = 0; k < volume.dims[2]; k++) out.push(pre.slice(volume, normalized, k, f));
      return out;
    });
    hit.catch(() => {
      if (cache.delete(id)) cachedBytes -= bytesOf(id);
    });
    cache.set(id, hit);
    cachedBytes += bytesOf(id);
    // Evict the least recently used, never the volume just requested.
    while (cachedBytes > cacheBytes && cache.size > 1) {
      const oldest = cache.keys().next().value!;
      cache.delete(oldest);
      cachedBytes -= bytesOf(oldest);
    }
    return hit;
  };
  return {
    size: cfg.size,
    slices,
    async load(i) {
      const ref = slices[i];
      if (!ref) throw new RangeError(`slice ${i} outside 0..${slices.length - 1}`);
      const vol = byId.get(ref.volumeId)!;
      const all = await getVolume(ref.volumeId);
      return all[ref.frame * vol.dims[2] + ref.k]!;
    },
    provenance: () => ({ kind: 'nifti', volumes, slices: slices.length }),
  };
}

/**
 * Slice-level train/validation split, stable under a growing library: a slice is held out when the hash of
 * its id (salted with the seed) falls in the lowest `fraction`. At least one slice is held out when there
 * are two or more and the fraction is positive.
 */
export function splitSlices(slices: readonly SliceRef[], fraction: number, seed: number): { train: number[]; validation: number[] } {
  const train: number[] = [];
  const validation: number[] = [];
  const scores = slices.map((s) => deriveSeed(seed, hashString(s.id)) / 4294967296);
  scores.forEach((u, i) => (u < fraction ? validation : train).push(i));
  if (fraction > 0 && validation.length === 0 && slices.length >= 2) {
    let best = 0;
    scores.forEach((u, i) => {
      if (u < scores[best]!) best = i;
    });
    validation.push(best);
    train.splice(train.indexOf(best), 1);
  }
  return { train, validation };
}
