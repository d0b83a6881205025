import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNifti } from '../../../../main/io/nifti.js';
import { IDENTITY, type Volume } from '../../../../main/io/volume.js';
import { pretrainCommand } from '../../../../main/cli/commands/pretrain.js';
import { UsageError } from '../../../../main/cli/command.js';
import { pretrainConfig } from '../../../../main/ml/config.js';
import { describeExpectation, expectWindow, referenceStepSeconds } from '../../../../main/ml/pretrain/expectation.js';
import { readReadout } from '../../../../main/ml/pretrain/readout.js';
import { Rng } from '../../../../main/ml/augment/rng.js';
import { jsonLinesOf } from '../../../support/cli.js';

describe('what a window buys', () => {
  it('counts steps and epochs as the loop does (hand-computed)', () => {
    // The pool: 952 training slices, batch 8 → 119 steps per epoch; 8 h at 5.42 s/step:
    // 28800 / 5.42 = 5313.65 → 5313 steps = 44.65 epochs.
    const e = expectWindow({ secondsPerStep: 5.42, windowSeconds: 8 * 3600, trainSlices: 952, batch: 8 });
    expect(e.stepsPerEpoch).toBe(119);
    expect(e.steps).toBe(5313);
    expect(e.epochs).toBeCloseTo(5313 / 119, 12);
    expect(describeExpectation(e, 'one night', 'bench')).toBe('one night (8.0 h): about 5,313 steps, 44.6 epochs of 952 training slices, at 5.42 s/step (bench)');
    // Two workers (2.59 s/step): 28800 / 2.59 = 11119.7 → 11119 steps = 93.4 epochs.
    expect(expectWindow({ secondsPerStep: 2.59, windowSeconds: 28800, trainSlices: 952, batch: 8 }).steps).toBe(11119);
    // A batch larger than the pool: one step per epoch, as the loop caps the batch.
    expect(expectWindow({ secondsPerStep: 1, windowSeconds: 90, trainSlices: 5, batch: 8 })).toMatchObject({ steps: 90, stepsPerEpoch: 1, epochs: 90 });
    expect(() => expectWindow({ secondsPerStep: 0, windowSeconds: 10, trainSlices: 5, batch: 2 })).toThrow(/step time/);
  });

  it('takes the bench reference for the compact U-Net only, scaled by batch and pixels', () => {
    expect(referenceStepSeconds(pretrainConfig('compact'))).toBeCloseTo(5.42, 12);
    expect(referenceStepSeconds(pretrainConfig('compact'), 2)).toBeCloseTo(2.59, 12);
    // Batch 4 at 64²: 5.42 · 0.5 · 0.25.
    expect(referenceStepSeconds(pretrainConfig('compact', { train: { batch: 4 }, preprocess: { size: 64 } }))).toBeCloseTo(0.6775, 12);
    expect(referenceStepSeconds(pretrainConfig('paper'))).toBeNull();
  });
});

/** Runs the command, returning exit code and the JSON lines it printed. */
const run = (argv: string[]) => jsonLinesOf(() => pretrainCommand.run(argv));

describe('pix2rep pretrain --readout', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'p2r-readout-cli-'));
    // Two "patients" of one 16×16×3 volume at 1.5 mm with a label map: a disc (1) in a ring (2).
    const rng = new Rng(4);
    for (const patient of ['patA', 'patB']) {
      await mkdir(join(dir, 'data', patient), { recursive: true });
      const img = new Int16Array(16 * 16 * 3);
      const lab = new Uint8Array(16 * 16 * 3);
      for (let k = 0; k < 3; k++) {
        const cx = rng.uniform(6, 10);
        const cy = rng.uniform(6, 10);
        const r = rng.uniform(2.5, 3.5);
        for (let y = 0; y < 16; y++)
          for (let x = 0; x < 16; x++) {
            const d = Math.hypot(x - cx, y - cy);
            const c = d < r ? 1 : d < r * 1.6 ? 2 : 0;
            lab[k * 256 + y * 16 + x] = c;
            img[k * 256 + y * 16 + x] = c === 1 ? 900 : c === 2 ? 450 : 100 + ((x * 7 + y * 3) % 50);
          }
      }
      const geo = { dims: [16, 16, 3] as [number, number, number], frames: 1, spacing: [1.5, 1.5, 8] as [number, number, number], origin: [0, 0, 0] as [number, number, number], direction: [...IDENTITY] as Volume['direction'] };
      await writeNifti(join(dir, 'data', patient, `${patient}.nii.gz`), { ...geo, data: img });
      await writeNifti(join(dir, 'data', patient, `${patient}_gt.nii.gz`), { ...geo, data: lab });
    }
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says what a night buys before starting, then measures; reports and stores the readout', async () => {
    const out = join(dir, 'model');
    const data = join(dir, 'data');
    const a = await run(['--data', data, '--size', '16', '--batch', '2', '--json', '--out', out, '--steps', '5', '--readout', data, '--readout-every', '2', '--readout-steps', '2']);
    expect(a.code).toBe(0);
    const exp = a.lines.filter((l) => l.event === 'expectation');
    expect(exp.map((l) => l.source)).toEqual(['bench reference, docs/PERFORMANCE.md', 'measured on this run']);
    // 6 slices, held out by a hash of each slice id ("patA/patA.nii.gz/k1/t0"; no part of the temporary folder):
    // one held out (none falls under 10%, so the lowest hash), 5 training slices; batch 2 → 2 whole steps per epoch.
    // reference 5.42 s · (2/8) · (16²/128²) = 0.021171875 s; one night 22:00–07:00 = 32400 s / that = 1530332.1 → 1530332 steps.
    expect(exp[0]).toMatchObject({ window: 'one night on this CPU', secondsPerStep: 0.021171875, steps: 1530332, stepsPerEpoch: 2, secondsForSteps: 5 * 0.021171875 });
    expect(exp[0]!.trainSlices).toBe(5);
    expect(exp[1]!.secondsPerStep as number).toBeGreaterThan(0);
    // The first expectation comes before any step.
    expect(a.lines.findIndex((l) => l.event === 'expectation')).toBeLessThan(a.lines.findIndex((l) => l.event === 'step'));
    const readouts = a.lines.filter((l) => l.event === 'readout') as Array<{ step: number; dice: Record<string, number>; mean: number }>;
    expect(readouts.map((r) => r.step)).toEqual([0, 2, 4, 5]);
    for (const r of readouts) {
      expect(Object.keys(r.dice)).toEqual(['label 1', 'label 2']);
      for (const v of Object.values(r.dice)) expect(v >= 0 && v <= 1).toBe(true);
    }
    const rec = readReadout(out)!;
    expect(rec.points.map((p) => p.mean)).toEqual(readouts.map((r) => r.mean));
    expect(rec.description).toBe('linear probe trained on patA, scored on patB');
    expect(rec.labeledSlices).toBe(3);
    expect(rec.validationSlices).toBe(3);
  });

  it('refuses readout options without --readout, and a folder without label maps', async () => {
    await expect(pretrainCommand.run(['--readout-every', '5'])).rejects.toThrow(UsageError);
    await expect(pretrainCommand.run(['--data', join(dir, 'data'), '--size', '16', '--batch', '2', '--steps', '1', '--out', join(dir, 'm2'), '--readout', join(dir, 'model')])).rejects.toThrow(
      /--readout: .*at least two images with a _gt label map/,
    );
  });
});
