import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IDENTITY, type Volume } from '../../../main/io/volume.js';
import { checkSameGrid, evaluateLabels, presentLabels, summarize } from '../../../main/ml/metrics/evaluate.js';
import { pairFolders, pairNames } from '../../../main/ml/metrics/pairing.js';
import { buildReport, reportJson, reportTable } from '../../../main/ml/metrics/report.js';

function labels(dims: [number, number, number], frames: number, fill: (i: number, j: number, k: number, t: number) => number): Volume {
  const data = new Uint8Array(dims[0] * dims[1] * dims[2] * frames);
  let p = 0;
  for (let t = 0; t < frames; t++) for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++) data[p++] = fill(i, j, k, t);
  return { dims, frames, spacing: [2, 2, 5], origin: [0, 0, 0], direction: [...IDENTITY], data };
}

const STRUCTURES = [
  { label: 1, name: 'RV' },
  { label: 2, name: 'MYO' },
  { label: 3, name: 'LV' },
];

describe('evaluateLabels', () => {
  it('gives Dice, HD95 and volumes per structure, frame by frame', () => {
    // Reference: RV at i=0..1, LV at i=4..5 of a 6x2x2 grid (8 voxels of 20 mm³ each); MYO absent.
    const ref = labels([6, 2, 2], 2, (i) => (i < 2 ? 1 : i >= 4 ? 3 : 0));
    // Prediction: frame 0 identical; frame 1 has the LV one column wider (i=3..5) and no RV.
    const pred = labels([6, 2, 2], 2, (i, _j, _k, t) => (t === 0 ? (i < 2 ? 1 : i >= 4 ? 3 : 0) : i >= 3 ? 3 : 0));
    const [f0, f1] = evaluateLabels({ volume: pred, name: 'p' }, { volume: ref, name: 'r' }, STRUCTURES);
    expect(f0!.map((m) => [m.name, m.dice, m.hd95])).toEqual([
      ['RV', 1, 0],
      ['MYO', 1, NaN],
      ['LV', 1, 0],
    ]);
    expect(f0![1]!.hdReason).toBe('structure absent from both prediction and reference');
    expect(f0![0]!.refMl).toBeCloseTo(8 * 0.02, 12);
    const [rv, , lv] = f1!;
    expect(rv!.dice).toBe(0);
    expect(rv!.hd95).toBe(Infinity);
    expect(rv!.hdReason).toBe('structure absent from the prediction');
    // LV: 12 predicted voxels, 8 reference, 8 shared → 16/20. Surfaces: the extra column (4 voxels) is 2 mm from
    // the reference, everything else is shared (0): union of 12 + 8 distances = 16 × 0 and 4 × 2 → rank 18.05.
    expect(lv!.dice).toBeCloseTo(0.8, 12);
    expect(lv!.predVoxels).toBe(12);
    expect(lv!.hd95).toBeCloseTo(2, 12);
    expect(lv!.hd).toBeCloseTo(2, 12);
  });

  it('summarises mean and sample SD of Dice, and the mean HD95 of the cases where it is finite', () => {
    const ref = labels([6, 2, 2], 2, (i) => (i < 2 ? 1 : i >= 4 ? 3 : 0));
    const pred = labels([6, 2, 2], 2, (i, _j, _k, t) => (t === 0 ? (i < 2 ? 1 : i >= 4 ? 3 : 0) : i >= 3 ? 3 : 0));
    const cases = evaluateLabels({ volume: pred, name: 'p' }, { volume: ref, name: 'r' }, STRUCTURES);
    const [rv, myo, lv] = summarize(cases, STRUCTURES);
    expect(rv).toMatchObject({ name: 'RV', cases: 2, meanDice: 0.5, meanHd95: 0, hd95Cases: 1 });
    expect(rv!.sdDice).toBeCloseTo(Math.SQRT1_2, 12);
    expect(myo).toMatchObject({ meanDice: 1, sdDice: 0, hd95Cases: 0 });
    expect(myo!.meanHd95).toBeNaN();
    expect(lv!.meanDice).toBeCloseTo(0.9, 12);
    expect(lv!.meanHd95).toBeCloseTo(1, 12);
  });

  it('lists the labels present in either map and refuses non-label data', () => {
    const a = labels([3, 1, 1], 1, (i) => [0, 2, 5][i]!);
    const b = labels([3, 1, 1], 1, (i) => [1, 0, 0][i]!);
    expect(presentLabels({ volume: a, name: 'a' }, { volume: b, name: 'b' })).toEqual([1, 2, 5]);
    const img: Volume = { ...b, data: new Float32Array([0, 0.5, 1]) };
    expect(() => evaluateLabels({ volume: a, name: 'a' }, { volume: img, name: 'image.nii' }, STRUCTURES)).toThrow(/image\.nii holds the value 0\.5/);
  });

  it('names both inputs and their grids when the geometry differs', () => {
    const a = labels([4, 4, 2], 1, () => 0);
    const shifted: Volume = { ...a, origin: [0, 0, 2.5] };
    expect(() => checkSameGrid({ volume: a, name: 'x_pred.nii.gz' }, { volume: shifted, name: 'x_gt.nii.gz' })).toThrow(
      /geometry mismatch between x_pred\.nii\.gz \(dims 4x4x2, .*origin 0,0,0.*\) and x_gt\.nii\.gz \(.*origin 0,0,2\.5/,
    );
    const b = labels([4, 4, 3], 1, () => 0);
    expect(() => evaluateLabels({ volume: a, name: 'A' }, { volume: b, name: 'B' }, STRUCTURES)).toThrow(/A \(dims 4x4x2.*B \(dims 4x4x3/);
    const c = labels([4, 4, 2], 2, () => 0);
    expect(() => checkSameGrid({ volume: a, name: 'A' }, { volume: c, name: 'C' })).toThrow(/4x4x2x2 frames/);
  });
});

describe('pairing predictions with references by name', () => {
  it('pairs X_pred with X_gt, else with X, and prefers X_gt when both exist', () => {
    const r = pairNames(
      ['a_pred.nii.gz', 'b_pred.nii', 'c_pred.nii.gz', 'notes.txt', 'zz_pred.nii.gz'],
      ['a_gt.nii.gz', 'a.nii.gz', 'b.nii.gz', 'c_gt.nii', 'd_gt.nii.gz', 'readme.md'],
    );
    expect(r.pairs).toEqual([
      { key: 'a', pred: 'a_pred.nii.gz', ref: 'a_gt.nii.gz' },
      { key: 'b', pred: 'b_pred.nii', ref: 'b.nii.gz' },
      { key: 'c', pred: 'c_pred.nii.gz', ref: 'c_gt.nii' },
    ]);
    expect(r.unmatchedPredictions).toEqual(['zz_pred.nii.gz']);
    expect(r.unmatchedReferences).toEqual(['d_gt.nii.gz']);
  });

  it('pairs within one folder holding both X_pred and X_gt (and the image X)', () => {
    const names = ['a.nii.gz', 'a_gt.nii.gz', 'a_pred.nii.gz', 'b_gt.nii.gz', 'b_pred.nii.gz'];
    const r = pairNames(names, names);
    expect(r.pairs).toEqual([
      { key: 'a', pred: 'a_pred.nii.gz', ref: 'a_gt.nii.gz' },
      { key: 'b', pred: 'b_pred.nii.gz', ref: 'b_gt.nii.gz' },
    ]);
    expect(r.unmatchedPredictions).toEqual([]);
    expect(r.unmatchedReferences).toEqual([]);
  });

  it('accepts predictions without the _pred suffix and lists folders on disk', () => {
    const root = mkdtempSync(join(tmpdir(), 'pix2rep-pair-'));
    mkdirSync(join(root, 'p'));
    mkdirSync(join(root, 'g'));
    mkdirSync(join(root, 'p', 'sub_pred.nii.gz')); // a folder, not a file: ignored
    for (const f of ['x.nii.gz', 'y_pred.nii.gz']) writeFileSync(join(root, 'p', f), '');
    for (const f of ['x_gt.nii.gz', 'y_gt.nii.gz', 'y.nii.gz']) writeFileSync(join(root, 'g', f), '');
    const r = pairFolders(join(root, 'p'), join(root, 'g'));
    expect(r.pairs).toEqual([
      { key: 'x', pred: join(root, 'p', 'x.nii.gz'), ref: join(root, 'g', 'x_gt.nii.gz') },
      { key: 'y', pred: join(root, 'p', 'y_pred.nii.gz'), ref: join(root, 'g', 'y_gt.nii.gz') },
    ]);
    expect(r.unmatchedPredictions).toEqual([]);
  });
});

describe('evaluation report', () => {
  it('writes undefined distances as null in JSON and explains them under the table', () => {
    const ref = labels([6, 2, 2], 2, (i) => (i < 2 ? 1 : i >= 4 ? 3 : 0));
    const pred = labels([6, 2, 2], 2, (i, _j, _k, t) => (t === 0 ? (i < 2 ? 1 : i >= 4 ? 3 : 0) : i >= 3 ? 3 : 0));
    const frames = evaluateLabels({ volume: pred, name: 'p' }, { volume: ref, name: 'r' }, STRUCTURES);
    const report = buildReport(
      STRUCTURES,
      frames.map((metrics, t) => ({ name: `c[t=${t}]`, pred: 'p', ref: 'r', frame: t, metrics })),
      { predictions: ['stray_pred.nii.gz'], references: [] },
    );
    const json = JSON.parse(reportJson(report));
    expect(json.cases[1].metrics[0]).toMatchObject({ name: 'RV', dice: 0, hd95: null, hd: null, hdReason: 'structure absent from the prediction' });
    expect(json.cases[0].metrics[1]).toMatchObject({ name: 'MYO', dice: 1, hd95: null });
    expect(json.mean[0]).toMatchObject({ name: 'RV', meanDice: 0.5, meanHd95: 0, hd95Cases: 1 });
    expect(json.mean[1].meanHd95).toBeNull();
    expect(json.conventions.hd95).toContain('MedPy');
    const table = reportTable(report);
    expect(table).toMatch(/^c\[t=1\]\s+0\.000\s+inf\s+1\.000\s+n\/a\s+0\.800\s+2\.00$/m);
    expect(table).toMatch(/^mean\s+0\.500\s+0\.00\*\s+1\.000\s+n\/a\*\s+0\.900\s+1\.00$/m);
    expect(table).toMatch(/^sd\s+0\.707\s+0\.000\s+0\.141$/m);
    expect(table).toContain('c[t=1] RV: structure absent from the prediction');
    expect(table).not.toContain('MYO: structure absent'); // absent from both: expected, not a note
    expect(table).toContain('stray_pred.nii.gz');
  });
});
