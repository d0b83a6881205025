import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
// Gradient definitions: tfjs-core's Node bundle has none (see ../tf.ts).
import '../tf.js';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { BackendName } from '../../contract/engine.js';
import { chooseBackend, probeBackend, type BackendChoice } from './probe.js';
import { registerWasmTrainingKernels } from '../kernels/register.js';

const require = createRequire(import.meta.url);

export type Tf = typeof tf;

export interface InitBackendOptions {
  /** Use this backend, overriding PIX2REP_BACKEND and the preference order. */
  backend?: BackendName;
  /** Environment read for PIX2REP_BACKEND (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface ActiveBackend {
  /** Our name of the backend (tensorflow-gpu and tensorflow are both tfjs's 'tensorflow'). */
  name: BackendName;
  /** The tfjs-core namespace with this backend active. */
  tf: Tf;
  /** Why this backend, in words (forced, first available, …). */
  reason: string;
  /** Kernels we registered on top of the backend (empty when it needs none). */
  kernels: string[];
}

/** tfjs's registry name for each of ours: tfjs-node and tfjs-node-gpu both register 'tensorflow'. */
const TFJS_NAME: Record<BackendName, string> = { 'tensorflow-gpu': 'tensorflow', tensorflow: 'tensorflow', wasm: 'wasm', cpu: 'cpu' };

/** Where the .wasm binaries are on disk: never fetched from a CDN (no network at run time). */
export function wasmDistDir(): string {
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + sep;
}

const loading = new Map<BackendName, Promise<string[]>>();
let wasmPathsSet = false;

function isStarted(tfjsName: string): boolean {
  return tfjsName in tf.engine().registry;
}

async function loadTfjsNode(name: 'tensorflow' | 'tensorflow-gpu'): Promise<void> {
  const pkg = probeBackend(name).package;
  // A computed specifier: these optional packages may be absent, and the compiler must not need their types.
  const specifier: string = pkg;
  try {
    await import(specifier);
  } catch (err) {
    throw new Error(`${pkg} is installed but failed to load: ${(err as Error).message}`);
  }
  if (!tf.findBackendFactory('tensorflow')) {
    throw new Error(`${pkg} loaded but registered no 'tensorflow' backend in this copy of @tensorflow/tfjs-core (a second copy of tfjs-core is installed under it)`);
  }
}

async function load(name: BackendName): Promise<string[]> {
  switch (name) {
    case 'tensorflow':
    case 'tensorflow-gpu':
      await loadTfjsNode(name);
      return [];
    case 'wasm':
      // Paths matter only before the module loads; if someone started wasm already, it found its binaries.
      // (The engine's registry is read directly: tf.findBackend would start the backend as a side effect.)
      if (!wasmPathsSet && !isStarted('wasm')) setWasmPaths(wasmDistDir());
      wasmPathsSet = true;
      // Before the backend starts, so that its first use already finds our kernels.
      return registerWasmTrainingKernels();
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      return [];
  }
}

function resolveChoice(opts: InitBackendOptions): { name: BackendName; reason: string } {
  if (opts.backend) {
    const probe = probeBackend(opts.backend);
    if (!probe.available) throw new Error(`backend ${opts.backend} was requested but ${probe.reason}`);
    return { name: opts.backend, reason: `requested by the caller` };
  }
  const choice: BackendChoice = chooseBackend(opts.env ?? process.env);
  if (!choice.selected) throw new Error(`no compute backend: ${choice.reason}`);
  return { name: choice.selected, reason: choice.reason };
}

/**
 * Loads tfjs-core with the chosen backend and makes it the active one: `opts.backend`, else PIX2REP_BACKEND,
 * else the first available of tfjs-node-gpu, tfjs-node, wasm. On wasm our training kernels are registered
 * before the backend's first use. Calling it again is cheap: each backend is loaded once; a call naming a
 * different backend switches to it (tests compare wasm against cpu this way).
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<ActiveBackend> {
  const { name, reason } = resolveChoice(opts);
  let pending = loading.get(name);
  if (!pending) {
    pending = load(name);
    loading.set(name, pending);
    pending.catch(() => loading.delete(name));
  }
  const kernels = await pending;
  const tfjsName = TFJS_NAME[name];
  if (tf.getBackend() !== tfjsName || !isStarted(tfjsName)) {
    const ok = await tf.setBackend(tfjsName);
    if (!ok) throw new Error(`backend ${name} failed to initialise (tfjs could not start '${tfjsName}')`);
  }
  await tf.ready();
  return { name, tf, reason, kernels };
}
