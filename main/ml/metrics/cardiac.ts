import { checkGrid, voxelMl, type Grid, type LabelArray } from './grid.js';

/** Label values of the cardiac structures (ACDC convention by default: 1 RV cavity, 2 LV myocardium, 3 LV cavity). */
export interface CardiacLabels {
  rvCavity: number;
  myocardium: number;
  lvCavity: number;
}

export const ACDC_LABELS: CardiacLabels = { rvCavity: 1, myocardium: 2, lvCavity: 3 };

/** Myocardial tissue density used for the mass (g/ml), the value used throughout cardiac MRI practice. */
export const MYOCARDIAL_DENSITY = 1.05;

/** Cavity and myocardium volumes of one frame, in millilitres. */
export interface FrameVolumes {
  lvCavityMl: number;
  rvCavityMl: number;
  myocardiumMl: number;
}

/** Clinical measures from an end-diastolic (ED) and an end-systolic (ES) label map of the same heart. */
export interface CardiacMeasures {
  ed: FrameVolumes;
  es: FrameVolumes;
  /** LV end-diastolic and end-systolic volumes (ml). */
  lvEdv: number;
  lvEsv: number;
  rvEdv: number;
  rvEsv: number;
  /** Ejection fractions as fractions of 1: (EDV − ESV) / EDV; NaN when the EDV is 0 (no cavity segmented). */
  lvEf: number;
  rvEf: number;
  /** Myocardial mass in grams at end-diastole: ED myocardium volume × 1.05 g/ml. */
  myocardialMassG: number;
}

/** Structure volumes of one label map: voxel counts × voxel volume. */
export function frameVolumes(labels: LabelArray, grid: Grid, ids: CardiacLabels = ACDC_LABELS): FrameVolumes {
  checkGrid(grid, labels.length);
  let lv = 0;
  let rv = 0;
  let myo = 0;
  for (let p = 0; p < labels.length; p++) {
    const v = labels[p];
    if (v === ids.lvCavity) lv++;
    else if (v === ids.rvCavity) rv++;
    else if (v === ids.myocardium) myo++;
  }
  const ml = voxelMl(grid);
  return { lvCavityMl: lv * ml, rvCavityMl: rv * ml, myocardiumMl: myo * ml };
}

export function ejectionFraction(edv: number, esv: number): number {
  return edv > 0 ? (edv - esv) / edv : NaN;
}

/**
 * Volumes, ejection fractions and myocardial mass from the ED and ES frames. The two frames may have different
 * grids (each volume uses its own voxel size). Mass is taken at ED, as in the ACDC challenge's clinical indices.
 */
export function cardiacMeasures(
  ed: { labels: LabelArray; grid: Grid },
  es: { labels: LabelArray; grid: Grid },
  ids: CardiacLabels = ACDC_LABELS,
): CardiacMeasures {
  const v0 = frameVolumes(ed.labels, ed.grid, ids);
  const v1 = frameVolumes(es.labels, es.grid, ids);
  return {
    ed: v0,
    es: v1,
    lvEdv: v0.lvCavityMl,
    lvEsv: v1.lvCavityMl,
    rvEdv: v0.rvCavityMl,
    rvEsv: v1.rvCavityMl,
    lvEf: ejectionFraction(v0.lvCavityMl, v1.lvCavityMl),
    rvEf: ejectionFraction(v0.rvCavityMl, v1.rvCavityMl),
    myocardialMassG: v0.myocardiumMl * MYOCARDIAL_DENSITY,
  };
}
