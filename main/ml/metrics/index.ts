/**
 * Segmentation metrics: 3D Dice, surface distances (HD95, HD) with anisotropic spacing, cardiac volumes and
 * function, and the per-structure evaluation of a prediction against its reference.
 */
export { diceFromCounts, dice, labelCounts, type LabelCounts } from './dice.js';
export { squaredEdt } from './edt.js';
export { checkGrid, gridSize, maxLabel, MAX_LABEL, voxelMl, type Grid, type LabelArray } from './grid.js';
export { surfaceDistance, surface, emptyReason, type SurfaceDistance } from './hausdorff.js';
export { percentileInPlace } from './percentile.js';
export {
  ACDC_LABELS,
  MYOCARDIAL_DENSITY,
  cardiacMeasures,
  ejectionFraction,
  frameVolumes,
  type CardiacLabels,
  type CardiacMeasures,
  type FrameVolumes,
} from './cardiac.js';
export {
  DEFAULT_STRUCTURE_NAMES,
  absentStructure,
  checkSameGrid,
  distinctLabels,
  evaluateLabels,
  presentLabels,
  structureName,
  summarize,
  type NamedLabels,
  type Structure,
  type StructureMetrics,
  type StructureSummary,
} from './evaluate.js';
export { buildReport, reportJson, reportTable, CONVENTIONS, type EvaluatedCase, type EvaluationReport } from './report.js';
export { pairFolders, pairNames, isNiftiName, stripNifti, type Pair, type Pairing } from './pairing.js';
