import type { WorkerJob, WorkerToRunner } from '../protocol.js';

export interface TaskContext {
  job: WorkerJob;
  /** Aborted when the runner asks the job to stop (pause, cancel, end of window, shutdown). */
  signal: AbortSignal;
  send(message: WorkerToRunner): void;
  log(line: string): void;
}

export interface TaskOutcome {
  outcome: 'completed' | 'stopped';
  step: number;
  result?: unknown;
}

export type Task = (ctx: TaskContext) => Promise<TaskOutcome>;
