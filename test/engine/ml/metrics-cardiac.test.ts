import { describe, expect, it } from 'vitest';
import { ACDC_LABELS, cardiacMeasures, ejectionFraction, frameVolumes, MYOCARDIAL_DENSITY } from '../../../main/ml/metrics/cardiac.js';
import type { Grid } from '../../../main/ml/metrics/grid.js';

/** A 1-D strip of labels laid out as an n x 1 x 1 grid. */
const strip = (labels: number[], spacing: [number, number, number]) => ({
  labels: Uint8Array.from(labels),
  grid: { dims: [labels.length, 1, 1], spacing } as Grid,
});

describe('cardiac measures (ACDC labels: 1 RV, 2 MYO, 3 LV)', () => {
  it('cavity volumes are voxel counts × voxel volume in ml', () => {
    // 2 x 2.5 x 8 mm = 40 mm³ = 0.04 ml per voxel.
    const s = strip([0, 3, 3, 3, 1, 1, 2, 0, 3], [2, 2.5, 8]);
    const v = frameVolumes(s.labels, s.grid);
    expect(v.lvCavityMl).toBeCloseTo(4 * 0.04, 12);
    expect(v.rvCavityMl).toBeCloseTo(2 * 0.04, 12);
    expect(v.myocardiumMl).toBeCloseTo(1 * 0.04, 12);
  });

  it('EDV, ESV, EF = (EDV − ESV)/EDV and myocardial mass = ED myocardium × 1.05 g/ml', () => {
    // 10 mm cubes: 1 ml per voxel.
    const ed = strip([3, 3, 3, 3, 3, 1, 1, 1, 2, 2, 0], [10, 10, 10]); // LV 5, RV 3, MYO 2
    const es = strip([3, 3, 1, 1, 2, 2, 2, 0, 0, 0, 0], [10, 10, 10]); // LV 2, RV 2, MYO 3
    const m = cardiacMeasures(ed, es);
    expect(m.lvEdv).toBeCloseTo(5, 12);
    expect(m.lvEsv).toBeCloseTo(2, 12);
    expect(m.rvEdv).toBeCloseTo(3, 12);
    expect(m.rvEsv).toBeCloseTo(2, 12);
    expect(m.lvEf).toBeCloseTo(0.6, 12);
    expect(m.rvEf).toBeCloseTo(1 / 3, 12);
    expect(MYOCARDIAL_DENSITY).toBe(1.05);
    expect(m.myocardialMassG).toBeCloseTo(2 * 1.05, 12); // at ED, not ES (3 ml)
    expect(m.es.myocardiumMl).toBeCloseTo(3, 12);
  });

  it('uses each frame its own voxel size, other label conventions, and NaN EF without an ED cavity', () => {
    const ed = strip([3, 3, 3, 3], [10, 10, 10]); // 4 ml
    const es = strip([3, 3, 3, 3], [10, 10, 5]); // 2 ml
    expect(cardiacMeasures(ed, es).lvEf).toBeCloseTo(0.5, 12);
    const custom = { rvCavity: 7, myocardium: 8, lvCavity: 9 };
    const v = frameVolumes(Uint8Array.from([9, 9, 7, 8, 3]), { dims: [5, 1, 1], spacing: [10, 10, 10] }, custom);
    expect(v).toEqual({ lvCavityMl: 2, rvCavityMl: 1, myocardiumMl: 1 });
    expect(ACDC_LABELS).toEqual({ rvCavity: 1, myocardium: 2, lvCavity: 3 });
    expect(ejectionFraction(0, 0)).toBeNaN();
    expect(cardiacMeasures(strip([0, 0], [1, 1, 1]), strip([0, 0], [1, 1, 1])).rvEf).toBeNaN();
  });

  it('rejects a label map that does not fill its grid', () => {
    expect(() => frameVolumes(new Uint8Array(5), { dims: [2, 2, 1], spacing: [1, 1, 1] })).toThrow(/5 voxels do not fill a 2x2x1 grid/);
  });
});
