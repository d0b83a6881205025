import { describe, expect, it } from 'vitest';
import { pretrainConfig } from '../../../../main/ml/config.js';
import { BUDGETS, budgetRecipeText, READOUT_PLANS } from '../../../../main/ml/experiment/budgets.js';
import { downstreamSchedule } from '../../../../main/ml/experiment/levers.js';
import { NIGHT_SECONDS, referenceStepSeconds } from '../../../../main/ml/pretrain/expectation.js';

describe('the night budget', () => {
  const night = BUDGETS.night;

  it('pretrains v1 on both cores for what one night holds at the reference step time', () => {
    const cfg = pretrainConfig('compact', { model: night.model, preprocess: night.preprocess, train: { batch: night.pretrainBatch } });
    const secondsPerStep = referenceStepSeconds(cfg, night.pretrainWorkers)!;
    expect(secondsPerStep).toBe(2.59);
    // 12,000 × 2.59 s = 31,080 s ≤ 32,400 s (22:00–07:00); 13,000 steps would not fit.
    expect(night.pretrainSteps * secondsPerStep).toBe(31080);
    expect(night.pretrainSteps * secondsPerStep).toBeLessThanOrEqual(NIGHT_SECONDS);
    expect(night.pretrainMethods).toEqual(['pix2rep']);
    // Readouts every 1,000 steps with 2h's probe length, so both budgets' curves compare point for point.
    expect(READOUT_PLANS.night).toEqual({ every: 1000, probeSteps: READOUT_PLANS['2h']!.probeSteps });
  });

  it('trains downstream at the measured length', () => {
    expect(downstreamSchedule(night, {})).toEqual({ steps: 600, validateEvery: 100, patience: 4 });
  });

  it('says its recipe in the report; budgets without one carry none of its keys, so their cached runs keep their keys', () => {
    expect(budgetRecipeText(night)).toBe(' Recipe: pretraining pix2rep only, on 2 data-parallel workers.');
    for (const name of ['smoke', '2h', 'paper'] as const) {
      expect(budgetRecipeText(BUDGETS[name])).toBe('');
      for (const key of ['pretrainMethods', 'pretrainWorkers']) expect(Object.keys(BUDGETS[name])).not.toContain(key);
    }
  });
});
