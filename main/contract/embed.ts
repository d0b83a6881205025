import { z } from 'zod';
import { method } from './protocol.js';

/**
 * The embedding inspector (paper Fig. 2 and 4): similarity maps of one pixel's embedding against slices,
 * and 2D projections of pixel embeddings painted back in image space. Arrays travel base64-encoded,
 * little-endian; images are i fastest (row j = 0 first), in the slice's own grid.
 */

export const EmbedSliceRef = z
  .object({
    volumeId: z.string().min(1),
    frame: z.number().int().nonnegative().default(0),
    slice: z.number().int().nonnegative(),
  })
  .strict();
export type EmbedSliceRef = z.infer<typeof EmbedSliceRef>;

export const EmbedModelInfo = z.object({
  id: z.string(),
  name: z.string(),
  /** SHA-256 of the checkpoint: a cached embedding is reused only while it matches. */
  hash: z.string(),
});

const Pixel = z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]);

export const SimilarityMapResult = z.object({
  volumeId: z.string(),
  frame: z.number().int(),
  slice: z.number().int(),
  /** [ni, nj] of the slice. */
  dims: z.tuple([z.number().int(), z.number().int()]),
  /** Float32 cosine similarities in [-1, 1], ni·nj values. */
  values: z.string(),
  /** The best-matching pixel (for the query's own slice: the query itself). */
  best: z.object({ at: Pixel, value: z.number() }),
  /** Where the embedding came from: memory, the disk cache, or computed now. */
  source: z.enum(['memory', 'disk', 'computed']),
});

export const EmbedProjectionMethod = z.enum(['pca', 'umap']);

export const embedMethods = {
  'embed.models': method({
    summary: 'Models whose backbone the embedding inspector can use (catalogue models, then model folders).',
    params: z.object({}).strict().optional(),
    result: z.object({ models: z.array(z.object({ id: z.string(), name: z.string(), source: z.enum(['catalogue', 'folder']) })) }),
  }),
  'embed.similarity': method({
    summary: "Cosine similarity of one pixel's embedding with every pixel of its slice and of other slices, with the best match in each.",
    params: z
      .object({
        modelId: z.string().min(1),
        volumeId: z.string().min(1),
        frame: z.number().int().nonnegative().default(0),
        slice: z.number().int().nonnegative(),
        /** Query pixel (i, j) in the slice grid. */
        at: Pixel,
        against: z.array(EmbedSliceRef).max(32).default([]),
      })
      .strict(),
    result: z.object({
      model: EmbedModelInfo,
      /** The query's slice first, then the `against` slices in order. */
      maps: z.array(SimilarityMapResult),
      seconds: z.object({ embed: z.number(), similarity: z.number() }),
    }),
  }),
  'embed.project': method({
    summary: 'A 2D projection (PCA or UMAP) of pixel embeddings of slices, colour-coded and painted back in image space; progress as request.progress.',
    params: z
      .object({
        modelId: z.string().min(1),
        slices: z.array(EmbedSliceRef).min(1).max(16),
        method: EmbedProjectionMethod.default('umap'),
        /** Pixels projected at most (a seeded random sample over all slices). */
        sample: z.number().int().min(10).max(50_000).default(20_000),
        seed: z.number().int().default(1),
      })
      .strict(),
    result: z.object({
      method: EmbedProjectionMethod,
      model: EmbedModelInfo,
      slices: z.array(
        z.object({
          volumeId: z.string(),
          frame: z.number().int(),
          slice: z.number().int(),
          dims: z.tuple([z.number().int(), z.number().int()]),
          /** RGB bytes of the projection's colours painted back (ni·nj·3). */
          rgb: z.string(),
          /** RGB bytes of the PCA preview (first three components). */
          pcaRgb: z.string(),
          /** Int32 per pixel: index of the scatter point representing it. */
          representative: z.string(),
        }),
      ),
      /** The scatter: per point, its slice (index into `slices`), pixel (j·ni + i), position in [-1, 1]², colour. */
      points: z.object({
        count: z.number().int(),
        slice: z.string(),
        pixel: z.string(),
        x: z.string(),
        y: z.string(),
        rgb: z.string(),
      }),
      /** Share of the embedding variance on the first two principal components. */
      pcaExplained: z.number(),
      seconds: z.object({ embed: z.number(), project: z.number() }),
    }),
  }),
};
