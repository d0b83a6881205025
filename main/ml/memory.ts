import { tf } from './tf.js';
import type { UNetConfig } from './config.js';
import { levelChannels } from './unet.js';

/**
 * How much memory a training step needs, and how many images one engine instance can hold.
 *
 * The wasm backend keeps every tensor in one WebAssembly memory, which wasm32 caps at 4 GiB − 64 KiB (the
 * heap maximum of the tfjs-backend-wasm build). A training step holds every activation the backward pass
 * needs, so its memory grows linearly with the images of the batch; past the cap the step dies with an
 * out-of-memory abort. Native backends (tfjs-node) have no such cap. Batches larger than an instance holds are
 * split into micro-batches whose gradients are accumulated before the update (see microBatchGrads).
 */

/** The tfjs-backend-wasm heap maximum (emscripten's getHeapMax of its build). */
export const WASM_HEAP_MAX_BYTES = 4294901760;

/**
 * The share of the heap a step may plan to use: the allocator fragments, and the heap also holds the weights,
 * Adam's moments, the inputs and the backend's scratch space.
 */
export const WASM_HEAP_BUDGET = 0.8;

/**
 * Bytes of live tensors per "activation set" of one image at peak, where an activation set is one float32 per
 * channel of every level at that level's resolution (Σ_l c_l · (S/2^l)²). Measured with tf.profile's
 * peakBytes on the wasm backend for the U-Net's forward + backward (training-mode BatchNorm, closed-form
 * gradient): 150.0, 294.5, 583.3 and 3472 MB at batch 1, 2, 4 and 24 for the compact net at 128² (one
 * activation set: 1.875 MB), i.e. 77.2 sets per image, rounded up.
 */
export const ACTIVATION_SETS_PER_IMAGE = 80;

/** Floats of one activation set: one value per channel of every level at its resolution. */
export function activationSet(u: Pick<UNetConfig, 'levels' | 'base'>, size: number): number {
  return levelChannels(u as UNetConfig).reduce((sum, c, l) => sum + c * (size / 2 ** l) ** 2, 0);
}

/**
 * Estimated peak bytes of one image's backbone passes in a training step (`branches`: how many times each image
 * goes through the backbone; Pix2Rep runs both augmented views, 2).
 */
export function stepBytesPerImage(u: Pick<UNetConfig, 'levels' | 'base'>, size: number, branches = 1): number {
  return ACTIVATION_SETS_PER_IMAGE * 4 * activationSet(u, size) * branches;
}

/** Bytes of the active wasm backend's heap now (it grows, never shrinks: its peak); null on other backends. */
export function wasmHeapBytes(): number | null {
  if (tf.getBackend() !== 'wasm') return null;
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8;
  return heap ? heap.buffer.byteLength : null;
}

/**
 * The most images one engine instance on `backend` should put through the backbone at once, or Infinity
 * where no heap cap applies (native backends). Throws a plain error when not even one image fits.
 */
export function maxImagesPerInstance(backend: string, u: Pick<UNetConfig, 'levels' | 'base'>, size: number, branches = 1): number {
  if (backend !== 'wasm') return Infinity;
  const per = stepBytesPerImage(u, size, branches);
  const budget = WASM_HEAP_MAX_BYTES * WASM_HEAP_BUDGET;
  const n = Math.floor(budget / per);
  if (n < 1) {
    const gb = (b: number) => (b / 1e9).toFixed(1);
    throw new Error(
      `one ${size}×${size} image needs about ${gb(per)} GB of activations in a training step (U-Net ${levelChannels(u as UNetConfig).join('-')}), ` +
        `more than the ${gb(budget)} GB one wasm instance can use (wasm32 caps its heap at 4 GB): use a smaller --size or preset, or a native backend (tfjs-node)`,
    );
  }
  return n;
}

/** Near-equal micro-batch sizes (differing by at most one) for `images` with at most `max` each. */
export function microBatchSizes(images: number, max: number): number[] {
  if (!Number.isInteger(images) || images < 1) throw new Error(`cannot split ${images} images into micro-batches`);
  if (!(max >= 1)) throw new Error(`micro-batch size must be at least 1, got ${max}`);
  const parts = Math.ceil(images / Math.floor(Math.min(max, images)));
  return Array.from({ length: parts }, (_, i) => Math.floor(images / parts) + (i < images % parts ? 1 : 0));
}

/**
 * The wasm runtime dies of an exhausted heap with a bare "Aborted()"; say what it means. Other errors pass
 * through unchanged. The instance is unusable afterwards (emscripten aborts do not unwind).
 */
export function explainAbort(err: unknown, images: number, size: number): unknown {
  if (!(err instanceof Error) || !/^Aborted\(/.test(err.message)) return err;
  return new Error(
    `the wasm backend ran out of memory (its heap is capped at 4 GB) on a pass of ${images} images of ${size}×${size}: ` +
      `use fewer images per pass (--micro-batch, or a smaller --batch) or a native backend (tfjs-node). (${err.message})`,
    { cause: err },
  );
}
