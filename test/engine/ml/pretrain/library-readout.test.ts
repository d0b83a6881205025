import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../../../main/engine/create.js';
import type { Engine } from '../../../../main/engine/engine.js';
import { readNifti } from '../../../../main/io/nifti.js';
import { sliceOf } from '../../../../main/io/resample.js';
import { libraryReadout } from '../../../../main/ml/pretrain/readout-data.js';
import { dataPath, hasData } from '../../../support/data.js';

const PATIENTS = ['patient001', 'patient002'];
/** ED and ES of both patients (their Info.cfg: ED 1, ES 12). */
const FRAMES = ['frame01', 'frame12'];
const PRE = { spacingMm: 1.5, size: 128, clipPercentiles: [0.5, 99.5] as [number, number] };

/** Slices of a label map holding any label, counted here from the voxels. */
async function labeledSliceCount(path: string): Promise<number> {
  const v = await readNifti(path);
  let n = 0;
  for (let k = 0; k < v.dims[2]; k++) if (sliceOf(v, k, 0).some((x) => x !== 0)) n++;
  return n;
}

/**
 * The app's pretraining on real ACDC studies: two imported patients (ED and ES with their reference
 * segmentations) give a readout trained on one patient and scored on the other, with ACDC's structure names,
 * and ml.pretrainExpectation counts the pool's slices from the stored volumes.
 */
describe.skipIf(!hasData('acdc/training/patient002'))('library readout and expectation on ACDC', () => {
  let ws = '';
  let engine: Engine;
  beforeAll(async () => {
    ws = mkdtempSync(join(tmpdir(), 'p2r-libreadout-'));
    engine = createEngine({ workspace: ws });
    const report = await engine.call('library.import', { paths: PATIENTS.map((p) => dataPath('acdc', 'training', p)) });
    expect(report.volumesAdded).toBe(4);
  }, 120_000);
  afterAll(() => rmSync(ws, { recursive: true, force: true }));

  it('trains the probe on patient001 and scores it on patient002, with the structure names', async () => {
    const { options, reason } = await libraryReadout(ws, PRE, { every: 100, probeSteps: 60 });
    expect(reason).toBeNull();
    expect(options!.description).toBe('linear probe trained on patient001, scored on patient002');
    expect(options!.classes).toEqual([1, 2, 3]);
    expect(options!.names).toHaveLength(3);
    const gt = (p: string, f: string) => dataPath('acdc', 'training', p, `${p}_${f}_gt.nii.gz`);
    expect(options!.labeled).toHaveLength((await labeledSliceCount(gt('patient001', 'frame01'))) + (await labeledSliceCount(gt('patient001', 'frame12'))));
    expect(options!.validation).toHaveLength((await labeledSliceCount(gt('patient002', 'frame01'))) + (await labeledSliceCount(gt('patient002', 'frame12'))));
    for (const s of [...options!.labeled, ...options!.validation]) {
      expect(s.image).toHaveLength(128 * 128);
      expect(Math.max(...s.label)).toBeLessThanOrEqual(3);
    }
  }, 120_000);

  it('counts the pool: every slice of the four stored volumes', async () => {
    let slices = 0;
    for (const p of PATIENTS) for (const f of FRAMES) slices += (await readNifti(dataPath('acdc', 'training', p, `${p}_${f}.nii.gz`))).dims[2];
    const e = await engine.call('ml.pretrainExpectation', { budget: { kind: 'overnight' } });
    expect(e.volumes).toBe(4);
    expect(e.trainSlices + e.validationSlices).toBe(slices);
    expect(e.stepsPerEpoch).toBe(Math.floor(e.trainSlices / 8));
    // 32400 s / 5.42 s = 5977 steps a night.
    expect(e.steps).toBe(5977);
    expect(e.epochs).toBeCloseTo(5977 / e.stepsPerEpoch, 10);
    // No epoch limit: 200 epochs of the pool, in nights of 5977 steps.
    expect(e.nights).toBe(Math.ceil((200 * e.stepsPerEpoch) / 5977));
  }, 120_000);
});
