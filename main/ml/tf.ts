/**
 * The tfjs-core entry point of the ML code: the core ops plus their gradients.
 *
 * `@tensorflow/tfjs-core`'s Node bundle ships ops without gradient definitions (the `@tensorflow/tfjs` union
 * package adds them, but it also drags in tfjs-layers, which we do not use). The gradients exist in the core
 * package as ES modules whose relative imports omit the `.js` extension, which Node's ESM loader refuses; a
 * resolve hook scoped to that directory adds it. Registries and the engine live on globalThis, so gradients
 * registered by that module copy serve tensors of the main bundle.
 */
import { register } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';

const HOOK = `
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    const parent = context.parentURL ?? '';
    if (parent.includes('/@tensorflow/tfjs-core/dist/') && (specifier.startsWith('./') || specifier.startsWith('../')) && !specifier.endsWith('.js')) {
      return next(specifier + '.js', context);
    }
    throw err;
  }
}`;

async function registerGradients(): Promise<void> {
  if (tf.getGradient('RealDiv')) return;
  register(`data:text/javascript,${encodeURIComponent(HOOK)}`);
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  if (!tf.getGradient('RealDiv')) throw new Error('tfjs-core gradients could not be registered');
}

await registerGradients();

export { tf };
