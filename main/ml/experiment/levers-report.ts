import { STRUCTURES, type ExperimentResult, type MethodId, type RunResult } from './acdc.js';
import { pairedDifference } from './paired.js';
import { diceTableLines, patientScores, runGroups, signed, wallTimeText } from './dice-table.js';
import { leverArgs, leverSlug, recipeLevers, type Levers } from './levers.js';
import { budgetRecipeText } from './budgets.js';
import { controlText } from './report.js';

/**
 * Report sections of lever runs (issue 10) and of the readout along pretraining. Separate from report.ts, whose
 * table is the budget's own section: a lever section is keyed by budget + overrides + where it was scored, so
 * every lever keeps its own numbers beside the baseline's.
 */

/** The marker key of a lever section: `2h:levers:rotation-180_temperature-0.1:eval-dev`. */
export function leverSectionKey(budget: string, levers: Levers, evalOn: 'test' | 'dev'): string {
  return `${budget}:levers:${leverSlug(levers) || 'none'}:eval-${evalOn}`;
}

/** Whether a run goes to a lever section (overrides that change results, or scoring on dev). */
export function isLeverRun(levers: Levers, evalOn: 'test' | 'dev'): boolean {
  return Object.keys(recipeLevers(levers)).length > 0 || evalOn === 'dev';
}

/** The readout along pretraining as a table (empty string when the run measured none). */
export function readoutMarkdown(r: ExperimentResult): string {
  const rows = r.pretraining.flatMap((p) => (p.readout ?? []).map((q) => ({ method: p.method, q })));
  if (rows.length === 0) return '';
  const lines = [
    '',
    'Linear-probe readout along pretraining (dev patients only; Dice per structure pooled over the scored slices):',
    '',
    '| Pretraining | Step | Epoch | RV | MYO | LV | Mean | Probe steps |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(({ method, q }) => `| ${method} | ${q.step} | ${q.epoch.toFixed(2)} | ${STRUCTURES.map((s) => (q.dice[s.name] ?? NaN).toFixed(3)).join(' | ')} | ${q.mean.toFixed(3)} | ${q.probeSteps} |`),
  ];
  return lines.join('\n') + '\n';
}

/**
 * Validation Dice along downstream training, averaged over seeds, under the `downstream` lever: whether a
 * method had converged by the budget's step count is the question that lever asks. Empty otherwise.
 */
export function downstreamCurveMarkdown(r: ExperimentResult): string {
  if (r.levers?.downstream === undefined) return '';
  const lines = [
    '',
    'Validation Dice along downstream training (model-selection dev patients; at each step the mean over the seeds that reached it), step: Dice:',
    '',
    '| Labeled patients | Method | Curve |',
    '|---|---|---|',
  ];
  let rows = 0;
  for (const { regime, method: m, runs } of runGroups(r)) {
    const curves = runs.filter((x) => x.curve?.length).map((x) => x.curve!);
    if (curves.length === 0) continue;
    const byStep = new Map<number, number[]>();
    for (const c of curves) for (const p of c) byStep.set(p.step, [...(byStep.get(p.step) ?? []), p.dice]);
    const points = [...byStep.entries()].sort(([a], [b]) => a - b).map(([step, ds]) => `${step}: ${(ds.reduce((a, b) => a + b, 0) / ds.length).toFixed(3)}${ds.length < curves.length ? ` (${ds.length} of ${curves.length} seeds)` : ''}`);
    lines.push(`| ${regime} | ${m} | ${points.join(' · ')} |`);
    rows += 1;
  }
  return rows ? lines.join('\n') + '\n' : '';
}

/**
 * The lever's effect: each method with the lever minus the same method without it (the budget's run scored on
 * the same patients, `baseline`), paired per patient, with the lead's 95% t interval (paired.ts).
 */
export function leverEffectMarkdown(r: ExperimentResult, baseline: ExperimentResult | null): string {
  if (Object.keys(recipeLevers(r.levers ?? {})).length === 0) return '';
  const on = r.evaluation?.on ?? 'test';
  if (!baseline) {
    return `\nNo baseline to compare with yet: run the budget without --set${on === 'dev' ? ' (with --eval dev)' : ''}, then this command again (its runs are cached).\n`;
  }
  const lines = [
    '',
    `Effect of the lever: each method with it minus the same method without it (\`${baseline.budget.name}\` baseline, scored on the same ${on} patients), mean Dice (RV, MYO, LV) per patient averaged over seeds, paired, 95% Student-t interval:`,
    '',
    '| Labeled patients | Method | Mean difference | 95% CI | Patients better |',
    '|---|---|---|---|---|',
  ];
  let rows = 0;
  for (const { regime, method: m, runs: a } of runGroups(r)) {
    const b = baseline.runs.filter((x) => x.regime === regime && x.method === m);
    if (b.length === 0) continue;
    const d = pairedDifference(patientScores(a), patientScores(b));
    if (d.n === 0) continue;
    lines.push(`| ${regime} | ${m} | ${signed(d.mean)} | ${d.ci ? `${signed(d.ci[0])} to ${signed(d.ci[1])}` : 'n/a'} | ${d.wins} of ${d.n} |`);
    rows += 1;
  }
  return rows ? lines.join('\n') + '\n' : '\nThe baseline scored no patient in common with this run: no paired comparison.\n';
}

/** The section of one lever run: the overrides, where it was scored, the Dice table, the lever's effect and the readout. */
export function leverMarkdown(r: ExperimentResult, command: string, baseline: ExperimentResult | null = null): string {
  const b = r.budget;
  const levers = r.levers ?? {};
  const ev = r.evaluation ?? { on: 'test' as const, patients: r.split.test, selection: r.split.dev };
  const args = leverArgs(levers);
  const lines = [
    `### ACDC, budget \`${b.name}\`, levers: ${args.length ? args.map((a) => `\`${a}\``).join(', ') : 'none (baseline)'}; scored on ${ev.on} patients`,
    '',
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on backend \`${r.backend}\`, ${wallTimeText(r)}. Reproduce: \`${command}\`.`,
    '',
    `Budget \`${b.name}\` before the overrides: U-Net ${b.model.unet.levels} levels, base ${b.model.unet.base}, D ${b.model.unet.embedding}; pretraining ${b.pretrainSteps} steps; ` +
      `downstream ${b.downstreamSteps} steps (validation every ${b.validateEvery}, patience ${b.patience}), linear probe ${b.linearSteps}; seeds ${b.seeds.join(', ')}. ` +
      `Downstream augmentation levers apply to every method, the supervised baseline included.` +
      budgetRecipeText(b),
    '',
    `Scored on ${ev.on === 'dev' ? 'dev' : 'test'} patients ${ev.patients.join(', ')}; model selection on dev ${ev.selection.join(', ')}` +
      (ev.on === 'dev' ? '; the test patients were not looked at.' : '.'),
    '',
    pretrainingLine(r),
    '',
    `3D Dice (per patient: mean of ED and ES; then mean over patients; mean ± SD over seeds):`,
    '',
    ...diceTableLines(r),
  ];
  return lines.join('\n') + '\n' + leverEffectMarkdown(r, baseline) + downstreamCurveMarkdown(r) + readoutMarkdown(r);
}

/** The marker key of a pretraining-only invocation (`downstreamRuns=off`): beside the lever's own section, never replacing it. */
export function pretrainingOnlySectionKey(budget: string, levers: Levers, evalOn: 'test' | 'dev'): string {
  return `${leverSectionKey(budget, levers, evalOn)}:pretraining-only`;
}

/** The section of a pretraining-only invocation: the pretraining and its readout, the cheap screen of a pretraining lever. */
export function pretrainingOnlyMarkdown(r: ExperimentResult, command: string): string {
  const args = leverArgs(r.levers ?? {}).filter((a) => a !== 'downstreamRuns=off');
  const lines = [
    `### ACDC, budget \`${r.budget.name}\`, pretraining only (readout), levers: ${args.length ? args.map((a) => `\`${a}\``).join(', ') : 'none'}`,
    '',
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on backend \`${r.backend}\`, ${wallTimeText(r)} (resumed pretraining counts only its last part). Reproduce: \`${command}\`.`,
    '',
    `${pretrainingLine(r)} No downstream run was trained (\`downstreamRuns=off\`).`,
  ];
  return lines.join('\n') + '\n' + readoutMarkdown(r);
}

function pretrainingLine(r: ExperimentResult): string {
  const pool = r.pretrainingData ? `${r.pretrainingData.slices} slices${r.pretrainingData.cinePatients ? `, ${r.pretrainingData.cinePatients} pool patients with every cine frame` : ''}` : null;
  if (r.pretraining.length === 0) return `Pretraining: none (\`method=none\`)${pool ? `; the pool (${pool}) is Mean Teacher's unlabeled data.` : '.'}`;
  return `Pretraining: ${r.pretraining.map((p) => `${p.method} ${p.steps} steps, last loss ${p.lastLoss?.toFixed(4) ?? 'n/a'}`).join('; ')}${pool ? ` (${pool}).` : '.'}${controlText(r)}`;
}
