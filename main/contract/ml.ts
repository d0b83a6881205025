import { z } from 'zod';
import { method } from './protocol.js';

/**
 * Few-shot segmentation on the contract: train a model from the workspace's annotations, predict volumes
 * into `predicted` annotations, list models. Progress arrives as `request.progress` events (ml.train: the
 * stages of TrainStage; stage 'predict': volumes).
 */

/**
 * Stages of ml.train's progress: `features`, the linear probe caching backbone features before its first
 * step (done/total slices: the training slices' copies, then the validation slices); `train`, the steps
 * (done/total steps, the loss or the validation Dice in the message).
 */
export type TrainStage = 'features' | 'train';

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

/** One linear-probe readout of a backbone along its pretraining (ml/pretrain/readout.ts, readout.json). */
export const ReadoutPointSummary = z.object({
  step: z.number().int(),
  epoch: z.number(),
  /** Dice per structure on the scored slices. */
  dice: z.record(z.number()),
  /** Mean of the per-structure Dice. */
  mean: z.number(),
  /** How the probe trained (readout.ts ProbeKind), when the record says; points of different probes do not compare. */
  probe: z.string().optional(),
});
export type ReadoutPointSummary = z.infer<typeof ReadoutPointSummary>;

export const ReadoutSummary = z.object({
  /** Which slices trained and scored the probe (patients or studies). */
  description: z.string().nullable(),
  structures: z.array(z.string()),
  labeledSlices: z.number().int(),
  validationSlices: z.number().int(),
  /** Ascending by step; the last is the backbone's current readout. */
  points: z.array(ReadoutPointSummary),
});
export type ReadoutSummary = z.infer<typeof ReadoutSummary>;

export const PretrainBudget = z
  .object({
    kind: z.enum(['steps', 'epochs', 'overnight']),
    /** Steps or epochs; with `overnight`, an optional epoch budget the nights add up to. */
    amount: z.number().int().positive().max(10_000_000).nullable().optional(),
  })
  .strict()
  .refine((b) => b.kind === 'overnight' || (b.amount !== null && b.amount !== undefined), { message: 'a steps or epochs budget needs an amount' });

export const PretrainExpectation = z.object({
  trainSlices: z.number().int(),
  validationSlices: z.number().int(),
  volumes: z.number().int(),
  batch: z.number().int(),
  stepsPerEpoch: z.number().int(),
  /** Null when no step time is known for this configuration (no reference, no earlier run here). */
  secondsPerStep: z.number().nullable(),
  stepTime: z.object({
    source: z.enum(['last-run', 'reference', 'none']),
    /** The finished run the step time comes from (source `last-run`). */
    jobId: z.string().nullable(),
    jobName: z.string().nullable(),
    finishedAt: z.string().nullable(),
  }),
  /** Steps of the budget; for `overnight`, the steps one night holds. */
  steps: z.number().int(),
  epochs: z.number(),
  /** Clock time of the budget (the window for `overnight`); null without a step time. */
  seconds: z.number().nullable(),
  /** Overnight: nights the epoch budget takes (the configuration's maxEpochs without one); null otherwise or without a step time. */
  nights: z.number().int().nullable(),
  /** The newest readout of a comparable backbone in the library (same architecture, method, size and batch). */
  readout: z
    .object({ modelId: z.string(), name: z.string(), step: z.number().int(), epoch: z.number(), mean: z.number(), dice: z.record(z.number()) })
    .nullable(),
  /** The expectation in one sentence, and the readout's when there is one. */
  text: z.string(),
  readoutText: z.string().nullable(),
  /** The measured fine-tuning gain at the run's planned length (docs/EVALUATION.md); null for any configuration not measured. */
  gainText: z.string().nullable(),
});
export type PretrainExpectation = z.infer<typeof PretrainExpectation>;

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
  'ml.pretrainExpectation': method({
    summary: 'What a pretraining budget buys on this machine: steps, epochs and time for the chosen studies, before the run.',
    params: z
      .object({
        method: z.enum(['pix2rep', 'pix2rep-v2']).default('pix2rep'),
        preset: z.enum(['compact', 'paper']).default('compact'),
        budget: PretrainBudget,
        /** Study ids; every study when absent or empty. */
        studies: z.array(z.string().min(1)).optional(),
        workers: z.number().int().positive().max(64).default(1),
        batch: z.number().int().positive().max(256).optional(),
        size: z.number().int().positive().max(1024).optional(),
      })
      .strict(),
    result: PretrainExpectation,
  }),
  'ml.readouts': method({
    summary: "Linear-probe readouts stored with pretraining runs (readout.json beside the checkpoints), per backbone model and per pretraining job.",
    params: z
      .object({
        /** Model ids; every pretrained backbone when absent. */
        models: z.array(z.string().min(1)).max(10_000).optional(),
        /** Job ids; every pretraining job when absent. */
        jobs: z.array(z.string().min(1)).max(10_000).optional(),
      })
      .strict()
      .optional(),
    result: z.object({
      /** id → its readout, null when the run stored none. */
      models: z.record(ReadoutSummary.nullable()),
      jobs: z.record(ReadoutSummary.nullable()),
      /** Readout files that could not be read, with the reason (their id maps to null above). */
      problems: z.array(z.object({ id: z.string(), path: z.string(), reason: z.string() })),
    }),
  }),
};
