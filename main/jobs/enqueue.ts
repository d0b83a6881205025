import { EmbedJobParams, ImportJobParams, PredictJobParams, PretrainJobParams, TrainJobParams, type JobKind, type JobScheduleInput } from '../contract/jobs.js';
import { EngineFailure } from '../engine/errors.js';
import { resolveSchedule } from './schedule.js';
import type { JobRow, JobStore } from './store.js';
import { appendLog } from './log.js';
import { join } from 'node:path';

export interface EnqueueInput {
  kind: JobKind;
  name?: string;
  params?: Record<string, unknown>;
  priority?: number;
  schedule?: JobScheduleInput;
  autoResume?: boolean;
}

const SCHEMAS: Partial<Record<JobKind, { safeParse(x: unknown): { success: boolean; error?: { issues: { path: (string | number)[]; message: string }[] } } }>> = {
  pretrain: PretrainJobParams,
  import: ImportJobParams,
  train: TrainJobParams,
  predict: PredictJobParams,
  embed: EmbedJobParams,
};

/** Validate a job's parameters now (not hours later in its worker) and queue it. */
export function enqueueJob(store: JobStore, input: EnqueueInput, now = Date.now()): JobRow {
  const params = input.params ?? {};
  const schema = SCHEMAS[input.kind];
  if (schema) {
    const r = schema.safeParse(params);
    if (!r.success) {
      const what = r.error!.issues.slice(0, 5).map((i) => `${i.path.length ? i.path.join('.') + ': ' : ''}${i.message}`).join('; ');
      throw new EngineFailure('BAD_INPUT', `invalid ${input.kind} job parameters: ${what}`);
    }
  }
  let schedule;
  try {
    schedule = resolveSchedule(input.schedule, now);
  } catch (err) {
    throw new EngineFailure('BAD_INPUT', (err as Error).message);
  }
  const row = store.create(
    {
      kind: input.kind,
      ...(input.name !== undefined ? { name: input.name } : {}),
      params,
      priority: input.priority ?? 0,
      schedule,
      autoResume: input.autoResume ?? true,
    },
    now,
  );
  if (row.log_path) {
    const when = schedule ? ` (schedule ${schedule.start ?? 'now'} to ${schedule.stop ?? 'the end'})` : '';
    appendLog(join(store.root, row.log_path), `queued ${row.kind} job ${row.id}${when} with ${JSON.stringify(params)}`, now);
  }
  return row;
}
