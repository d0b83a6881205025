import type { BackendName } from '../../contract/engine.js';
import type { LossConfig, ModelConfig, OptimizerConfig } from '../config.js';
import type { BatchViews, PixelPairs } from '../pretrain/step.js';

/** Named float32 tensors as plain arrays (structured-cloned or transferred between threads). */
export type NamedArrays = Array<[string, Float32Array]>;

export type ToWorker =
  | { type: 'init'; backend?: BackendName; model: ModelConfig; loss: LossConfig; optimizer: OptimizerConfig; tensors: NamedArrays; adam?: AdamState }
  /** microBatches: accumulate the shard's gradient over that many parts (a shard larger than one heap holds). */
  | { type: 'grad'; views: BatchViews; pairs: PixelPairs; microBatches?: number }
  | { type: 'apply'; grads: NamedArrays; stats: NamedArrays }
  | { type: 'weights' }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; backend: string }
  | { type: 'grad'; loss: number; pairs: number; grads: NamedArrays; stats: NamedArrays }
  | { type: 'applied' }
  | { type: 'weights'; tensors: NamedArrays }
  | { type: 'error'; message: string };

/** Adam's state by parameter name, so that workers can start from a resumed run's optimizer. */
export interface AdamState {
  step: number;
  m: NamedArrays;
  v: NamedArrays;
}
