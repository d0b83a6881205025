import { z } from 'zod';
import { AnnotationSource } from './library.js';
import { method } from './protocol.js';

export const LabelSpec = z.object({
  /** Voxel value of the structure, 1..255 (0 is background). */
  value: z.number().int().min(1).max(255),
  name: z.string().max(100),
  /** CSS hex colour, #rrggbb. */
  color: z.string().regex(/^#[0-9a-fA-F]{6}$/),
});
export type LabelSpec = z.infer<typeof LabelSpec>;

export const annotationMethods = {
  'library.readAnnotation': method({
    summary: 'One frame of an annotation as uint8 labels (base64), with its palette and annotated slices.',
    params: z.object({ annotationId: z.string().min(1), frame: z.number().int().nonnegative().default(0) }).strict(),
    result: z.object({
      id: z.string(),
      volumeId: z.string(),
      source: AnnotationSource,
      modelId: z.string().nullable(),
      labels: z.array(LabelSpec),
      dims: z.tuple([z.number().int(), z.number().int(), z.number().int()]),
      frames: z.number().int(),
      frame: z.number().int(),
      /** Every [frame, slice] marked as annotated (all frames, not only this one). */
      annotatedSlices: z.array(z.tuple([z.number().int(), z.number().int()])),
      data: z.string(),
    }),
  }),
  'library.saveAnnotation': method({
    summary:
      'Write edited slices of one frame into a manual annotation (created on first save), atomically; ' +
      'optionally replace that frame\'s annotated slices and the palette.',
    params: z
      .object({
        volumeId: z.string().min(1),
        /** The manual annotation to update; absent on the first save of a new one. */
        annotationId: z.string().min(1).optional(),
        frame: z.number().int().nonnegative().default(0),
        /** Whole axial slices (uint8, i fastest, base64), each replacing slice k of the frame. */
        slices: z.array(z.object({ k: z.number().int().nonnegative(), data: z.string() })).max(4096),
        /** The frame's complete list of annotated slice indices (replaces the stored one when given). */
        annotatedSlices: z.array(z.number().int().nonnegative()).optional(),
        labels: z.array(LabelSpec).max(255).optional(),
      })
      .strict(),
    result: z.object({
      annotationId: z.string(),
      created: z.boolean(),
      /** Annotated slices over all frames after this save. */
      annotatedSlices: z.number().int(),
    }),
  }),
};
