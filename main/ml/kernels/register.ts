import * as tf from '@tensorflow/tfjs-core';
import { convGradientKernels } from './convGrads.js';
import { unsortedSegmentSumKernel } from './segmentSum.js';
import { sharedIdentityKernel } from './identity.js';

/** The kernels we add to (or replace in) tfjs-backend-wasm 4.22 so that it can train a U-Net. */
export function wasmTrainingKernels(): tf.KernelConfig[] {
  return [...convGradientKernels('wasm'), unsortedSegmentSumKernel('wasm'), sharedIdentityKernel('wasm')];
}

const installed = new Map<string, tf.KernelFunc>();

/**
 * Registers our kernels for `backendName`, replacing a stock kernel of the same name (tfjs would only warn
 * and overwrite; unregistering first keeps the log clean). Idempotent: a second call changes nothing.
 * Returns the names of the kernels this call registered.
 */
export function registerKernels(configs: tf.KernelConfig[]): string[] {
  const done: string[] = [];
  for (const config of configs) {
    const key = `${config.backendName}/${config.kernelName}`;
    const current = tf.getKernel(config.kernelName, config.backendName);
    if (current && installed.get(key) === current.kernelFunc) continue;
    if (current) tf.unregisterKernel(config.kernelName, config.backendName);
    tf.registerKernel(config);
    installed.set(key, config.kernelFunc);
    done.push(config.kernelName);
  }
  return done;
}

/** Registers the wasm training kernels; safe to call any number of times, before or after the backend starts. */
export function registerWasmTrainingKernels(): string[] {
  return registerKernels(wasmTrainingKernels());
}
