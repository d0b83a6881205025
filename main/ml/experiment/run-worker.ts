import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../backends/init.js';
import { EngineFailure } from '../../engine/errors.js';
import { RunData, trainAndScore } from './run.js';
import type { FromRunWorker, RunWorkerData, ToRunWorker } from './run-workers.js';

/**
 * A thread that trains and scores the experiment's downstream runs one at a time, with its own tfjs/wasm
 * instance (tfjs disables wasm threads in Node: a second core only works through a second instance). It
 * loads the slices and volumes itself from the paths it was started with and keeps them for its next runs.
 * Cancelling is the parent terminating the thread.
 */

const port = parentPort;
if (!port) throw new Error('experiment/run-worker.ts must run in a worker thread');
const { inputs, backend } = workerData as RunWorkerData;
const ready = initBackend(backend ? { backend } : {});
const data = new RunData(inputs);

port.on('message', (msg: ToRunWorker) => {
  ready
    .then(() => trainAndScore(msg.spec, data))
    .then(
      (result) => port.postMessage({ type: 'result', result } satisfies FromRunWorker),
      (err: unknown) =>
        port.postMessage({
          type: 'error',
          message: err instanceof Error ? err.message : String(err),
          ...(err instanceof EngineFailure ? { code: err.code } : {}),
          ...(err instanceof Error && err.stack ? { stack: err.stack } : {}),
        } satisfies FromRunWorker),
    );
});
