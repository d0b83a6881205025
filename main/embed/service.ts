import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EngineFailure } from '../engine/errors.js';
import { readNifti } from '../io/nifti.js';
import { normalizeIntensity } from '../io/resample.js';
import type { Volume } from '../io/volume.js';
import { openLibrary, type Library } from '../library/library.js';
import { initBackend } from '../ml/backends/init.js';
import { loadPretrainedNet } from '../ml/pretrain/loop.js';
import type { CheckpointHeader } from '../ml/pretrain/checkpoint.js';
import { disposeNet, type Net } from '../ml/unet.js';
import { EmbeddingCache, type CacheDtype } from './cache.js';
import { createInferenceRuntime, type InferenceRuntime } from '../ml/infer/runtime.js';
import { embedSlice, embedSliceWith, normalizeEmbedding, pixelVector, type SliceEmbedding } from './compute.js';
import { checkpointHash, listModels, resolveModel, type ModelListing, type ModelRef } from './models.js';
import { projectEmbeddings, type Projection, type ProjectOptions } from './project.js';
import { pixelIndex, similarityMap, type SimilarityMap } from './similarity.js';
import { TensorEmbedding } from './tensor-similarity.js';

/**
 * The embedding inspector for one workspace: resolves models and volumes, computes or loads slice
 * embeddings (disk cache under cache/embeddings/, plus an in-memory LRU of unit-normalised embeddings so
 * that moving the query pixel costs only the dot products), and answers similarity and projection requests.
 * The contract handlers and the CLI both use it.
 */

export interface SliceKey {
  volumeId: string;
  frame: number;
  slice: number;
}

export interface EmbedServiceOptions {
  /** Disk cache bound (bytes, default 2 GiB). */
  cacheBytes?: number;
  cacheDtype?: CacheDtype;
  /** In-memory bound for normalised embeddings (bytes, default 512 MiB). */
  memoryBytes?: number;
  /** Accept NIfTI file paths as volume ids and checkpoint paths as model ids (CLI, tests), not only library ids. */
  allowPaths?: boolean;
  /**
   * Keep embeddings on the compute backend too and compute maps there (default true): 2x faster on wasm.
   * false uses the plain JS loop only (identical results to float rounding).
   */
  accelerate?: boolean;
}

export interface ResolvedModel extends ModelRef {
  hash: string;
}

export interface LoadedEmbedding {
  key: SliceKey;
  model: ResolvedModel;
  embedding: SliceEmbedding;
  /** The volume's geometry (for writing results in the slice's own geometry). */
  volume: Omit<Volume, 'data'>;
  /** Where it came from: memory, the disk cache, or the network. */
  source: 'memory' | 'disk' | 'computed';
  /** The same embedding on the compute backend, made on first similarity request (accelerate). */
  tensor?: TensorEmbedding;
}

interface VolumeEntry {
  id: string;
  hash: string;
  volume: Volume;
  normalized: Map<string, Float32Array>;
}

export interface SimilarityResult {
  model: ResolvedModel;
  query: SliceKey & { at: [number, number] };
  maps: Array<SliceKey & SimilarityMap & { source: LoadedEmbedding['source']; geometry: Omit<Volume, 'data'> }>;
  seconds: { embed: number; similarity: number };
}

export interface ProjectResult extends Projection {
  model: ResolvedModel;
  keys: SliceKey[];
  seconds: { embed: number; project: number };
}

export class EmbedService {
  readonly cache: EmbeddingCache;
  private lib: Library | null = null;
  private readonly memory = new Map<string, LoadedEmbedding>();
  private memoryUsed = 0;
  private readonly memoryBytes: number;
  /** The loaded backbone and, once an embedding is computed, its inference runtime (onnxruntime when present). */
  private net: { hash: string; net: Net; header: CheckpointHeader; runtime?: Promise<InferenceRuntime> } | null = null;
  private volumes: VolumeEntry[] = [];

  constructor(
    readonly workspace: string,
    private readonly opts: EmbedServiceOptions = {},
  ) {
    this.cache = new EmbeddingCache(join(resolve(workspace), 'cache', 'embeddings'), {
      ...(opts.cacheBytes !== undefined ? { maxBytes: opts.cacheBytes } : {}),
      ...(opts.cacheDtype ? { dtype: opts.cacheDtype } : {}),
    });
    this.memoryBytes = opts.memoryBytes ?? 512 * 1024 ** 2;
  }

  private library(): Library {
    return (this.lib ??= openLibrary(this.workspace));
  }

  models(): ModelListing[] {
    return listModels(this.library());
  }

  async model(ref: string): Promise<ResolvedModel> {
    const m = resolveModel(this.library(), ref, this.opts.allowPaths ?? false);
    return { ...m, hash: await checkpointHash(m.checkpoint) };
  }

  /** The backbone of `model`, loaded once and kept until another model is asked for. */
  private async backbone(model: ResolvedModel): Promise<NonNullable<EmbedService['net']>> {
    if (this.net?.hash === model.hash) return this.net;
    await initBackend();
    let loaded;
    try {
      loaded = await loadPretrainedNet(model.checkpoint, false);
    } catch (err) {
      throw new EngineFailure('BAD_INPUT', `model ${model.name}: ${(err as Error).message}`);
    }
    this.dropNet();
    this.net = { hash: model.hash, ...loaded };
    return this.net;
  }

  private async volumeEntry(volumeId: string): Promise<VolumeEntry> {
    const hit = this.volumes.find((v) => v.id === volumeId);
    let id = volumeId;
    let hash: string;
    let path: string;
    const row = this.library().catalog.volume(volumeId);
    if (row) {
      hash = row.contentSha256;
      path = this.library().abs(row.storedPath);
    } else if (this.opts.allowPaths && /\.nii(\.gz)?$/i.test(volumeId) && existsSync(volumeId)) {
      path = resolve(volumeId);
      id = `file:${path}`;
      const st = statSync(path);
      hash = createHash('sha256').update(`${path}:${st.size}:${st.mtimeMs}`).digest('hex');
    } else {
      throw new EngineFailure('NOT_FOUND', `no volume ${volumeId}${this.opts.allowPaths ? ' in the library, and no such NIfTI file' : ''}`);
    }
    if (hit && hit.hash === hash) {
      this.volumes = [hit, ...this.volumes.filter((v) => v !== hit)];
      return hit;
    }
    const volume = await readNifti(path);
    const entry: VolumeEntry = { id, hash, volume, normalized: new Map() };
    // Two volumes at most: the query's and the one being compared with it are what an interactive session needs.
    this.volumes = [entry, ...this.volumes.filter((v) => v.id !== volumeId)].slice(0, 2);
    return entry;
  }

  /** Unit-normalised embedding of one slice (memory → disk cache → network). */
  async embedding(modelRef: string | ResolvedModel, key: SliceKey): Promise<LoadedEmbedding> {
    const model = typeof modelRef === 'string' ? await this.model(modelRef) : modelRef;
    const vol = await this.volumeEntry(key.volumeId);
    const v = vol.volume;
    if (!Number.isInteger(key.frame) || key.frame < 0 || key.frame >= v.frames) {
      throw new EngineFailure('BAD_INPUT', `volume ${key.volumeId} has ${v.frames} frame(s); frame ${key.frame} does not exist`);
    }
    if (!Number.isInteger(key.slice) || key.slice < 0 || key.slice >= v.dims[2]) {
      throw new EngineFailure('BAD_INPUT', `volume ${key.volumeId} has ${v.dims[2]} slice(s); slice ${key.slice} does not exist`);
    }
    const { data: _data, ...geometry } = v;
    const memKey = JSON.stringify([model.id, model.hash, vol.id, vol.hash, key.frame, key.slice]);
    const mem = this.memory.get(memKey);
    if (mem) {
      this.memory.delete(memKey);
      this.memory.set(memKey, mem);
      mem.key = key;
      mem.source = 'memory';
      return mem;
    }
    const cacheKey = { modelId: model.id, volumeId: vol.id, frame: key.frame, slice: key.slice };
    const stamp = { modelHash: model.hash, volumeHash: vol.hash };
    let embedding = this.cache.get(cacheKey, stamp);
    let source: LoadedEmbedding['source'] = 'disk';
    if (!embedding) {
      const b = await this.backbone(model);
      const { net, header } = b;
      const pre = header.config.preprocess;
      const normKey = pre.clipPercentiles.join(',');
      let normalized = vol.normalized.get(normKey);
      if (!normalized) {
        normalized = normalizeIntensity(v.data, { lowPercentile: pre.clipPercentiles[0], highPercentile: pre.clipPercentiles[1] });
        vol.normalized.set(normKey, normalized);
      }
      // The ONNX export of the backbone through onnxruntime when it loads (several times faster than tfjs-wasm);
      // tfjs otherwise, on its own path, which keeps the channel transpose on the backend.
      const runtime = await (b.runtime ??= createInferenceRuntime(net));
      embedding = runtime.name === 'tfjs' ? embedSlice(net, pre, v, normalized, key.slice, key.frame) : await embedSliceWith(runtime, net, pre, v, normalized, key.slice, key.frame);
      this.cache.put(cacheKey, stamp, embedding);
      source = 'computed';
    }
    normalizeEmbedding(embedding);
    const loaded: LoadedEmbedding = { key, model, embedding, volume: geometry, source };
    this.remember(memKey, loaded);
    return loaded;
  }

  private remember(key: string, e: LoadedEmbedding): void {
    this.memory.set(key, e);
    // Counted twice: the JS copy and, once similarity asks for it, the backend copy.
    const bytes = (x: LoadedEmbedding) => x.embedding.data.byteLength * (this.opts.accelerate === false ? 1 : 2);
    this.memoryUsed += bytes(e);
    for (const [k, old] of this.memory) {
      if (this.memoryUsed <= this.memoryBytes || k === key) break;
      this.memory.delete(k);
      old.tensor?.dispose();
      this.memoryUsed -= bytes(old);
    }
  }

  private async prepare(e: LoadedEmbedding): Promise<void> {
    if (this.opts.accelerate === false || e.tensor?.alive) return;
    await initBackend();
    e.tensor = new TensorEmbedding(e.embedding);
  }

  private mapOf(e: LoadedEmbedding, query: Float32Array): SimilarityMap {
    // An entry evicted during a large request has lost its backend copy; its JS copy is still here.
    return e.tensor?.alive ? e.tensor.similarity(query) : similarityMap(e.embedding, query);
  }

  /** Similarity of pixel `at` of `query` with every pixel of the query slice and of each `against` slice. */
  async similarity(modelRef: string, query: SliceKey, at: [number, number], against: SliceKey[] = []): Promise<SimilarityResult> {
    const model = await this.model(modelRef);
    const t0 = performance.now();
    const q = await this.embedding(model, query);
    let p: number;
    try {
      p = pixelIndex(q.embedding.dims, at);
    } catch (err) {
      throw new EngineFailure('BAD_INPUT', (err as Error).message);
    }
    // Key and source are read at load time: a slice listed twice is one memory entry, loaded twice.
    const all = [{ entry: q, key: { ...q.key }, source: q.source }];
    for (const k of against) {
      const e = await this.embedding(model, k);
      all.push({ entry: e, key: { ...e.key }, source: e.source });
    }
    const vec = pixelVector(q.embedding, p);
    // Backend copies are made before the clock starts: they are part of loading, done once per slice.
    for (const { entry } of all) await this.prepare(entry);
    const t1 = performance.now();
    const maps = [];
    for (const { entry, key, source } of all) maps.push({ ...key, ...this.mapOf(entry, vec), source, geometry: entry.volume });
    // In its own slice the query is its own best match (a tie with an identical pixel must not move it).
    maps[0]!.best = { at, value: maps[0]!.values[p]! };
    const t2 = performance.now();
    return { model, query: { ...query, at }, maps, seconds: { embed: (t1 - t0) / 1000, similarity: (t2 - t1) / 1000 } };
  }

  async project(
    modelRef: string,
    keys: SliceKey[],
    opts: ProjectOptions & { onEmbed?: (done: number, total: number) => void },
  ): Promise<ProjectResult> {
    if (keys.length === 0) throw new EngineFailure('BAD_INPUT', 'no slices to project');
    const model = await this.model(modelRef);
    const t0 = performance.now();
    const embs: SliceEmbedding[] = [];
    for (const [n, k] of keys.entries()) {
      if (opts.signal?.aborted) throw Object.assign(new Error('projection cancelled'), { name: 'AbortError' });
      embs.push((await this.embedding(model, k)).embedding);
      opts.onEmbed?.(n + 1, keys.length);
    }
    const t1 = performance.now();
    const proj = await projectEmbeddings(embs, opts);
    return { ...proj, model, keys, seconds: { embed: (t1 - t0) / 1000, project: (performance.now() - t1) / 1000 } };
  }

  /** Frees the backbone and its runtime's native session. */
  private dropNet(): void {
    if (!this.net) return;
    disposeNet(this.net.net);
    this.net.runtime?.then((r) => r.dispose()).catch(() => {});
    this.net = null;
  }

  close(): void {
    this.dropNet();
    for (const m of this.memory.values()) m.tensor?.dispose();
    this.memory.clear();
    this.memoryUsed = 0;
    this.lib?.close();
    this.lib = null;
  }
}
