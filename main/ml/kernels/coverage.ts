import * as tf from '@tensorflow/tfjs-core';

/**
 * Kernel names that `f` runs (forward and backward, when it computes gradients) on the current backend, in
 * the order first seen. Run it on the complete reference backend (`cpu`) to learn what a computation needs.
 */
export async function kernelsUsedBy(f: () => tf.TensorContainer): Promise<string[]> {
  const info = await tf.profile(() => {
    const out = f();
    // profile keeps the result alive; nothing of it is needed here.
    return out;
  });
  tf.dispose(info.result as tf.TensorContainer);
  return info.kernelNames;
}

/**
 * Of `kernelNames`, those that `reference` implements and `backendName` does not. Names that are no kernel
 * anywhere (tf.profile also lists custom-gradient scopes such as `logSoftmax__op`) are left out.
 */
export function missingKernels(kernelNames: Iterable<string>, backendName: string, reference = 'cpu'): string[] {
  return [...new Set(kernelNames)].filter((name) => tf.getKernel(name, reference) && !tf.getKernel(name, backendName));
}
