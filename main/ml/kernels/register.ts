import * as tf from '@tensorflow/tfjs-core';
import { convGradientKernels } from './convGrads.js';
import { unsortedSegmentSumKernel } from './segmentSum.js';
import { sharedIdentityKernel } from './identity.js';
import { leadingAxisReductionKernels } from './reductions.js';
import { splitVKernel } from './split.js';

/** Kernel configs as tfjs shipped them, before we replaced any: our replacements fall back to them. */
const stockKernels = new Map<string, tf.KernelConfig>();
/** The kernel functions we installed, to recognise our own registrations. */
const installed = new Map<string, tf.KernelFunc>();

const key = (kernelName: string, backendName: string) => `${backendName}/${kernelName}`;

function stockKernel(kernelName: string, backendName: string): tf.KernelConfig | undefined {
  const k = key(kernelName, backendName);
  if (!stockKernels.has(k)) {
    const current = tf.getKernel(kernelName, backendName);
    if (current && installed.get(k) !== current.kernelFunc) stockKernels.set(k, current);
  }
  return stockKernels.get(k);
}

/** The kernels we add to (or replace in) tfjs-backend-wasm 4.22 so that it trains a U-Net, and faster. */
export function wasmTrainingKernels(): tf.KernelConfig[] {
  return [
    ...convGradientKernels('wasm'),
    unsortedSegmentSumKernel('wasm'),
    sharedIdentityKernel('wasm'),
    ...leadingAxisReductionKernels('wasm', (name) => stockKernel(name, 'wasm')),
    splitVKernel('wasm'),
  ];
}

/**
 * Registers our kernels, replacing a stock kernel of the same name (kept for fallbacks; tfjs alone would
 * warn and overwrite). Idempotent: kernels already ours are left alone. Returns the names registered now.
 */
export function registerKernels(configs: tf.KernelConfig[]): string[] {
  const done: string[] = [];
  for (const config of configs) {
    const k = key(config.kernelName, config.backendName);
    const current = tf.getKernel(config.kernelName, config.backendName);
    if (current && installed.get(k) === current.kernelFunc) continue;
    if (current) {
      stockKernel(config.kernelName, config.backendName);
      tf.unregisterKernel(config.kernelName, config.backendName);
    }
    tf.registerKernel(config);
    installed.set(k, config.kernelFunc);
    done.push(config.kernelName);
  }
  return done;
}

/** Registers the wasm training kernels; safe to call any number of times, before or after the backend starts. */
export function registerWasmTrainingKernels(): string[] {
  return registerKernels(wasmTrainingKernels());
}
