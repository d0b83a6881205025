import { defineStore } from 'pinia';
import { computed, markRaw, ref, shallowRef } from 'vue';
import { ApiError, describeApiError, useClient, type RunningCall } from '../api/index.js';
import { decodeVoxels } from '../viewer/voxels.js';
import { decodeFloat32 } from '../components/embed/heat.js';

export interface EmbedModel {
  id: string;
  name: string;
  source: 'catalogue' | 'folder';
}

export interface SimilarityQuery {
  modelId: string;
  volumeId: string;
  frame: number;
  slice: number;
  at: [number, number];
  /** Other frames of the same volume, same slice. */
  againstFrames: number[];
  /** Chosen slices of other volumes (other studies, series or phases). */
  againstSlices: SliceRef[];
}

/** One slice of one volume of the library. */
export interface SliceRef {
  volumeId: string;
  frame: number;
  slice: number;
}

/** The engine compares against at most this many slices per query (contract: embed.similarity `against`). */
export const MAX_AGAINST = 32;

const sameSlice = (a: SliceRef, b: SliceRef): boolean => a.volumeId === b.volumeId && a.frame === b.frame && a.slice === b.slice;

/**
 * The slices a query is compared against: its volume's chosen frames at its slice, then the chosen slices of
 * other volumes; never the query's own slice, never one twice, at most MAX_AGAINST.
 */
export function againstOf(q: Pick<SimilarityQuery, 'volumeId' | 'frame' | 'slice' | 'againstFrames' | 'againstSlices'>): SliceRef[] {
  const out: SliceRef[] = [];
  const own: SliceRef = { volumeId: q.volumeId, frame: q.frame, slice: q.slice };
  const candidates = [...q.againstFrames.map((frame) => ({ volumeId: q.volumeId, frame, slice: q.slice })), ...q.againstSlices];
  for (const c of candidates) {
    if (out.length >= MAX_AGAINST) break;
    if (!sameSlice(c, own) && !out.some((o) => sameSlice(o, c))) out.push({ volumeId: c.volumeId, frame: c.frame, slice: c.slice });
  }
  return out;
}

export interface SimilarityMap {
  volumeId: string;
  frame: number;
  slice: number;
  dims: [number, number];
  /** Cosine similarities, i fastest (raw: never reactive). */
  values: Float32Array;
  best: { at: [number, number]; value: number };
  source: 'memory' | 'disk' | 'computed';
}

/**
 * The embedding inspector's state: the backbone, the "against" frames, and the similarity maps of the last
 * answered query. Queries follow the mouse, so at most one request is in flight and only the latest waiting
 * query is sent next (the ones superseded meanwhile are dropped): the map converges on where the pointer is
 * without queueing a backlog behind a slow first embedding.
 */
export const useEmbedStore = defineStore('embed', () => {
  const models = ref<EmbedModel[]>([]);
  const modelId = ref<string | null>(null);
  const modelsError = ref<string | null>(null);
  const againstFrames = ref<number[]>([]);
  const againstSlices = ref<SliceRef[]>([]);
  const query = ref<SimilarityQuery | null>(null);
  const maps = shallowRef<SimilarityMap[]>([]);
  const busy = ref(false);
  const error = ref<string | null>(null);
  const seconds = ref<{ embed: number; similarity: number } | null>(null);
  /** Overall opacity of the heat overlay. */
  const opacity = ref(0.75);
  /** Requests actually sent (tests and the status line read it). */
  const sent = ref(0);
  let pending: SimilarityQuery | null = null;
  let pumping: Promise<void> | null = null;
  /** Bumped by clear(): an answer to a query from before it is dropped. */
  let epoch = 0;

  async function loadModels(): Promise<void> {
    try {
      const r = await useClient().call('embed.models', {});
      models.value = r.models;
      modelsError.value = null;
      if (!modelId.value || !r.models.some((m) => m.id === modelId.value)) modelId.value = r.models[0]?.id ?? null;
    } catch (err) {
      modelsError.value = describeApiError(err, 'Could not list the backbones');
    }
  }

  async function send(q: SimilarityQuery, mine: number): Promise<void> {
    sent.value++;
    try {
      const r = await useClient().call('embed.similarity', {
        modelId: q.modelId,
        volumeId: q.volumeId,
        frame: q.frame,
        slice: q.slice,
        at: q.at,
        against: againstOf(q),
      });
      if (mine !== epoch) return;
      maps.value = r.maps.map((m) =>
        markRaw({ ...m, values: decodeFloat32(m.values, m.dims[0] * m.dims[1], `similarity map of frame ${m.frame + 1}, slice ${m.slice + 1}`) }),
      );
      query.value = q;
      seconds.value = r.seconds;
      error.value = null;
    } catch (err) {
      if (mine === epoch) error.value = describeApiError(err, 'Could not compute the similarity map');
    }
  }

  async function pump(): Promise<void> {
    busy.value = true;
    try {
      while (pending) {
        const q = pending;
        pending = null;
        await send(q, epoch);
      }
    } finally {
      busy.value = false;
      pumping = null;
    }
  }

  /** Ask for the maps of a query; resolves once every query asked so far is answered or dropped. */
  function ask(q: Omit<SimilarityQuery, 'modelId' | 'againstFrames' | 'againstSlices'>): Promise<void> {
    if (!modelId.value) {
      error.value = 'Pick a backbone first (no model is available: pretrain one in the Pretraining tab).';
      return Promise.resolve();
    }
    pending = { ...q, at: [q.at[0], q.at[1]], modelId: modelId.value, againstFrames: [...againstFrames.value], againstSlices: againstSlices.value.map((r) => ({ ...r })) };
    return (pumping ??= pump());
  }

  function toggleFrame(f: number): void {
    againstFrames.value = againstFrames.value.includes(f) ? againstFrames.value.filter((x) => x !== f) : [...againstFrames.value, f].sort((a, b) => a - b);
  }

  /** Compare with a slice of another volume too (a slice already chosen is not added twice). */
  function addSlice(r: SliceRef): void {
    if (againstSlices.value.some((o) => sameSlice(o, r))) return;
    againstSlices.value = [...againstSlices.value, { volumeId: r.volumeId, frame: r.frame, slice: r.slice }];
  }

  function removeSlice(r: SliceRef): void {
    againstSlices.value = againstSlices.value.filter((o) => !sameSlice(o, r));
  }

  /** Whether the last answer has a map on some slice of this volume (showing it keeps the maps). */
  function hasMapIn(volumeId: string | null): boolean {
    return maps.value.some((m) => m.volumeId === volumeId);
  }

  /** Forget the maps (another volume opened, the tool left); an answer still on its way is ignored. */
  function clear(): void {
    epoch++;
    pending = null;
    maps.value = [];
    query.value = null;
    error.value = null;
  }

  /** The map of a given frame and slice of the queried volume, if the last answer has one. */
  function mapOf(volumeId: string | null, frame: number, slice: number): SimilarityMap | undefined {
    return maps.value.find((m) => m.volumeId === volumeId && m.frame === frame && m.slice === slice);
  }

  /** The maps other than the query's own slice, with their best matches. */
  const matches = computed(() => maps.value.slice(1));

  return { models, modelId, modelsError, againstFrames, againstSlices, query, opacity, maps, busy, error, seconds, sent, matches, loadModels, ask, toggleFrame, addSlice, removeSlice, hasMapIn, clear, mapOf };
});

export interface ProjectionView {
  volumeId: string;
  frame: number;
  slice: number;
  method: 'pca' | 'umap';
  dims: [number, number];
  /** ni·nj·3 colour bytes of the projection painted back, and of the PCA preview. */
  rgb: Uint8Array;
  pcaRgb: Uint8Array;
  /** Per pixel, the index of the scatter point representing it (-1: none). */
  representative: Int32Array;
  /** The scatter: pixel (j·ni + i), position in [-1, 1]², colour bytes. */
  pixel: Int32Array;
  x: Float32Array;
  y: Float32Array;
  pointRgb: Uint8Array;
  pcaExplained: number;
}

/**
 * The embedding colouring of one slice (paper Fig. 4): an `embed.project` job with progress and cancel, its
 * result decoded once, and the linked hover shared by the colour image and the scatter (a point index).
 */
export const useProjectionStore = defineStore('embedProjection', () => {
  const method = ref<'pca' | 'umap'>('pca');
  const sample = ref(5000);
  const running = shallowRef<RunningCall<'embed.project'> | null>(null);
  const progress = ref<{ stage: string; done: number; total: number | null } | null>(null);
  const result = shallowRef<ProjectionView | null>(null);
  const error = ref<string | null>(null);
  const cancelled = ref(false);
  const hover = ref<number | null>(null);

  async function run(modelId: string, at: { volumeId: string; frame: number; slice: number }): Promise<void> {
    if (running.value) await cancel();
    const call = useClient().start('embed.project', { modelId, slices: [at], method: method.value, sample: sample.value });
    running.value = markRaw(call);
    progress.value = null;
    error.value = null;
    cancelled.value = false;
    call.onProgress((p) => {
      progress.value = { stage: p.stage, done: p.done, total: p.total };
    });
    try {
      const r = await call.result;
      const s = r.slices[0]!;
      const n = s.dims[0] * s.dims[1];
      const count = r.points.count;
      result.value = markRaw({
        volumeId: s.volumeId,
        frame: s.frame,
        slice: s.slice,
        method: r.method,
        dims: s.dims,
        rgb: decodeVoxels(s.rgb, 'uint8', n * 3) as Uint8Array,
        pcaRgb: decodeVoxels(s.pcaRgb, 'uint8', n * 3) as Uint8Array,
        representative: decodeVoxels(s.representative, 'int32', n) as Int32Array,
        pixel: decodeVoxels(r.points.pixel, 'int32', count) as Int32Array,
        x: decodeVoxels(r.points.x, 'float32', count) as Float32Array,
        y: decodeVoxels(r.points.y, 'float32', count) as Float32Array,
        pointRgb: decodeVoxels(r.points.rgb, 'uint8', count * 3) as Uint8Array,
        pcaExplained: r.pcaExplained,
      });
      hover.value = null;
    } catch (err) {
      if (running.value === call) {
        if (err instanceof ApiError && err.code === 'CANCELLED') cancelled.value = true;
        else error.value = describeApiError(err, 'Could not compute the embedding colouring');
      }
    } finally {
      if (running.value === call) {
        running.value = null;
        progress.value = null;
      }
    }
  }

  async function cancel(): Promise<void> {
    const call = running.value;
    if (!call) return;
    await call.cancel();
    await call.result.catch(() => undefined);
  }

  /** The scatter point representing pixel (i, j) of the coloured slice, if any. */
  function pointOfPixel(i: number, j: number): number | null {
    const r = result.value;
    if (!r || i < 0 || j < 0 || i >= r.dims[0] || j >= r.dims[1]) return null;
    const n = r.representative[j * r.dims[0] + i]!;
    return n >= 0 ? n : null;
  }

  /** The pixel (i, j) of a scatter point. */
  function pixelOfPoint(n: number): [number, number] | null {
    const r = result.value;
    if (!r || n < 0 || n >= r.pixel.length) return null;
    const p = r.pixel[n]!;
    return [p % r.dims[0], Math.floor(p / r.dims[0])];
  }

  /** The scatter point nearest to (x, y) in [-1, 1]², within `radius`. */
  function nearestPoint(x: number, y: number, radius: number): number | null {
    const r = result.value;
    if (!r) return null;
    let best: number | null = null;
    let bestD = radius * radius;
    for (let n = 0; n < r.x.length; n++) {
      const d = (r.x[n]! - x) ** 2 + (r.y[n]! - y) ** 2;
      if (d <= bestD) {
        bestD = d;
        best = n;
      }
    }
    return best;
  }

  function clear(): void {
    void cancel();
    result.value = null;
    hover.value = null;
    error.value = null;
  }

  return { method, sample, running, progress, result, error, cancelled, hover, run, cancel, pointOfPixel, pixelOfPoint, nearestPoint, clear };
});
