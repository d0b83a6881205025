import { describe, expect, it } from 'vitest';
import { pretrainConfig } from '../../../../main/ml/config.js';
import { MEASURED_GAIN, measuredGainText, signedDice } from '../../../../main/ml/pretrain/measured-gain.js';

/**
 * The measured gain of fine-tuning from a pretrained backbone over an untrained start (docs/EVALUATION.md,
 * Issue 10, "Downstream length, fine-tuning's rate, pretraining length, and a control"), said for a planned run.
 */
const v1 = pretrainConfig('compact', { loss: { method: 'pix2rep' } });

// The sentence's shared tail, and each measured point's numbers as the sentence gives them.
const TAIL = 'no clear gain in segmentation at that length; the linear-probe readout measures what the backbone itself learns.';
const AT_900 =
  'fine-tuning for 600 steps at one labeled patient scored +0.005 mean Dice over an untrained start (3 seeds: −0.021, +0.038, −0.001; ' +
  `single runs differ by up to 0.4 between seeds): ${TAIL}`;
const AT_2780 =
  'fine-tuning for 600 steps at one labeled patient scored +0.017 mean Dice over an untrained start (3 seeds: +0.146, −0.033, −0.061; ' +
  `single runs differ by up to 0.4 between seeds): ${TAIL}`;

describe('measured gain of pretraining for fine-tuning', () => {
  it('holds the table: fine-tune minus the untrained control, paired by seed, and their mean', () => {
    // Fine-tune at 1e-3 from the 900-step backbone 0.381, 0.535, 0.579; from the 2,780-step one 0.548, 0.464,
    // 0.519; from the 1-step control 0.402, 0.497, 0.580. 0.381 − 0.402 = −0.021, 0.535 − 0.497 = +0.038,
    // 0.579 − 0.580 = −0.001 (mean 0.016 / 3 = 0.0053); 0.548 − 0.402 = +0.146, 0.464 − 0.497 = −0.033,
    // 0.519 − 0.580 = −0.061 (mean 0.052 / 3 = 0.0173).
    expect(MEASURED_GAIN.points.map((p) => [p.pretrainSteps, p.workers, p.perSeed, p.mean])).toEqual([
      [900, 1, [-0.021, 0.038, -0.001], 0.005],
      [2780, 2, [0.146, -0.033, -0.061], 0.017],
    ]);
    for (const p of MEASURED_GAIN.points) expect(Math.abs(p.perSeed.reduce((a, b) => a + b, 0) / p.perSeed.length - p.mean)).toBeLessThan(0.0005);
    expect(MEASURED_GAIN.seedSpread).toBe(0.4);
  });

  it('signs and rounds to 3 decimals with the typographic minus', () => {
    expect([0.017, -0.061, 0.0004, -0.0004, 0.1456].map(signedDice)).toEqual(['+0.017', '−0.061', '0.000', '0.000', '+0.146']);
  });

  it('quotes the longest measured point not beyond the planned steps', () => {
    expect(measuredGainText(v1, 900)).toBe(`Measured on ACDC (docs/EVALUATION.md): after 900 pretraining steps with these settings, ${AT_900}`);
    expect(measuredGainText(v1, 2000)).toBe(
      `Measured on ACDC (docs/EVALUATION.md): after 900 pretraining steps with these settings (the longest measured length within this run's 2,000), ${AT_900}`,
    );
    expect(measuredGainText(v1, 2780)).toBe(`Measured on ACDC (docs/EVALUATION.md): after 2,780 pretraining steps with these settings, ${AT_2780}`);
  });

  it('says when the run is shorter or longer than anything measured', () => {
    expect(measuredGainText(v1, 500)).toBe(
      `Measured on ACDC (docs/EVALUATION.md): this run's 500 steps are fewer than any measured; after 900 pretraining steps with these settings, the shortest measured, ${AT_900}`,
    );
    expect(measuredGainText(v1, 12000)).toBe(
      `Measured on ACDC (docs/EVALUATION.md): after 2,780 pretraining steps with these settings, the longest measured (longer runs, like this one's 12,000, are not measured yet), ${AT_2780}`,
    );
    // One step past the longest point is already beyond it.
    expect(measuredGainText(v1, 2781)).toMatch(/like this one's 2,781, are not measured yet/);
  });

  it('quotes the longest point when the planned length is not known', () => {
    const unknown = `Measured on ACDC (docs/EVALUATION.md): after 2,780 pretraining steps with these settings, the longest measured (this run's length is not known yet), ${AT_2780}`;
    expect(measuredGainText(v1, 0)).toBe(unknown);
    expect(measuredGainText(v1, Number.NaN)).toBe(unknown);
  });

  it('says nothing for a configuration that was not measured', () => {
    expect(measuredGainText(pretrainConfig('compact', { loss: { method: 'pix2rep-v2' } }), 2780)).toBeNull();
    expect(measuredGainText(pretrainConfig('paper', { loss: { method: 'pix2rep' } }), 2780)).toBeNull();
    expect(measuredGainText(pretrainConfig('compact', { loss: { method: 'pix2rep' }, train: { batch: 16 } }), 2780)).toBeNull();
    expect(measuredGainText(pretrainConfig('compact', { loss: { method: 'pix2rep' }, preprocess: { size: 96 } }), 2780)).toBeNull();
    // The defaults written out are the measured configuration.
    expect(measuredGainText(pretrainConfig('compact', { loss: { method: 'pix2rep' }, train: { batch: 8 }, preprocess: { size: 128 } }), 900)).not.toBeNull();
  });
});
