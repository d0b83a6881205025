import { z } from 'zod';
import { method } from './protocol.js';

/**
 * Few-shot segmentation on the contract: train a model from the workspace's annotations, predict volumes
 * into `predicted` annotations, list models. Progress arrives as `request.progress` events (stage 'train':
 * done/total steps with the loss or validation Dice in the message; stage 'predict': volumes).
 */
export const FewShotModeSchema = z.enum(['linear', 'finetune', 'mean-teacher', 'supervised']);

const TrainingSummary = z.object({
  steps: z.number().int(),
  stopped: z.enum(['steps', 'early', 'cancelled']),
  bestStep: z.number().int(),
  validationDice: z.number().nullable(),
  seconds: z.number(),
  labeledSlices: z.number().int(),
});

export const ModelSummary = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.string(),
  parentId: z.string().nullable(),
  status: z.string(),
  createdAt: z.string(),
  validationDice: z.number().nullable(),
});
export type ModelSummary = z.infer<typeof ModelSummary>;

export const mlMethods = {
  'ml.train': method({
    summary: "Train a segmentation model from the workspace's annotated slices (linear, finetune, mean-teacher or supervised).",
    params: z
      .object({
        mode: FewShotModeSchema,
        /** Pretrained backbone (model id or name); required by linear and finetune. */
        backbone: z.string().min(1).optional(),
        /** Study ids, UIDs or patient names; every study when absent. */
        studies: z.array(z.string().min(1)).optional(),
        name: z.string().min(1).max(200).optional(),
        steps: z.number().int().positive().max(1_000_000).optional(),
        batch: z.number().int().positive().max(256).optional(),
        seed: z.number().int().optional(),
      })
      .strict(),
    result: z.object({ modelId: z.string().nullable(), name: z.string(), training: TrainingSummary }),
  }),
  'ml.predict': method({
    summary: 'Segment library volumes with a trained model; each result is stored as a predicted annotation.',
    params: z
      .object({
        model: z.string().min(1),
        volumeIds: z.array(z.string().min(1)).min(1).max(10_000),
        largestComponent: z.boolean().default(false),
      })
      .strict(),
    result: z.object({ modelId: z.string(), annotations: z.array(z.object({ volumeId: z.string(), annotationId: z.string() })) }),
  }),
  'ml.listModels': method({
    summary: 'The models of the workspace (pretrained backbones and segmentation models).',
    params: z.object({}).strict().optional(),
    result: z.object({ models: z.array(ModelSummary) }),
  }),
};
