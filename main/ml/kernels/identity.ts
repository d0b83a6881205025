import * as tf from '@tensorflow/tfjs-core';

/**
 * Identity that shares the input's buffer (one more reference) instead of copying it, as tfjs's cpu backend
 * does. tfjs-wasm 4.22 copies, and tfjs runs Identity for every tensor it saves for the backward pass (the
 * engine clones them), which is ~500 full copies per U-Net training step. Sharing is safe because kernels
 * never write into their inputs and Variable.assign swaps buffers instead of overwriting them; the backend's
 * reference count frees the buffer when the last tensor using it goes.
 */
export function sharedIdentityKernel(backendName: string): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = ({ inputs, backend }) => {
    const { x } = inputs as unknown as { x: tf.TensorInfo };
    (backend as tf.KernelBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  return { kernelName: tf.Identity, backendName, kernelFunc };
}
