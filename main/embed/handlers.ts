import type { Handlers } from '../engine/engine.js';
import type { EmbedService } from './service.js';

const b64 = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

/**
 * Contract handlers of the inspector for one workspace. The service (and its in-memory embeddings) lives
 * as long as the engine, so a query pixel moved with the mouse costs only the dot products. It is loaded on
 * first use: it pulls in tfjs and umap-js, which an engine that never inspects embeddings should not pay for.
 */
export function embedHandlers(workspaceDir: string): Handlers {
  let service: Promise<EmbedService> | null = null;
  const open = () =>
    (service ??= import('./service.js')
      .then((m) => new m.EmbedService(workspaceDir))
      .catch((err: unknown) => {
        service = null;
        throw err;
      }));
  const modelInfo = (m: { id: string; name: string; hash: string }) => ({ id: m.id, name: m.name, hash: m.hash });

  return {
    'embed.models': async () => ({ models: (await open()).models().map(({ id, name, source }) => ({ id, name, source })) }),

    'embed.similarity': async (p) => {
      const r = await (await open()).similarity(p.modelId, { volumeId: p.volumeId, frame: p.frame, slice: p.slice }, p.at, p.against);
      return {
        model: modelInfo(r.model),
        maps: r.maps.map((m) => ({
          volumeId: m.volumeId,
          frame: m.frame,
          slice: m.slice,
          dims: m.dims,
          values: b64(m.values),
          best: m.best,
          source: m.source,
        })),
        seconds: r.seconds,
      };
    },

    'embed.project': async (p, ctx) => {
      const r = await (await open()).project(p.modelId, p.slices, {
        method: p.method,
        sample: p.sample,
        seed: p.seed,
        signal: ctx.signal,
        onEmbed: (done, total) => ctx.progress('embed', done, total),
        onProgress: (q) => ctx.progress(q.stage, q.done, q.total),
      });
      return {
        method: r.method,
        model: modelInfo(r.model),
        slices: r.slices.map((s, n) => ({
          ...r.keys[n]!,
          dims: s.dims,
          rgb: b64(s.rgb),
          pcaRgb: b64(s.pcaRgb),
          representative: b64(s.representative),
        })),
        points: {
          count: r.points.x.length,
          slice: b64(r.points.slice),
          pixel: b64(r.points.pixel),
          x: b64(r.points.x),
          y: b64(r.points.y),
          rgb: b64(r.points.rgb),
        },
        pcaExplained: r.pcaExplained,
        seconds: r.seconds,
      };
    },
  };
}
