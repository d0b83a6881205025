import { summarize, type Structure, type StructureMetrics, type StructureSummary } from './evaluate.js';

/** One evaluated case: a prediction/reference pair (one frame of it for a cine). */
export interface EvaluatedCase {
  name: string;
  pred: string;
  ref: string;
  /** Frame index, only for multi-frame label maps. */
  frame?: number;
  metrics: StructureMetrics[];
}

export interface EvaluationReport {
  structures: Structure[];
  cases: EvaluatedCase[];
  mean: StructureSummary[];
  unmatched: { predictions: string[]; references: string[] };
  conventions: Record<string, string>;
}

/** How the numbers were computed, carried in every report so a table can be compared with other tools'. */
export const CONVENTIONS = {
  dice: '3D Dice per structure and case; 1 when the structure is absent from both maps, 0 when from exactly one',
  hd95:
    'mm, MedPy convention: 95th percentile (linear interpolation) of the union of both directed distance sets ' +
    'between 6-connected surface voxels, exact Euclidean distance with the voxel spacing; null when a map lacks ' +
    'the structure (hdReason says which)',
  mean: 'Dice mean and sample SD over cases; HD95 mean over the cases where it is defined (hd95Cases)',
};

export function buildReport(
  structures: Structure[],
  cases: EvaluatedCase[],
  unmatched: EvaluationReport['unmatched'] = { predictions: [], references: [] },
): EvaluationReport {
  return { structures, cases, mean: summarize(cases.map((c) => c.metrics), structures), unmatched, conventions: CONVENTIONS };
}

/** JSON with NaN and ±Infinity written as null (JSON has neither; the case's hdReason explains the null). */
export function reportJson(report: EvaluationReport): string {
  return JSON.stringify(report, (_key, value) => (typeof value === 'number' && !Number.isFinite(value) ? null : value), 2);
}

/** A fixed-width table: one row per case, Dice and HD95 per structure, then mean and SD rows and footnotes. */
export function reportTable(report: EvaluationReport): string {
  const { structures, cases, mean } = report;
  const header = ['case', ...structures.flatMap((s) => [`${s.name} Dice`, `${s.name} HD95`])];
  const dice = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
  const mm = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : x === Infinity ? 'inf' : 'n/a');
  const rows = cases.map((c) => [c.name, ...c.metrics.flatMap((m) => [dice(m.dice), mm(m.hd95)])]);
  const partial = mean.some((m) => m.hd95Cases < m.cases);
  rows.push(['mean', ...mean.flatMap((m) => [dice(m.meanDice), mm(m.meanHd95) + (m.hd95Cases < m.cases ? '*' : '')])]);
  if (cases.length > 1) rows.push(['sd', ...mean.flatMap((m) => [dice(m.sdDice), ''])]);
  const widths = header.map((h, col) => Math.max(h.length, ...rows.map((r) => r[col]!.length)));
  const line = (r: string[]) => r.map((v, col) => (col === 0 ? v.padEnd(widths[col]!) : v.padStart(widths[col]!))).join('  ').trimEnd();
  const out = [
    `${cases.length} case${cases.length === 1 ? '' : 's'}: Dice and HD95 (mm) per structure`,
    '',
    line(header),
    ...rows.slice(0, cases.length).map(line),
    '-'.repeat(widths.reduce((a, w) => a + w + 2, -2)),
    ...rows.slice(cases.length).map(line),
  ];
  const notes: string[] = [];
  for (const c of cases) for (const m of c.metrics) if (m.hdReason && m.refVoxels + m.predVoxels > 0) notes.push(`  ${c.name} ${m.name}: ${m.hdReason}`);
  if (partial) out.push('', '* mean HD95 over the cases where it is defined (a structure missing from a map has none)');
  if (notes.length) out.push('', 'HD95 undefined:', ...notes);
  if (report.unmatched.predictions.length) {
    out.push('', 'Predictions without a reference (not evaluated):', ...report.unmatched.predictions.map((p) => `  ${p}`));
  }
  return out.join('\n');
}
