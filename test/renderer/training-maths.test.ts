import { describe, expect, it } from 'vitest';
import { chartGeometry, decimate, linearScale, niceTicks } from '../../renderer/components/training/chartScale.js';
import { cardiacIndices, cardiacLabelsFrom, dicePerLabel, labelCounts, voxelMl } from '../../renderer/components/review/metrics.js';
import { formatEta, mergePoints, pretrainRequest, type PretrainForm } from '../../renderer/stores/jobs.js';
import { labeledSlices } from '../../renderer/stores/models.js';

describe('loss chart scaling', () => {
  it('picks round tick steps of 1, 2 or 5 × 10^k and snaps the ends outwards', () => {
    // (1 - 0) / 5 = 0.2 → step 0.2.
    expect(niceTicks(0, 1, 5)).toEqual({ lo: 0, hi: 1, step: 0.2, ticks: [0, 0.2, 0.4, 0.6, 0.8, 1] });
    // (2.91 - 0.37) / 4 = 0.635 → step 1 (0.635 rounds up to 1 × 10^0), ends 0 and 3.
    const t = niceTicks(0.37, 2.91, 4);
    expect([t.lo, t.hi, t.step, t.ticks]).toEqual([0, 3, 1, [0, 1, 2, 3]]);
    // A flat series at 5 gets a ±10 % band: 4.5..5.5, step 0.2, ends 4.4 and 5.6.
    expect(niceTicks(5, 5, 5).ticks).toEqual([4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6]);
    expect(niceTicks(3, 1, 2).ticks).toEqual([1, 2, 3]);
  });

  it('maps linearly, flipping for SVG y', () => {
    expect(linearScale(0, 10, 100, 0)(2.5)).toBe(75);
    expect(linearScale(4, 4, 0, 50)(4)).toBe(25);
  });

  it('places a two-point series at the corners of the plot area', () => {
    const g = chartGeometry(
      [
        [
          { x: 0, y: 0 },
          { x: 10, y: 1 },
        ],
        [],
      ],
      { width: 110, height: 60, left: 10, right: 0, top: 10, bottom: 0 },
    );
    // x ticks 0..10 step 2 over 10..110 px; y ticks 0..1 step 0.5 over 60..10 px.
    expect(g.paths).toEqual(['M10.0,60.0L110.0,10.0', '']);
    expect(g.xTicks.map((t) => [t.value, t.px])).toEqual([
      [0, 10],
      [2, 30],
      [4, 50],
      [6, 70],
      [8, 90],
      [10, 110],
    ]);
    expect(g.yTicks.map((t) => [t.value, t.px])).toEqual([
      [0, 60],
      [0.5, 35],
      [1, 10],
    ]);
  });

  it('skips non-finite values', () => {
    const g = chartGeometry([[{ x: 0, y: 1 }, { x: 1, y: Number.NaN }, { x: 2, y: 2 }]], { width: 30, height: 30, left: 0, right: 0, top: 0, bottom: 0 });
    expect(g.paths[0]!.split('L')).toHaveLength(2);
  });

  it('thins long series keeping the ends and the spikes', () => {
    const pts = Array.from({ length: 10 }, (_, i) => ({ x: i, y: i === 4 ? 9 : 0 }));
    const d = decimate(pts, 5);
    expect(d).toHaveLength(5);
    expect(d[0]!.x).toBe(0);
    expect(d.at(-1)!.x).toBe(9);
    // Buckets of the 8 inner points: [1,2], [3,4,5], [6,7,8]; the spike is the middle bucket's pick.
    expect(d[2]).toEqual({ x: 4, y: 9 });
    expect(decimate(pts, 20)).toEqual(pts);
  });
});

describe('results maths', () => {
  it('computes Dice per structure, null when a structure is in neither map', () => {
    const pred = Uint8Array.from([1, 1, 0, 2, 2, 0]);
    const ref = Uint8Array.from([1, 0, 0, 2, 2, 2]);
    const d = dicePerLabel(pred, ref, [1, 2, 3]);
    // RV: |A|=2, |B|=1, overlap 1 → 2/3. MYO: |A|=2, |B|=3, overlap 2 → 4/5.
    expect(d[0]!.dice).toBeCloseTo(2 / 3, 12);
    expect(d[1]!.dice).toBeCloseTo(4 / 5, 12);
    expect(d[2]).toEqual({ value: 3, dice: null, predicted: 0, reference: 0 });
    expect(dicePerLabel(Uint8Array.from([3]), Uint8Array.from([0]), [3])[0]!.dice).toBe(0);
    expect(() => dicePerLabel(new Uint8Array(3), new Uint8Array(4), [1])).toThrow(/3 voxels.*4.*not on the same grid/);
  });

  it('computes volumes, ejection fractions and myocardial mass from ED and ES maps', () => {
    // Voxel 2 × 2 × 5 mm = 20 mm³ = 0.02 ml.
    expect(voxelMl([2, 2, 5])).toBeCloseTo(0.02, 15);
    const map = (lv: number, rv: number, myo: number) => Uint8Array.from([...Array(lv).fill(3), ...Array(rv).fill(1), ...Array(myo).fill(2), 0, 0]);
    const ed = { map: map(50, 40, 30), spacing: [2, 2, 5] as const };
    const es = { map: map(20, 25, 30), spacing: [2, 2, 5] as const };
    expect(labelCounts(ed.map)[3]).toBe(50);
    const c = cardiacIndices(ed, es);
    expect(c.lvEdv).toBeCloseTo(1.0, 12);
    expect(c.lvEsv).toBeCloseTo(0.4, 12);
    expect(c.lvEf).toBeCloseTo(0.6, 12);
    expect(c.rvEdv).toBeCloseTo(0.8, 12);
    expect(c.rvEsv).toBeCloseTo(0.5, 12);
    expect(c.rvEf).toBeCloseTo(0.375, 12);
    // 30 voxels × 0.02 ml × 1.05 g/ml.
    expect(c.myoMass).toBeCloseTo(0.63, 12);
    const empty = cardiacIndices({ map: new Uint8Array(4), spacing: [1, 1, 1] }, { map: new Uint8Array(4), spacing: [1, 1, 1] });
    expect([empty.lvEf, empty.rvEf, empty.myoMass]).toEqual([null, null, 0]);
  });

  it('finds RV, MYO and LV by name, falling back to the ACDC values', () => {
    expect(cardiacLabelsFrom([{ value: 7, name: 'LV' }, { value: 5, name: 'Myocardium' }, { value: 9, name: 'RV' }])).toEqual({ rv: 9, myo: 5, lv: 7 });
    expect(cardiacLabelsFrom([{ value: 4, name: 'LV myo' }])).toEqual({ rv: 1, myo: 4, lv: 3 });
    expect(cardiacLabelsFrom([{ value: 1, name: 'RV cavity' }, { value: 2, name: 'LV myocardium' }, { value: 3, name: 'LV cavity' }])).toEqual({ rv: 1, myo: 2, lv: 3 });
    expect(cardiacLabelsFrom([{ value: 3, name: 'LV myocardium' }, { value: 2, name: 'LV cavity' }])).toEqual({ rv: 1, myo: 3, lv: 2 });
    expect(cardiacLabelsFrom([])).toEqual({ rv: 1, myo: 2, lv: 3 });
  });
});

describe('training forms and counts', () => {
  const form = (over: Partial<PretrainForm>): PretrainForm => ({ method: 'pix2rep', preset: 'compact', budget: 'steps', amount: 500, studies: [], name: '', ...over });

  it('turns the pretraining form into a jobs.enqueue request', () => {
    expect(pretrainRequest(form({ studies: ['s1'], name: ' night ' }))).toEqual({
      kind: 'pretrain',
      name: 'night',
      params: { method: 'pix2rep', preset: 'compact', studies: ['s1'], steps: 500, out: 'night' },
      priority: 0,
      autoResume: true,
    });
    expect(pretrainRequest(form({ budget: 'epochs', amount: 3, method: 'pix2rep-v2' })).params).toEqual({ method: 'pix2rep-v2', preset: 'compact', epochs: 3 });
    const night = pretrainRequest(form({ budget: 'overnight', amount: null }));
    expect(night.schedule).toEqual({ start: '22:00', stop: '07:00' });
    expect(night.params).toEqual({ method: 'pix2rep', preset: 'compact' });
    expect(() => pretrainRequest(form({ amount: 0 }))).toThrow(/number of steps/);
    expect(() => pretrainRequest(form({ budget: 'epochs', amount: null }))).toThrow(/number of epochs/);
  });

  it('says the time left in rounded words', () => {
    expect([formatEta(42.4), formatEta(59.6), formatEta(90), formatEta(3599), formatEta(3600), formatEta(5 * 3600 + 34 * 60 + 10), formatEta(-1)]).toEqual([
      '42 s',
      '1 min',
      '2 min',
      '1 h',
      '1 h',
      '5 h 34 min',
      '',
    ]);
  });

  it('merges curve points by kind and step, a re-reported step replacing the old one', () => {
    const a = { step: 2, kind: 'step' as const, loss: 1, validationLoss: null };
    const v = { step: 2, kind: 'validation' as const, loss: null, validationLoss: 3 };
    const merged = mergePoints([a, { step: 5, kind: 'step', loss: 0.5, validationLoss: null }], [v, { ...a, loss: 0.9 }, { step: 1, kind: 'step', loss: 2, validationLoss: null }]);
    expect(merged.map((p) => [p.kind, p.step, p.loss ?? p.validationLoss])).toEqual([
      ['step', 1, 2],
      ['step', 2, 0.9],
      ['validation', 2, 3],
      ['step', 5, 0.5],
    ]);
  });

  it('counts annotated slices per volume from drawn and imported annotations, never predictions', () => {
    const vols = [
      { annotations: [{ source: 'imported', annotatedSlices: 10 }, { source: 'manual', annotatedSlices: 3 }, { source: 'predicted', annotatedSlices: 99 }] },
      { annotations: [{ source: 'predicted', annotatedSlices: 8 }] },
      { annotations: [{ source: 'manual', annotatedSlices: 2 }] },
    ];
    expect(labeledSlices(vols)).toEqual({ slices: 12, volumes: 2 });
  });
});
