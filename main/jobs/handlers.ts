import { readFileSync, statSync, openSync, readSync, closeSync } from 'node:fs';
import type { Handlers } from '../engine/engine.js';
import { EngineFailure } from '../engine/errors.js';
import { openLibrary, type Library } from '../library/library.js';
import { cancelJob, pauseJob, resumeJob, setPriority } from './control.js';
import { enqueueJob } from './enqueue.js';
import { JobStore, type JobRow } from './store.js';

export interface JobHandlerOptions {
  /** Called after a change the local runner (if any) should act on at once. */
  onChange?: () => void;
}

/**
 * Contract handlers of the jobs domain. They work on the catalogue rows only, so they serve equally when the
 * runner lives in this process (the app, `pix2rep serve`) or in another (`pix2rep jobs runner`).
 */
export function jobHandlers(workspaceDir: string, opts: JobHandlerOptions = {}): Handlers {
  let lib: Library | null = null;
  let store: JobStore | null = null;
  const jobs = () => {
    if (!store) {
      lib = openLibrary(workspaceDir);
      store = new JobStore(lib.db, lib.layout.root);
    }
    return store;
  };
  const must = (id: string): JobRow => {
    const row = jobs().get(id);
    if (!row) throw new EngineFailure('NOT_FOUND', `no job ${id}`);
    return row;
  };
  const changed = (row: JobRow, ctx: { emit: (e: 'job.state', d: { job: ReturnType<JobStore['summary']> }) => void }) => {
    const job = jobs().summary(row);
    ctx.emit('job.state', { job });
    opts.onChange?.();
    return job;
  };

  return {
    'jobs.list': (p) => ({ jobs: jobs().list(p?.status, p?.limit).map((r) => jobs().summary(r)) }),
    'jobs.get': ({ id }) => jobs().summary(must(id)),
    'jobs.enqueue': (p, ctx) =>
      changed(
        enqueueJob(jobs(), {
          kind: p.kind,
          ...(p.name !== undefined ? { name: p.name } : {}),
          params: p.params,
          priority: p.priority,
          ...(p.schedule ? { schedule: p.schedule } : {}),
          autoResume: p.autoResume,
        }),
        ctx,
      ),
    'jobs.pause': ({ id }, ctx) => changed(pauseJob(jobs(), id), ctx),
    'jobs.resume': ({ id }, ctx) => changed(resumeJob(jobs(), id), ctx),
    'jobs.cancel': ({ id }, ctx) => changed(cancelJob(jobs(), id), ctx),
    'jobs.setPriority': ({ id, priority }, ctx) => changed(setPriority(jobs(), id, priority), ctx),
    'jobs.progress': ({ id, afterStep }) => {
      must(id);
      return { points: jobs().progress(id, afterStep ?? -1) };
    },
    'jobs.log': ({ id, maxBytes }) => {
      const job = jobs().summary(must(id));
      if (!job.logPath) return { path: '', text: '' };
      return { path: job.logPath, text: tail(job.logPath, maxBytes) };
    },
  };
}

function tail(path: string, maxBytes: number): string {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return '';
  }
  if (size <= maxBytes) return readFileSync(path, 'utf8');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(maxBytes);
    readSync(fd, buf, 0, maxBytes, size - maxBytes);
    const text = buf.toString('utf8');
    // Start at a whole line.
    return text.slice(text.indexOf('\n') + 1);
  } finally {
    closeSync(fd);
  }
}
