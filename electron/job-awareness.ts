/**
 * What the desktop shell does about background jobs, decided from the engine's event stream: keep the machine
 * from sleeping while at least one job runs (an overnight pretraining must not stop when the screen locks), and
 * tell the user in plain words when a job ends. Pure: the Electron glue (job-awareness-host.ts) carries out
 * the actions. No electron import, so it is tested in Node.
 */

export type AwarenessAction =
  | { type: 'keepAwake'; on: boolean }
  | { type: 'notify'; jobId: string; status: 'done' | 'failed' | 'cancelled'; title: string; body: string };

/** The fields of a job.state event's job this module reads (a JobSummary has them all). */
export interface JobStateLike {
  id: string;
  kind: string;
  name: string;
  status: string;
  step: number;
  error: string | null;
}

const KIND_WORDS: Record<string, string> = {
  pretrain: 'Pretraining',
  train: 'Training',
  predict: 'Segmentation',
  import: 'Import',
  embed: 'Embedding map',
  bench: 'Benchmark',
};
const ENDED = new Set(['done', 'failed', 'cancelled']);
const MAX_BODY = 240;

export class JobAwareness {
  private readonly running = new Set<string>();
  /** Last status seen per job, so a repeated event never notifies twice. */
  private readonly last = new Map<string, string>();

  /** One event envelope as the engine host relays it (JSON text, or already parsed). */
  onEvent(message: string | { event?: unknown; data?: unknown }): AwarenessAction[] {
    let env: { event?: unknown; data?: unknown };
    try {
      env = typeof message === 'string' ? (JSON.parse(message) as typeof env) : message;
    } catch {
      return [];
    }
    if (!env || typeof env !== 'object') return [];
    // A (re)started engine has no job running yet; it announces each one it starts or resumes.
    if (env.event === 'engine.ready') return this.reset();
    if (env.event !== 'job.state') return [];
    const job = (env.data as { job?: unknown } | undefined)?.job;
    return isJobState(job) ? this.onJob(job) : [];
  }

  onJob(job: JobStateLike): AwarenessAction[] {
    const actions: AwarenessAction[] = [];
    const before = this.last.get(job.id);
    this.last.set(job.id, job.status);
    const wasIdle = this.running.size === 0;
    if (job.status === 'running') this.running.add(job.id);
    else this.running.delete(job.id);
    const idle = this.running.size === 0;
    if (wasIdle && !idle) actions.push({ type: 'keepAwake', on: true });
    if (!wasIdle && idle) actions.push({ type: 'keepAwake', on: false });
    // A queued job the user cancelled never did anything worth a notification; a finished one always did.
    const ended = ENDED.has(job.status) && before !== job.status && (job.status !== 'cancelled' || before === 'running');
    if (ended) actions.push(notification(job));
    return actions;
  }

  /** Forget running jobs (the engine went away or restarted); releases the keep-awake if it was held. */
  reset(): AwarenessAction[] {
    const held = this.running.size > 0;
    this.running.clear();
    return held ? [{ type: 'keepAwake', on: false }] : [];
  }

  get runningJobs(): number {
    return this.running.size;
  }
}

function notification(job: JobStateLike): Extract<AwarenessAction, { type: 'notify' }> {
  const what = KIND_WORDS[job.kind] ?? 'Job';
  const named = job.name ? `"${job.name}"` : `${what.toLowerCase()} job ${job.id}`;
  const status = job.status as 'done' | 'failed' | 'cancelled';
  if (status === 'done') return { type: 'notify', jobId: job.id, status, title: `${what} finished`, body: `${capital(named)} finished${job.step > 0 ? ` after ${job.step} steps` : ''}.` };
  if (status === 'cancelled') return { type: 'notify', jobId: job.id, status, title: `${what} cancelled`, body: `${capital(named)} was cancelled${job.step > 0 ? ` at step ${job.step}` : ''}.` };
  const reason = job.error?.trim() || 'no reason was given';
  return { type: 'notify', jobId: job.id, status, title: `${what} failed`, body: clip(`${capital(named)} failed: ${reason}`) };
}

function capital(s: string): string {
  return s.startsWith('"') ? s : s.charAt(0).toUpperCase() + s.slice(1);
}

function clip(s: string): string {
  return s.length <= MAX_BODY ? s : `${s.slice(0, MAX_BODY - 1)}…`;
}

function isJobState(x: unknown): x is JobStateLike {
  if (!x || typeof x !== 'object') return false;
  const j = x as Record<string, unknown>;
  return typeof j.id === 'string' && typeof j.kind === 'string' && typeof j.status === 'string' && typeof j.name === 'string' && typeof j.step === 'number';
}
