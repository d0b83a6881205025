import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { BackendName, BackendProbe } from '../../contract/engine.js';

const require = createRequire(import.meta.url);

/** Order of preference when nothing is forced: CUDA, then libtensorflow CPU, then WebAssembly. */
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm'];

const PACKAGES: Record<BackendName, string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
};

function packageDir(pkg: string): string | null {
  try {
    return dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    return null;
  }
}

/**
 * Cheap availability check that loads nothing native: the package resolves and, for tfjs-node(-gpu),
 * its compiled binding and libtensorflow were installed (their postinstall downloads them; offline it fails
 * and npm drops the optional package, or leaves it without a binding).
 */
export function probeBackend(name: BackendName): BackendProbe {
  const pkg = PACKAGES[name];
  const dir = packageDir(pkg);
  if (!dir) return { name, package: pkg, available: false, reason: `${pkg} is not installed` };
  if (name === 'tensorflow' || name === 'tensorflow-gpu') {
    const binding = join(dir, 'lib', 'napi-v8', 'tfjs_binding.node');
    if (!existsSync(binding)) {
      return { name, package: pkg, available: false, reason: `${pkg} is installed without its native binding (libtensorflow download failed at install)` };
    }
    if (name === 'tensorflow-gpu' && process.platform === 'darwin') {
      return { name, package: pkg, available: false, reason: 'CUDA builds exist only for Linux and Windows x64' };
    }
  }
  const note = name === 'cpu' ? 'pure JavaScript: ~100x slower than wasm, never used for training' : undefined;
  return { name, package: pkg, available: true, ...(note ? { reason: note } : {}) };
}

export interface BackendChoice {
  selected: BackendName | null;
  reason: string;
  probes: BackendProbe[];
}

/** The backend to use: `PIX2REP_BACKEND` when set and available, else the first available in BACKEND_ORDER. */
export function chooseBackend(env: NodeJS.ProcessEnv = process.env): BackendChoice {
  const probes = (['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const).map(probeBackend);
  const forced = env.PIX2REP_BACKEND?.trim();
  if (forced) {
    const p = probes.find((x) => x.name === forced);
    if (!p) return { selected: null, reason: `PIX2REP_BACKEND=${forced} is not one of ${probes.map((x) => x.name).join(', ')}`, probes };
    if (!p.available) return { selected: null, reason: `PIX2REP_BACKEND=${forced} but ${p.reason}`, probes };
    return { selected: p.name, reason: `forced by PIX2REP_BACKEND=${forced}`, probes };
  }
  for (const name of BACKEND_ORDER) {
    const p = probes.find((x) => x.name === name)!;
    if (p.available) return { selected: name, reason: `first available of ${BACKEND_ORDER.join(' > ')}`, probes };
  }
  return { selected: null, reason: 'no training backend is installed (npm install should have installed @tensorflow/tfjs-backend-wasm)', probes };
}
