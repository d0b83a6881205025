import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunnerOptions } from './runner.js';

/** File name of the compiled worker that scripts/build-electron.mjs writes next to the engine bundle. */
export const BUNDLED_WORKER = 'job-worker.js';

/**
 * How the runner of a host module starts its workers. From the sources (a .ts module run through tsx) the
 * runner's default, worker-boot.mjs, applies. From a bundle (a .js module: the packaged app, where tsx and the
 * sources are absent) the compiled worker beside the bundle; inside Electron the fork starts Electron's own
 * binary, which must be told to behave as plain Node.
 */
export function workerForHost(hostModuleUrl: string, versions: { readonly electron?: string | undefined } = process.versions): Pick<RunnerOptions, 'workerEntry' | 'workerEnv'> {
  const file = fileURLToPath(hostModuleUrl);
  if (!file.endsWith('.js')) return {};
  const entry = join(dirname(file), BUNDLED_WORKER);
  if (!existsSync(entry)) throw new Error(`the job worker ${entry} is missing from this build (run npm run build:electron)`);
  return { workerEntry: entry, ...(versions.electron ? { workerEnv: { ELECTRON_RUN_AS_NODE: '1' } } : {}) };
}
