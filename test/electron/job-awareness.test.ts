/** The shell's reactions to job.state events (keep-awake and end-of-job notifications), tested in Node. */
import { describe, expect, it } from 'vitest';
import { JobAwareness, type JobStateLike } from '../../electron/job-awareness.js';

const job = (id: string, status: string, extra: Partial<JobStateLike> = {}): JobStateLike => ({ id, kind: 'pretrain', name: '', status, step: 0, error: null, ...extra });
const state = (j: JobStateLike) => JSON.stringify({ event: 'job.state', data: { job: j } });

describe('job awareness', () => {
  it('holds the machine awake from the first running job until none runs', () => {
    const a = new JobAwareness();
    expect(a.onEvent(state(job('a', 'queued')))).toEqual([]);
    expect(a.onEvent(state(job('a', 'running')))).toEqual([{ type: 'keepAwake', on: true }]);
    // A second job (an import beside a pretraining) does not start a second blocker.
    expect(a.onEvent(state(job('b', 'running', { kind: 'import' })))).toEqual([]);
    expect(a.runningJobs).toBe(2);
    // Repeated "running" events (progress re-announced) change nothing.
    expect(a.onEvent(state(job('a', 'running')))).toEqual([]);
    expect(a.onEvent(state(job('b', 'done', { kind: 'import', name: 'ACDC folder' })))).toEqual([
      { type: 'notify', jobId: 'b', status: 'done', title: 'Import finished', body: '"ACDC folder" finished.' },
    ]);
    // A pause releases the machine (nothing runs) but is no end: no notification.
    expect(a.onEvent(state(job('a', 'paused', { step: 40 })))).toEqual([{ type: 'keepAwake', on: false }]);
    expect(a.onEvent(state(job('a', 'running', { step: 40 })))).toEqual([{ type: 'keepAwake', on: true }]);
    expect(a.onEvent(state(job('a', 'done', { step: 500, name: 'night run' })))).toEqual([
      { type: 'keepAwake', on: false },
      { type: 'notify', jobId: 'a', status: 'done', title: 'Pretraining finished', body: '"night run" finished after 500 steps.' },
    ]);
    expect(a.runningJobs).toBe(0);
  });

  it('says why a job failed, in its own words, clipped to a notification', () => {
    const a = new JobAwareness();
    a.onEvent(state(job('t', 'running', { kind: 'train' })));
    const [off, note] = a.onEvent(state(job('t', 'failed', { kind: 'train', error: 'no annotated slices in the workspace: draw or import annotations first' })));
    expect(off).toEqual({ type: 'keepAwake', on: false });
    expect(note).toEqual({
      type: 'notify',
      jobId: 't',
      status: 'failed',
      title: 'Training failed',
      body: 'Training job t failed: no annotated slices in the workspace: draw or import annotations first',
    });
    const long = a.onEvent(state(job('p', 'failed', { kind: 'predict', error: 'x'.repeat(1000) })));
    expect(long).toHaveLength(1);
    const body = (long[0] as { body: string }).body;
    expect(body.length).toBe(240);
    expect(body.endsWith('…')).toBe(true);
    expect(a.onEvent(state(job('q', 'failed', { kind: 'mystery' })))[0]).toMatchObject({ title: 'Job failed', body: 'Job job q failed: no reason was given' });
  });

  it('notifies a cancel only for a job that was running, and never twice', () => {
    const a = new JobAwareness();
    a.onEvent(state(job('q', 'queued')));
    expect(a.onEvent(state(job('q', 'cancelled')))).toEqual([]);
    a.onEvent(state(job('r', 'running', { kind: 'predict' })));
    expect(a.onEvent(state(job('r', 'cancelled', { kind: 'predict', step: 3 })))).toEqual([
      { type: 'keepAwake', on: false },
      { type: 'notify', jobId: 'r', status: 'cancelled', title: 'Segmentation cancelled', body: 'Segmentation job r was cancelled at step 3.' },
    ]);
    expect(a.onEvent(state(job('r', 'cancelled', { kind: 'predict', step: 3 })))).toEqual([]);
  });

  it('lets go when the engine restarts (its jobs are interrupted; it re-announces the ones it resumes)', () => {
    const a = new JobAwareness();
    a.onEvent(state(job('a', 'running')));
    expect(a.onEvent(JSON.stringify({ event: 'engine.ready', data: { workspace: '/w', restarted: true } }))).toEqual([{ type: 'keepAwake', on: false }]);
    expect(a.onEvent(JSON.stringify({ event: 'engine.ready', data: { workspace: '/w', restarted: true } }))).toEqual([]);
    expect(a.onEvent(state(job('a', 'running')))).toEqual([{ type: 'keepAwake', on: true }]);
    expect(a.reset()).toEqual([{ type: 'keepAwake', on: false }]);
  });

  it('ignores other events and malformed envelopes', () => {
    const a = new JobAwareness();
    expect(a.onEvent(JSON.stringify({ event: 'job.progress', data: { jobId: 'a', step: 1 } }))).toEqual([]);
    expect(a.onEvent('{not json')).toEqual([]);
    expect(a.onEvent('null')).toEqual([]);
    expect(a.onEvent(JSON.stringify({ event: 'job.state', data: { job: { id: 'a' } } }))).toEqual([]);
    expect(a.onEvent({ event: 'job.state', data: { job: job('z', 'running') } })).toEqual([{ type: 'keepAwake', on: true }]);
  });
});
