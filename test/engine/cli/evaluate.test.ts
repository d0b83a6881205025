import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNifti, writeNifti } from '../../../main/io/nifti.js';
import type { Volume } from '../../../main/io/volume.js';
import { runCli } from '../../support/cli.js';
import { dataPath, hasData, MISSING_DATA } from '../../support/data.js';

const PATIENT = dataPath('acdc', 'training', 'patient001');
const ED = join(PATIENT, 'patient001_frame01_gt.nii.gz');
const ES = join(PATIENT, 'patient001_frame12_gt.nii.gz');
const NAMES = ['RV', 'MYO', 'LV'];

interface Metric {
  label: number;
  name: string;
  dice: number;
  hd95: number | null;
  hd: number | null;
  hdReason?: string;
}
interface Report {
  structures: { label: number; name: string }[];
  cases: { name: string; pred: string; ref: string; metrics: Metric[] }[];
  mean: { name: string; cases: number; meanDice: number; meanHd95: number | null; hd95Cases: number }[];
  unmatched: { predictions: string[]; references: string[] };
}

function evaluateJson(...args: string[]): Report {
  const r = runCli(['evaluate', ...args, '--json']);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as Report;
}

/** The labels moved one voxel along +i (the heart is far from the field's edge, so nothing is clipped). */
function shiftAlongI(v: Volume): Volume {
  const data = new Uint8Array(v.data.length);
  const nx = v.dims[0];
  for (let p = 0; p < data.length; p++) if (p % nx !== nx - 1) data[p + 1] = v.data[p]!;
  return { ...v, data };
}

/** |A ∩ (A shifted one voxel along +i)| and |A| of one label, counted directly on the voxels. */
function shiftOverlap(v: Volume, label: number): { overlap: number; size: number } {
  const nx = v.dims[0];
  let overlap = 0;
  let size = 0;
  for (let p = 0; p < v.data.length; p++) {
    if (v.data[p] !== label) continue;
    size++;
    if (p % nx !== 0 && v.data[p - 1] === label) overlap++;
  }
  return { overlap, size };
}

describe.skipIf(!hasData('acdc'))(`pix2rep evaluate on real ACDC labels (${hasData('acdc') ? 'data found' : MISSING_DATA})`, () => {
  let gt: Volume;
  let dir: string;

  beforeAll(async () => {
    gt = await readNifti(ED);
    dir = mkdtempSync(join(tmpdir(), 'pix2rep-evaluate-'));
  });

  it('a ground truth against itself: Dice 1 and HD95 0 mm for RV, MYO and LV, in a readable table', () => {
    const report = evaluateJson(ED, ED);
    expect(report.structures.map((s) => s.name)).toEqual(NAMES);
    expect(report.cases).toHaveLength(1);
    expect(report.cases[0]!.name).toBe('patient001_frame01_gt');
    for (const m of report.cases[0]!.metrics) expect([m.name, m.dice, m.hd95, m.hd]).toEqual([m.name, 1, 0, 0]);
    const text = runCli(['evaluate', ED, ED]);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^case\s+RV Dice\s+RV HD95\s+MYO Dice\s+MYO HD95\s+LV Dice\s+LV HD95$/m);
    expect(text.stdout).toMatch(/^mean\s+1\.000\s+0\.00\s+1\.000\s+0\.00\s+1\.000\s+0\.00$/m);
  });

  it('labels shifted one voxel along i: Dice = |A∩(A+1)|/|A| and every surface distance 0 or one column (1.5625 mm)', async () => {
    const pred = join(dir, 'shifted_pred.nii.gz');
    await writeNifti(pred, shiftAlongI(gt));
    const report = evaluateJson(pred, ED);
    expect(gt.spacing[0]).toBeCloseTo(1.5625, 4);
    for (const [s, m] of report.cases[0]!.metrics.entries()) {
      const { overlap, size } = shiftOverlap(gt, s + 1);
      expect(m.dice).toBeCloseTo((2 * overlap) / (2 * size), 10);
      // A translation maps surface to surface, so each surface voxel is 0 or exactly one column from the other
      // surface; far more than 5% of a heart structure's surface faces along i, so HD95 is that column too.
      expect(m.hd).toBeCloseTo(gt.spacing[0], 4);
      expect(m.hd95).toBeCloseTo(gt.spacing[0], 4);
    }
  });

  it('a structure missing from the prediction: Dice 0, HD95 null with the reason; the others untouched', async () => {
    const data = Uint8Array.from(gt.data, (v) => (v === 1 ? 0 : v));
    const pred = join(dir, 'nort_pred.nii.gz');
    await writeNifti(pred, { ...gt, data });
    const [rv, myo, lv] = evaluateJson(pred, ED).cases[0]!.metrics;
    expect(rv).toMatchObject({ name: 'RV', dice: 0, hd95: null, hd: null, hdReason: 'structure absent from the prediction' });
    expect([myo!.dice, myo!.hd95, lv!.dice, lv!.hd95]).toEqual([1, 0, 1, 0]);
  });

  it('--largest-component removes a stray island before measuring', async () => {
    // One RV voxel at the field's corner, far from the heart.
    const data = Uint8Array.from(gt.data);
    expect(data[0]).toBe(0);
    data[0] = 1;
    const pred = join(dir, 'island_pred.nii.gz');
    await writeNifti(pred, { ...gt, data });
    const raw = evaluateJson(pred, ED).cases[0]!.metrics[0]!;
    expect(raw.dice).toBeLessThan(1);
    expect(raw.hd).toBeGreaterThan(50);
    const cleaned = evaluateJson(pred, ED, '--largest-component').cases[0]!.metrics[0]!;
    expect([cleaned.dice, cleaned.hd95, cleaned.hd]).toEqual([1, 0, 0]);
  });

  it('pairs two folders by name (X_pred with X_gt in an ACDC patient folder) and averages per structure', async () => {
    const preds = join(dir, 'preds');
    mkdirSync(preds);
    await writeNifti(join(preds, 'patient001_frame01_pred.nii.gz'), gt);
    await writeNifti(join(preds, 'patient001_frame12_pred.nii.gz'), shiftAlongI(await readNifti(ES)));
    await writeNifti(join(preds, 'patient999_frame01_pred.nii.gz'), gt);
    const r = runCli(['evaluate', preds, PATIENT, '--json']);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('no reference for');
    expect(r.stderr).toContain('patient999_frame01_pred.nii.gz');
    const report = JSON.parse(r.stdout) as Report;
    expect(report.cases.map((c) => [c.name, c.ref])).toEqual([
      ['patient001_frame01', ED],
      ['patient001_frame12', ES],
    ]);
    expect(report.unmatched.predictions).toEqual([join(preds, 'patient999_frame01_pred.nii.gz')]);
    const es = await readNifti(ES);
    for (const [s, m] of report.mean.entries()) {
      const { overlap, size } = shiftOverlap(es, s + 1);
      expect(m.cases).toBe(2);
      expect(m.meanDice).toBeCloseTo((1 + overlap / size) / 2, 10);
      expect(m.meanHd95).toBeCloseTo(es.spacing[0] / 2, 4);
    }
  });

  it('mismatched geometry, or an image given as a label map, is an error naming the files', async () => {
    const moved = join(dir, 'moved_pred.nii.gz');
    await writeNifti(moved, { ...gt, origin: [gt.origin[0], gt.origin[1], gt.origin[2] + 5] });
    const r = runCli(['evaluate', moved, ED]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`geometry mismatch between ${moved}`);
    expect(r.stderr).toContain(`and ${ED}`);
    expect(r.stdout).toBe('');

    const image = runCli(['evaluate', join(PATIENT, 'patient001_frame01.nii.gz'), ED]);
    expect(image.status).toBe(1);
    expect(image.stderr).toMatch(/patient001_frame01\.nii\.gz holds \d+ distinct values: it looks like an image/);
  });

  it('a file with a folder, a missing path or folders with nothing to pair are clear errors', () => {
    const mixed = runCli(['evaluate', ED, PATIENT]);
    expect(mixed.status).toBe(2);
    expect(mixed.stderr).toContain('give two files or two folders');
    const missing = runCli(['evaluate', join(dir, 'nope.nii.gz'), ED]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`prediction ${join(dir, 'nope.nii.gz')} does not exist`);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const none = runCli(['evaluate', empty, PATIENT]);
    expect(none.status).toBe(1);
    expect(none.stderr).toContain(`no prediction in ${empty} pairs with a reference`);
  });

  it('--labels chooses and names the structures', () => {
    const report = evaluateJson(ED, ES, '--labels', '3=LV cavity,1');
    expect(report.structures).toEqual([
      { label: 3, name: 'LV cavity' },
      { label: 1, name: 'RV' },
    ]);
    expect(report.cases[0]!.metrics.map((m) => m.label)).toEqual([3, 1]);
    const bad = runCli(['evaluate', ED, ES, '--labels', 'x=1']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--labels: "x=1"');
  });
});

describe('pix2rep evaluate on synthetic cine label maps', () => {
  it('evaluates each frame of a 4D label map as its own case', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pix2rep-evaluate-cine-'));
    const dims: [number, number, number] = [8, 6, 3];
    const n = 8 * 6 * 3;
    const ref = new Uint8Array(2 * n);
    const pred = new Uint8Array(2 * n);
    // LV (3) in voxels i = 2..4 of every row in both frames; the prediction's frame 1 also covers i = 5.
    for (let t = 0; t < 2; t++) {
      for (let p = 0; p < n; p++) {
        const i = p % 8;
        ref[t * n + p] = i >= 2 && i <= 4 ? 3 : 0;
        pred[t * n + p] = i >= 2 && i <= (t === 0 ? 4 : 5) ? 3 : 0;
      }
    }
    const geometry = { dims, frames: 2, spacing: [2, 2, 8] as [number, number, number], origin: [0, 0, 0] as [number, number, number], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] as Volume['direction'] };
    await writeNifti(join(dir, 'cine_pred.nii.gz'), { ...geometry, data: pred });
    await writeNifti(join(dir, 'cine_gt.nii.gz'), { ...geometry, data: ref });
    const report = evaluateJson(join(dir, 'cine_pred.nii.gz'), join(dir, 'cine_gt.nii.gz'));
    expect(report.cases.map((c) => c.name)).toEqual(['cine[t=0]', 'cine[t=1]']);
    const lv = report.cases.map((c) => c.metrics.find((m) => m.name === 'LV')!);
    expect([lv[0]!.dice, lv[0]!.hd95]).toEqual([1, 0]);
    // Frame 1: 4 columns predicted, 3 true → Dice 6/7. Surfaces (the grid's edge counts as outside): 64
    // predicted and 50 true voxels; 22 distances are 2 mm (the extra column, and the 4 reference voxels of
    // column i = 4 that are interior in the prediction), the rest 0 → rank 0.95 · 113 = 107.35 → 2 mm.
    expect(lv[1]!.dice).toBeCloseTo(6 / 7, 12);
    expect(lv[1]!.hd95).toBeCloseTo(2, 12);
  });
});
