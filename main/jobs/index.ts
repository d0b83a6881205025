import type { Engine } from '../engine/engine.js';
import { jobHandlers } from './handlers.js';
import { JobRunner, type RunnerOptions } from './runner.js';

export { JobRunner, type RunnerOptions, type RunnerEvent } from './runner.js';
export { jobHandlers } from './handlers.js';
export { JobStore } from './store.js';
export { enqueueJob } from './enqueue.js';
export { ManualClock, systemClock, type Clock } from './clock.js';
export { RunnerLockedError, lockOwner } from './lock.js';

/**
 * Start the workspace's job runner inside an engine host (the app's engine process, `pix2rep serve`), relaying
 * its events to the engine's listeners. Returns null when another process already runs the jobs.
 */
export async function attachRunner(engine: Engine, opts: Omit<RunnerOptions, 'onEvent'>): Promise<JobRunner | null> {
  const runner = new JobRunner({ ...opts, onEvent: (e) => engine.emit(e.event, e.data as never) });
  try {
    await runner.start();
  } catch (err) {
    if ((err as Error).name === 'RunnerLockedError') return null;
    throw err;
  }
  // Same handlers, but a change made through this engine reaches the runner at once instead of at its next poll.
  engine.register(jobHandlers(opts.workspace, { onChange: () => runner.poke() }));
  return runner;
}
