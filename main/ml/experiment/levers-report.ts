import { STRUCTURES, type ExperimentResult, type MethodId } from './acdc.js';
import { leverArgs, leverSlug, recipeLevers, type Levers } from './levers.js';

/**
 * Report sections of lever runs (issue 10) and of the readout along pretraining. Separate from report.ts, whose
 * table is the budget's own section: a lever section is keyed by budget + overrides + where it was scored, so
 * every lever keeps its own numbers beside the baseline's.
 */

const ORDER: MethodId[] = ['supervised', 'pix2rep-linear', 'pix2rep-finetune', 'pix2rep-v2-linear', 'pix2rep-v2-finetune', 'mean-teacher'];

function meanSd(xs: number[]): string {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length < 2) return m.toFixed(3);
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
  return `${m.toFixed(3)} ± ${sd.toFixed(3)}`;
}

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

/** The section of one lever run: the overrides, where it was scored, the Dice table and the readout. */
export function leverMarkdown(r: ExperimentResult, command: string): string {
  const b = r.budget;
  const levers = r.levers ?? {};
  const ev = r.evaluation ?? { on: 'test' as const, patients: r.split.test, selection: r.split.dev };
  const args = leverArgs(levers);
  const lines = [
    `### ACDC, budget \`${b.name}\`, levers: ${args.length ? args.map((a) => `\`${a}\``).join(', ') : 'none (baseline)'}; scored on ${ev.on} patients`,
    '',
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on backend \`${r.backend}\`, wall time ${(r.wallSeconds / 60).toFixed(1)} min. Reproduce: \`${command}\`.`,
    '',
    `Budget \`${b.name}\` before the overrides: U-Net ${b.model.unet.levels} levels, base ${b.model.unet.base}, D ${b.model.unet.embedding}; pretraining ${b.pretrainSteps} steps; ` +
      `downstream ${b.downstreamSteps} steps, linear probe ${b.linearSteps}; seeds ${b.seeds.join(', ')}. ` +
      `Downstream augmentation levers apply to every method, the supervised baseline included.`,
    '',
    `Scored on ${ev.on === 'dev' ? 'dev' : 'test'} patients ${ev.patients.join(', ')}; model selection on dev ${ev.selection.join(', ')}` +
      (ev.on === 'dev' ? '; the test patients were not looked at.' : '.'),
    '',
    `Pretraining: ${r.pretraining.map((p) => `${p.method} ${p.steps} steps, last loss ${p.lastLoss?.toFixed(4) ?? 'n/a'}`).join('; ')}` +
      (r.pretrainingData ? ` (${r.pretrainingData.slices} slices${r.pretrainingData.cinePatients ? `, ${r.pretrainingData.cinePatients} pool patients with every cine frame` : ''}).` : '.'),
    '',
    `3D Dice (per patient: mean of ED and ES; then mean over patients; mean ± SD over seeds):`,
    '',
    '| Labeled patients | Method | RV | MYO | LV | Mean | Kept step (per seed) |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const regime of [...b.regimes, ...b.baselineRegimes]) {
    for (const m of ORDER) {
      const runs = r.runs.filter((x) => x.regime === regime && x.method === m);
      if (runs.length === 0) continue;
      const name = m === 'mean-teacher' ? `mean-teacher (on ${runs[0]!.base})` : m;
      const cells = [...STRUCTURES.map((s) => meanSd(runs.map((x) => x.mean[s.name]!))), meanSd(runs.map((x) => x.mean.mean!))];
      lines.push(`| ${regime} | ${name} | ${cells.join(' | ')} | ${runs.map((x) => `${x.bestStep}/${x.steps}`).join(', ')} |`);
    }
  }
  return lines.join('\n') + '\n' + readoutMarkdown(r);
}
