/**
 * Measures shown in the results panel, computed in the renderer from label maps read back from the library.
 * Pure functions over uint8 label maps (one value per voxel, 0 = background) so they are tested on maps small
 * enough to count by hand.
 */

/** Voxels of each label value (index = value). */
export function labelCounts(map: Uint8Array): Uint32Array {
  const counts = new Uint32Array(256);
  for (let i = 0; i < map.length; i++) counts[map[i]!]!++;
  return counts;
}

export interface DiceResult {
  value: number;
  /** 2|A∩B| / (|A| + |B|); null when the structure is in neither map (nothing to compare). */
  dice: number | null;
  predicted: number;
  reference: number;
}

/** Dice of each listed label of a prediction against a reference map of the same grid. */
export function dicePerLabel(pred: Uint8Array, ref: Uint8Array, values: number[]): DiceResult[] {
  if (pred.length !== ref.length) throw new Error(`the prediction has ${pred.length} voxels and the reference ${ref.length}: they are not on the same grid`);
  const both = new Uint32Array(256);
  const p = new Uint32Array(256);
  const r = new Uint32Array(256);
  for (let i = 0; i < pred.length; i++) {
    const a = pred[i]!;
    const b = ref[i]!;
    p[a]!++;
    r[b]!++;
    if (a === b) both[a]!++;
  }
  return values.map((v) => {
    const total = p[v]! + r[v]!;
    return { value: v, dice: total === 0 ? null : (2 * both[v]!) / total, predicted: p[v]!, reference: r[v]! };
  });
}

/** Volume of one voxel in millilitres (spacing in mm; 1 ml = 1000 mm³). */
export function voxelMl(spacing: readonly [number, number, number]): number {
  return (spacing[0] * spacing[1] * spacing[2]) / 1000;
}

/** Myocardial tissue density used for mass (g/ml). */
export const MYOCARDIUM_DENSITY = 1.05;

export interface CardiacLabels {
  rv: number;
  myo: number;
  lv: number;
}

/** ACDC's label values. */
export const ACDC_LABELS: CardiacLabels = { rv: 1, myo: 2, lv: 3 };

export interface PhaseMap {
  map: Uint8Array;
  spacing: readonly [number, number, number];
}

export interface CardiacIndices {
  lvEdv: number;
  lvEsv: number;
  /** (EDV − ESV) / EDV as a fraction; null when EDV is 0. */
  lvEf: number | null;
  rvEdv: number;
  rvEsv: number;
  rvEf: number | null;
  /** Myocardium volume at end-diastole × 1.05 g/ml, in grams. */
  myoMass: number;
}

/** Volumes (ml), ejection fractions and myocardial mass (g) from end-diastolic and end-systolic label maps. */
export function cardiacIndices(ed: PhaseMap, es: PhaseMap, labels: CardiacLabels = ACDC_LABELS): CardiacIndices {
  const cEd = labelCounts(ed.map);
  const cEs = labelCounts(es.map);
  const vEd = voxelMl(ed.spacing);
  const vEs = voxelMl(es.spacing);
  const lvEdv = cEd[labels.lv]! * vEd;
  const lvEsv = cEs[labels.lv]! * vEs;
  const rvEdv = cEd[labels.rv]! * vEd;
  const rvEsv = cEs[labels.rv]! * vEs;
  const ef = (edv: number, esv: number) => (edv > 0 ? (edv - esv) / edv : null);
  return { lvEdv, lvEsv, lvEf: ef(lvEdv, lvEsv), rvEdv, rvEsv, rvEf: ef(rvEdv, rvEsv), myoMass: cEd[labels.myo]! * vEd * MYOCARDIUM_DENSITY };
}

/** Label values for RV, MYO and LV from a palette's names, falling back to ACDC's values. */
export function cardiacLabelsFrom(palette: Array<{ value: number; name: string }>): CardiacLabels {
  const find = (re: RegExp, fallback: number) => palette.find((l) => re.test(l.name))?.value ?? fallback;
  return {
    rv: find(/^(rv|right ventric)/i, ACDC_LABELS.rv),
    myo: find(/^(myo|lv ?myo)/i, ACDC_LABELS.myo),
    lv: find(/^(lv|left ventric)(?!.*myo)/i, ACDC_LABELS.lv),
  };
}
