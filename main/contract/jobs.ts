import { z } from 'zod';
import { method } from './protocol.js';

export const JobKind = z.enum(['import', 'pretrain', 'train', 'predict', 'embed']);
export type JobKind = z.infer<typeof JobKind>;

export const JobStatus = z.enum(['queued', 'running', 'paused', 'done', 'failed', 'cancelled', 'interrupted']);
export type JobStatus = z.infer<typeof JobStatus>;

const HHMM = z.string().regex(/^([01]?\d|2[0-3]):[0-5]\d$/, 'a time of day as HH:MM (24 h)');

/**
 * When a job may run. `start` and `stop` are local times of day: both given make a daily window (it may wrap
 * midnight, "22:00"–"07:00") that the job uses night after night until its budget is reached; `start` alone
 * delays the first start; `stop` alone ends the job's time at the next such time (the job is then paused).
 */
export const JobScheduleInput = z.object({ start: HHMM.optional(), stop: HHMM.optional() }).strict();
export type JobScheduleInput = z.infer<typeof JobScheduleInput>;

export const JobSchedule = z.object({
  start: z.string().nullable(),
  stop: z.string().nullable(),
  /** Epoch ms before which the job does not start (the first `start` after it was queued). */
  notBefore: z.number().nullable(),
  /** Epoch ms after which a stop-only job does not run. */
  notAfter: z.number().nullable(),
});
export type JobSchedule = z.infer<typeof JobSchedule>;

export const JobSummary = z.object({
  id: z.string(),
  kind: z.enum(['import', 'pretrain', 'train', 'predict', 'embed', 'bench']),
  name: z.string(),
  status: JobStatus,
  priority: z.number().int(),
  params: z.record(z.unknown()),
  schedule: JobSchedule.nullable(),
  autoResume: z.boolean(),
  /** Pause or cancel asked of a running job and not yet carried out. */
  requested: z.enum(['pause', 'cancel']).nullable(),
  /** Why a queued job has not started (e.g. waiting for its window). */
  waiting: z.string().nullable(),
  /** 0..1 when the total is known. */
  progress: z.number().nullable(),
  step: z.number().int(),
  totalSteps: z.number().int().nullable(),
  epoch: z.number().nullable(),
  checkpointStep: z.number().int().nullable(),
  workerPid: z.number().int().nullable(),
  attempts: z.number().int(),
  /** Failure or interruption reason in plain words. */
  error: z.string().nullable(),
  result: z.unknown().nullable(),
  /** Log file, absolute path. */
  logPath: z.string().nullable(),
  modelId: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});
export type JobSummary = z.infer<typeof JobSummary>;

/** Parameters of a pretraining job (the same knobs as `pix2rep pretrain`). */
export const PretrainJobParams = z
  .object({
    /** Studies to train on (ids); all studies of the workspace when absent. */
    studies: z.array(z.string().min(1)).optional(),
    preset: z.enum(['compact', 'paper']).default('compact'),
    method: z.enum(['pix2rep', 'pix2rep-v2']).default('pix2rep'),
    /** Budget: total steps, or total epochs (at most one). Neither: the configuration's maxEpochs. */
    steps: z.number().int().positive().optional(),
    epochs: z.number().int().positive().optional(),
    batch: z.number().int().positive().optional(),
    size: z.number().int().positive().optional(),
    /** Name of the model the job produces. */
    out: z.string().min(1).max(200).optional(),
    backend: z.enum(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']).optional(),
    /** Data-parallel worker threads (one engine each; see docs/PERFORMANCE.md); default 1. */
    workers: z.number().int().positive().max(64).optional(),
    /** Minutes of work between checkpoints (besides pauses, validations and the end). */
    checkpointMinutes: z.number().positive().default(5),
    /** Also checkpoint every this many steps (default: once per epoch). */
    checkpointEverySteps: z.number().int().positive().optional(),
    /** Further configuration overrides (deep-merged into the preset; tests use tiny networks this way). */
    config: z.record(z.unknown()).optional(),
  })
  .strict()
  .refine((p) => !(p.steps !== undefined && p.epochs !== undefined), { message: 'give steps or epochs, not both' });
export type PretrainJobParams = z.infer<typeof PretrainJobParams>;

export const ImportJobParams = z.object({ paths: z.array(z.string().min(1)).min(1), labels: z.string().min(1).optional() }).strict();
export type ImportJobParams = z.infer<typeof ImportJobParams>;

const ComputeBackend = z.enum(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);

/** Parameters of a few-shot training job (the same knobs as `pix2rep train` / ml.train). */
export const TrainJobParams = z
  .object({
    mode: z.enum(['linear', 'finetune', 'mean-teacher', 'supervised']),
    /** Pretrained backbone (model id or name); required by linear and finetune. */
    backbone: z.string().min(1).optional(),
    /** Study ids, UIDs or patient names; every study when absent. */
    studies: z.array(z.string().min(1)).optional(),
    /** Name of the model the job produces. */
    name: z.string().min(1).max(200).optional(),
    steps: z.number().int().positive().max(1_000_000).optional(),
    batch: z.number().int().positive().max(256).optional(),
    seed: z.number().int().optional(),
    backend: ComputeBackend.optional(),
    /** Further few-shot configuration overrides (tests use tiny networks this way). */
    config: z.record(z.unknown()).optional(),
  })
  .strict();
export type TrainJobParams = z.infer<typeof TrainJobParams>;

/** Parameters of a prediction job: the listed volumes plus every volume of the listed studies. */
export const PredictJobParams = z
  .object({
    model: z.string().min(1),
    volumeIds: z.array(z.string().min(1)).max(10_000).optional(),
    /** Study ids, UIDs or patient names. */
    studies: z.array(z.string().min(1)).max(10_000).optional(),
    largestComponent: z.boolean().default(false),
    backend: ComputeBackend.optional(),
  })
  .strict()
  .refine((p) => (p.volumeIds?.length ?? 0) + (p.studies?.length ?? 0) > 0, { message: 'give volumeIds or studies to predict' });
export type PredictJobParams = z.infer<typeof PredictJobParams>;

/** Parameters of an embedding projection job (the knobs of `pix2rep embed project`, over one or more slices). */
export const EmbedJobParams = z
  .object({
    /** Pretrained backbone: a model of the workspace (id or name) or a folder under its models/. */
    model: z.string().min(1),
    /** Library volume slices projected together (one scatter, one painted image per slice). */
    slices: z
      .array(z.object({ volumeId: z.string().min(1), frame: z.number().int().min(0).default(0), slice: z.number().int().min(0) }).strict())
      .min(1)
      .max(64),
    method: z.enum(['umap', 'pca']).default('umap'),
    /** Most pixels projected over all slices (the CLI's --sample). */
    sample: z.number().int().min(10).max(200_000).optional(),
    seed: z.number().int().optional(),
    backend: ComputeBackend.optional(),
  })
  .strict();
export type EmbedJobParams = z.infer<typeof EmbedJobParams>;

export const JobProgressPoint = z.object({
  kind: z.enum(['step', 'validation']),
  step: z.number().int(),
  epoch: z.number().nullable(),
  loss: z.number().nullable(),
  smoothedLoss: z.number().nullable(),
  validationLoss: z.number().nullable(),
  slicesPerSecond: z.number().nullable(),
  runId: z.string().nullable(),
  at: z.string(),
});
export type JobProgressPoint = z.infer<typeof JobProgressPoint>;

const JobRef = z.object({ id: z.string().min(1) }).strict();

export const jobMethods = {
  'jobs.list': method({
    summary: 'Jobs of the workspace, newest first (optionally only some states).',
    params: z.object({ status: z.array(JobStatus).optional(), limit: z.number().int().positive().max(10000).optional() }).strict().optional(),
    result: z.object({ jobs: z.array(JobSummary) }),
  }),
  'jobs.get': method({ summary: 'One job.', params: JobRef, result: JobSummary }),
  'jobs.enqueue': method({
    summary: 'Queue a job (pretrain, import, …); it starts when a runner picks it, in order of priority then age.',
    params: z
      .object({
        kind: JobKind,
        name: z.string().max(200).optional(),
        params: z.record(z.unknown()).default({}),
        priority: z.number().int().min(-1000).max(1000).default(0),
        schedule: JobScheduleInput.optional(),
        autoResume: z.boolean().default(true),
      })
      .strict(),
    result: JobSummary,
  }),
  'jobs.pause': method({ summary: 'Pause a job: a running one checkpoints and stops; it keeps its place.', params: JobRef, result: JobSummary }),
  'jobs.resume': method({ summary: 'Queue a paused or interrupted job again; it continues from its checkpoint.', params: JobRef, result: JobSummary }),
  'jobs.cancel': method({ summary: 'Cancel a job (a running one stops at its next step).', params: JobRef, result: JobSummary }),
  'jobs.setPriority': method({
    summary: 'Change the priority of a job (higher starts first).',
    params: z.object({ id: z.string().min(1), priority: z.number().int().min(-1000).max(1000) }).strict(),
    result: JobSummary,
  }),
  'jobs.progress': method({
    summary: 'The stored progress curve of a job (loss per step, validation loss), also after it finished.',
    params: z.object({ id: z.string().min(1), afterStep: z.number().int().optional() }).strict(),
    result: z.object({ points: z.array(JobProgressPoint) }),
  }),
  'jobs.log': method({
    summary: 'The end of a job\'s log file.',
    params: z.object({ id: z.string().min(1), maxBytes: z.number().int().positive().max(1_000_000).default(20_000) }).strict(),
    result: z.object({ path: z.string(), text: z.string() }),
  }),
};

export const jobEvents = {
  /** A job changed state (queued, started, paused, finished, …). */
  'job.state': z.object({ job: JobSummary }),
  /** Live progress of a running job. */
  'job.progress': z.object({
    jobId: z.string(),
    kind: z.enum(['step', 'validation']),
    step: z.number().int(),
    totalSteps: z.number().int().nullable(),
    epoch: z.number().nullable(),
    loss: z.number().nullable(),
    smoothedLoss: z.number().nullable(),
    validationLoss: z.number().nullable(),
    slicesPerSecond: z.number().nullable(),
    etaSeconds: z.number().nullable(),
    backend: z.string().nullable(),
  }),
};
