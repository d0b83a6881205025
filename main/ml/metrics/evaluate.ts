import { EngineFailure } from '../../engine/errors.js';
import { sameGeometry, type Volume } from '../../io/volume.js';
import { diceFromCounts, labelCounts } from './dice.js';
import { maxLabel, voxelMl, type Grid } from './grid.js';
import { emptyReason, surfaceDistance } from './hausdorff.js';

/** A structure to evaluate: its label value and display name. */
export interface Structure {
  label: number;
  name: string;
}

/** ACDC names for labels 1..3; any other label is called "label N". */
export const DEFAULT_STRUCTURE_NAMES: Record<number, string> = { 1: 'RV', 2: 'MYO', 3: 'LV' };

export function structureName(label: number, names: Record<number, string> = DEFAULT_STRUCTURE_NAMES): string {
  return names[label] ?? `label ${label}`;
}

/** Metrics of one structure in one volume (one frame). */
export interface StructureMetrics {
  label: number;
  name: string;
  dice: number;
  /** mm; NaN (both empty) or Infinity (one empty), see hausdorff.ts. */
  hd95: number;
  hd: number;
  /** Why hd95/hd are not finite, when they are not. */
  hdReason?: string;
  predVoxels: number;
  refVoxels: number;
  predMl: number;
  refMl: number;
}

/** Label maps and what to call them in messages (usually their file paths). */
export interface NamedLabels {
  volume: Volume;
  name: string;
}

/** Throws a message naming both inputs when their voxel grids differ; metrics would otherwise compare unrelated voxels. */
export function checkSameGrid(pred: NamedLabels, ref: NamedLabels): void {
  const a = pred.volume;
  const b = ref.volume;
  if (a.frames === b.frames && sameGeometry(a, b)) return;
  const describe = (v: Volume) =>
    `dims ${v.dims.join('x')}${v.frames > 1 ? `x${v.frames} frames` : ''}, spacing ${v.spacing.map((s) => +s.toFixed(4)).join('x')} mm, ` +
    `origin ${v.origin.map((s) => +s.toFixed(3)).join(',')}, direction ${v.direction.map((s) => +s.toFixed(4)).join(',')}`;
  throw new EngineFailure(
    'BAD_INPUT',
    `geometry mismatch between ${pred.name} (${describe(a)}) and ${ref.name} (${describe(b)}): ` +
      'a prediction must be on its reference image grid',
  );
}

/** The largest label of a map, as a BAD_INPUT failure naming the file when it is not a label map. */
function checkedMaxLabel(m: NamedLabels): number {
  try {
    return maxLabel(m.volume.data, m.name);
  } catch (err) {
    throw new EngineFailure('BAD_INPUT', (err as Error).message);
  }
}

/** Non-zero labels of one map, ascending. Validates that it holds integer labels. */
export function distinctLabels(m: NamedLabels): number[] {
  const top = checkedMaxLabel(m);
  const seen = new Uint8Array(top + 1);
  const v = m.volume.data;
  for (let p = 0; p < v.length; p++) seen[v[p]!] = 1;
  const out: number[] = [];
  for (let l = 1; l <= top; l++) if (seen[l]) out.push(l);
  return out;
}

/** Labels present (non-zero) in either map, ascending. Validates that both hold integer labels. */
export function presentLabels(pred: NamedLabels, ref: NamedLabels): number[] {
  return [...new Set([...distinctLabels(pred), ...distinctLabels(ref)])].sort((a, b) => a - b);
}

/**
 * Dice, HD95 and HD of each structure between a prediction and its reference, frame by frame (a cine label map
 * gives one result list per frame; each frame is a 3D volume). Both maps must be on the same grid.
 */
export function evaluateLabels(pred: NamedLabels, ref: NamedLabels, structures: Structure[]): StructureMetrics[][] {
  checkSameGrid(pred, ref);
  const top = Math.max(checkedMaxLabel(pred), checkedMaxLabel(ref), ...structures.map((s) => s.label));
  const v = pred.volume;
  const grid: Grid = { dims: v.dims, spacing: v.spacing };
  const n = v.dims[0] * v.dims[1] * v.dims[2];
  const ml = voxelMl(grid);
  const frames: StructureMetrics[][] = [];
  for (let t = 0; t < v.frames; t++) {
    const a = pred.volume.data.subarray(t * n, (t + 1) * n);
    const b = ref.volume.data.subarray(t * n, (t + 1) * n);
    const counts = labelCounts(a, b, top);
    frames.push(
      structures.map(({ label, name }) => {
        const sd = surfaceDistance(a, b, grid, label);
        const reason = emptyReason(sd.empty);
        const pv = counts.pred[label]!;
        const rv = counts.ref[label]!;
        return {
          label,
          name,
          dice: diceFromCounts(pv, rv, counts.intersection[label]!),
          hd95: sd.hd95,
          hd: sd.hd,
          ...(reason ? { hdReason: reason } : {}),
          predVoxels: pv,
          refVoxels: rv,
          predMl: pv * ml,
          refMl: rv * ml,
        };
      }),
    );
  }
  return frames;
}

/** Mean over cases of one structure's metrics; distances average only the cases where they are finite. */
export interface StructureSummary {
  label: number;
  name: string;
  cases: number;
  meanDice: number;
  sdDice: number;
  meanHd95: number;
  /** Cases whose HD95 entered the mean (finite); the others are listed with their reason per case. */
  hd95Cases: number;
}

export function summarize(cases: StructureMetrics[][], structures: Structure[]): StructureSummary[] {
  return structures.map(({ label, name }, s) => {
    const dices: number[] = [];
    const hds: number[] = [];
    for (const c of cases) {
      const m = c[s];
      if (!m) continue;
      dices.push(m.dice);
      if (Number.isFinite(m.hd95)) hds.push(m.hd95);
    }
    const mean = (x: number[]) => (x.length ? x.reduce((a, b) => a + b, 0) / x.length : NaN);
    const md = mean(dices);
    // Sample standard deviation (n − 1), the one papers report; 0 for a single case.
    const sd = dices.length > 1 ? Math.sqrt(dices.reduce((a, d) => a + (d - md) ** 2, 0) / (dices.length - 1)) : 0;
    return { label, name, cases: dices.length, meanDice: md, sdDice: sd, meanHd95: mean(hds), hd95Cases: hds.length };
  });
}

/**
 * The metrics of a structure absent from both maps of a case, known without looking at the voxels: lets a
 * report add a label found only in other cases without evaluating this case again.
 */
export function absentStructure({ label, name }: Structure): StructureMetrics {
  return { label, name, dice: 1, hd95: NaN, hd: NaN, hdReason: emptyReason('both')!, predVoxels: 0, refVoxels: 0, predMl: 0, refMl: 0 };
}
