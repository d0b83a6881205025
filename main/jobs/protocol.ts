/** Messages between the runner and a job's worker process (over the child_process IPC channel). */

export type StopReason = 'pause' | 'cancel' | 'window' | 'shutdown';

export interface WorkerJob {
  id: string;
  kind: string;
  params: Record<string, unknown>;
  /** Workspace root (absolute). */
  workspace: string;
  /** The job's folder (absolute): checkpoints and outputs. */
  jobDir: string;
}

export type RunnerToWorker = { type: 'start'; job: WorkerJob } | { type: 'stop'; reason: StopReason };

export interface WorkerProgress {
  kind: 'step' | 'validation';
  step: number;
  totalSteps: number | null;
  epoch: number | null;
  loss: number | null;
  smoothedLoss: number | null;
  validationLoss: number | null;
  slicesPerSecond: number | null;
  etaSeconds: number | null;
}

export type WorkerToRunner =
  | { type: 'started'; backend: string | null; resumedFrom: number; rejected: { path: string; reason: string }[] }
  | { type: 'progress'; progress: WorkerProgress }
  | { type: 'checkpoint'; step: number; path: string }
  | { type: 'log'; line: string }
  | { type: 'heartbeat' }
  | { type: 'finished'; outcome: 'completed' | 'stopped'; step: number; result?: unknown }
  | { type: 'failed'; message: string };

export function isWorkerMessage(m: unknown): m is WorkerToRunner {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}
