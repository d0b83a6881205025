import { tf } from '../../../main/ml/tf.js';
import '@tensorflow/tfjs-backend-cpu';

/** The pure-JS backend: exact and always present; fine for the tiny tensors of these tests (never for training). */
export async function useCpu(): Promise<typeof tf> {
  await tf.setBackend('cpu');
  await tf.ready();
  return tf;
}

export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return a;
}
