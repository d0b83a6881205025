import type { PretrainConfig } from '../config.js';

/**
 * What makes two runs' step times, readouts and measured gains comparable: the network, the loss, the input and
 * the batch. Its own module so that plan-expectation.ts and measured-gain.ts share one definition without
 * importing each other.
 */
export function comparableKey(cfg: PretrainConfig): string {
  return JSON.stringify([cfg.loss.method, cfg.loss.samples, cfg.model.unet, cfg.model.head, cfg.preprocess.size, cfg.preprocess.spacingMm, cfg.train.batch]);
}
