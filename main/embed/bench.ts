import { initBackend } from '../ml/backends/init.js';
import { modelPreset } from '../ml/config.js';
import { createNet, disposeNet } from '../ml/unet.js';
import { normalizeIntensity } from '../io/resample.js';
import { IDENTITY, type Volume } from '../io/volume.js';
import { createInferenceRuntime } from '../ml/infer/runtime.js';
import { embedSlice, embedSliceWith, normalizeEmbedding, pixelVector, type SliceEmbedding } from './compute.js';
import { projectEmbeddings } from './project.js';
import { similarityMap } from './similarity.js';
import { TensorEmbedding } from './tensor-similarity.js';

/**
 * Benchmarks of the inspector (issue 8 acceptance), on a synthetic 256×256×11 volume at 1.5 mm and the
 * compact backbone (untrained weights time the same as trained ones):
 * - embedding of one slice (network + mapping back of D channels);
 * - similarity of a 256×256 slice against 10 others with the embeddings already in memory (median over
 *   query moves, as the mouse makes them);
 * - projection of 20,000 pixels (PCA and UMAP).
 * Run with `pix2rep bench embed [--json]`.
 */

export interface EmbedBench {
  backend: string;
  /** The runtime of the embedding forward pass, as the inspector picks it (onnxruntime when it loads). */
  embedRuntime: string;
  /** Best wall time of one slice's embedding through that runtime. */
  embedSliceSeconds: number;
  /** The same through tfjs on the backend (best of 3 slices). */
  embedSliceSecondsTfjs: number;
  /**
   * Wall time, and the process's CPU time (user + system): on a loaded machine the CPU time is closer to
   * what an idle one would take. `js` is the plain loop, `backend` the matrix-vector product on the backend.
   */
  similarity11SlicesMs: Record<'js' | 'backend', { median: number; max: number; medianCpu: number }>;
  projectSeconds: { pca: number; umap: number };
  projectCpuSeconds: { pca: number; umap: number };
}

function phantom(n: number, k: number): Float32Array {
  const img = new Float32Array(n * n);
  const cx = n * (0.45 + 0.01 * k);
  const cy = n * 0.5;
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) {
      const d = Math.hypot(i - cx, j - cy);
      img[j * n + i] = d < n * 0.12 ? 0.9 : d < n * 0.2 ? 0.45 : 0.1 + 0.05 * Math.sin(i * 0.7 + j * 0.3);
    }
  }
  return img;
}

export async function runEmbedBench(log: (s: string) => void = () => undefined): Promise<EmbedBench> {
  const backend = await initBackend();
  const N = 256;
  const K = 11;
  const data = new Float32Array(N * N * K);
  for (let k = 0; k < K; k++) data.set(phantom(N, k), k * N * N);
  const volume: Volume = { dims: [N, N, K], frames: 1, spacing: [1.5, 1.5, 8], origin: [0, 0, 0], direction: IDENTITY, data };
  const norm = normalizeIntensity(data);
  const net = createNet(modelPreset('compact'), 1, false);
  const embs: SliceEmbedding[] = [];
  let embedSliceSeconds = 0;
  let embedSliceSecondsTfjs = Infinity;
  const runtime = await createInferenceRuntime(net);
  try {
    for (let k = 0; k < K; k++) {
      const t = performance.now();
      embs.push(normalizeEmbedding(await embedSliceWith(runtime, net, { spacingMm: 1.5 }, volume, norm, k, 0)));
      const s = (performance.now() - t) / 1000;
      if (k > 0) embedSliceSeconds = k === 1 ? s : Math.min(embedSliceSeconds, s);
      log(`embed slice ${k} (${runtime.name}): ${s.toFixed(3)} s`);
    }
    for (let k = 0; k < 3; k++) {
      const t = performance.now();
      embedSlice(net, { spacingMm: 1.5 }, volume, norm, k, 0);
      const s = (performance.now() - t) / 1000;
      if (k > 0) embedSliceSecondsTfjs = Math.min(embedSliceSecondsTfjs, s);
      log(`embed slice ${k} (tfjs): ${s.toFixed(3)} s`);
    }
  } finally {
    await runtime.dispose();
    disposeNet(net);
  }
  const tensors = embs.map((e) => new TensorEmbedding(e));
  const timeMaps = (map: (k: number, q: Float32Array) => unknown) => {
    const times: number[] = [];
    const cpu: number[] = [];
    for (let q = 0; q < 21; q++) {
      const at = (40 + 7 * q) * N + 60 + 5 * q;
      const c0 = process.cpuUsage();
      const t = performance.now();
      const query = pixelVector(embs[0]!, at);
      for (let k = 0; k < K; k++) map(k, query);
      times.push(performance.now() - t);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
    }
    times.sort((a, b) => a - b);
    cpu.sort((a, b) => a - b);
    return { median: times[10]!, max: times[20]!, medianCpu: cpu[10]! };
  };
  const similarity11SlicesMs = {
    js: timeMaps((k, q) => similarityMap(embs[k]!, q)),
    backend: timeMaps((k, q) => tensors[k]!.similarity(q)),
  };
  for (const t of tensors) t.dispose();
  for (const [path, r] of Object.entries(similarity11SlicesMs)) {
    log(`similarity 256x256 vs 10 slices (${path}): median ${r.median.toFixed(1)} ms wall, ${r.medianCpu.toFixed(1)} ms CPU`);
  }
  const projectSeconds = { pca: 0, umap: 0 };
  const projectCpuSeconds = { pca: 0, umap: 0 };
  for (const method of ['pca', 'umap'] as const) {
    const c0 = process.cpuUsage();
    const t = performance.now();
    let stage = '';
    await projectEmbeddings([embs[0]!], {
      method,
      sample: 20_000,
      onProgress: (p) => {
        if (p.stage !== stage) log(`  ${method} ${p.stage} from ${((performance.now() - t) / 1000).toFixed(1)} s`);
        stage = p.stage;
      },
    });
    projectSeconds[method] = (performance.now() - t) / 1000;
    const c = process.cpuUsage(c0);
    projectCpuSeconds[method] = (c.user + c.system) / 1e6;
    log(`project 20,000 pixels (${method}): ${projectSeconds[method].toFixed(1)} s wall, ${projectCpuSeconds[method].toFixed(1)} s CPU`);
  }
  return { backend: backend.name, embedRuntime: runtime.reason, embedSliceSeconds, embedSliceSecondsTfjs, similarity11SlicesMs, projectSeconds, projectCpuSeconds };
}

