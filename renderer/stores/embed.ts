import { defineStore } from 'pinia';
import { computed, markRaw, ref, shallowRef } from 'vue';
import { describeApiError, useClient } from '../api/index.js';
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
        against: q.againstFrames.filter((f) => f !== q.frame).map((frame) => ({ volumeId: q.volumeId, frame, slice: q.slice })),
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
  function ask(q: Omit<SimilarityQuery, 'modelId' | 'againstFrames'>): Promise<void> {
    if (!modelId.value) {
      error.value = 'Pick a backbone first (no model is available: pretrain one in the Pretraining tab).';
      return Promise.resolve();
    }
    pending = { ...q, at: [q.at[0], q.at[1]], modelId: modelId.value, againstFrames: [...againstFrames.value] };
    return (pumping ??= pump());
  }

  function toggleFrame(f: number): void {
    againstFrames.value = againstFrames.value.includes(f) ? againstFrames.value.filter((x) => x !== f) : [...againstFrames.value, f].sort((a, b) => a - b);
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

  return { models, modelId, modelsError, againstFrames, query, opacity, maps, busy, error, seconds, sent, matches, loadModels, ask, toggleFrame, clear, mapOf };
});
