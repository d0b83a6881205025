import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../../library/atomic.js';
import { STRUCTURES, type ExperimentResult, type MethodId, type RunResult } from './acdc.js';
import { pairedDifference, type PairedDifference } from './paired.js';
import { diceTableLines, METHOD_ORDER, patientScores, signed, wallTimeText } from './dice-table.js';
import { budgetRecipeText } from './budgets.js';

/** The Markdown section of one experiment: settings, the Dice table (mean ± SD over seeds), the command. */
export function experimentMarkdown(r: ExperimentResult, command: string): string {
  const b = r.budget;
  const lines = [
    `### ACDC, budget \`${b.name}\``,
    '',
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on backend \`${r.backend}\`, ${wallTimeText(r)}. ` +
      `Reproduce: \`${command}\`.`,
    '',
    `Budget: U-Net ${b.model.unet.levels} levels, base ${b.model.unet.base}, D ${b.model.unet.embedding}; ${b.preprocess.size}² at ${b.preprocess.spacingMm} mm; ` +
      `pretraining ${b.pretrainSteps} steps of batch ${b.pretrainBatch} on ${r.split.pool} pool patients (images only); downstream ${b.downstreamSteps} steps ` +
      `(linear probe ${b.linearSteps}), batch ${b.batch}, selection on dev Dice every ${b.validateEvery} steps (patience ${b.patience || 'off'}); seeds ${b.seeds.join(', ')}` +
      (b.baselineRegimes.length ? `; the supervised baseline alone also at ${b.baselineRegimes.join(' and ')} labeled patients.` : '.') +
      budgetRecipeText(b),
    '',
    `Pretraining: ${r.pretraining.map((p) => `${p.method} ${p.steps} steps, last loss ${p.lastLoss?.toFixed(4) ?? 'n/a'}`).join('; ')}.` + controlText(r),
    '',
    `Test patients (${r.split.test.length}): ${r.split.test.join(', ')}. Dev: ${r.split.dev.join(', ')}. Labeled: ${Object.entries(r.split.labeled).map(([k, v]) => `${k} → ${v.join(', ')}`).join('; ')}.`,
    '',
    '3D Dice on the test patients (per patient: mean of ED and ES; then mean over patients; mean ± SD over seeds):',
    '',
    ...diceTableLines(r),
  ];
  lines.push('', 'Kept step 0 means the dev patients preferred the untrained starting point: training did not help within this budget.');
  lines.push(...pairedSection(r));
  return lines.join('\n') + '\n';
}

/** What the untrained control is, when the experiment ran one. */
export function controlText(r: ExperimentResult): string {
  if (!r.control) return '';
  return (
    ` Untrained control: \`untrained-finetune\` is the fine-tune recipe (the same rates, augmentation and steps) from the ${r.control.method} network after ` +
    `${r.control.steps} pretraining step${r.control.steps === 1 ? '' : 's'}: what fine-tuning gives without what pretraining learned.`
  );
}

const describe = (d: PairedDifference) =>
  `${signed(d.mean)} | ${d.ci ? `${signed(d.ci[0])} to ${signed(d.ci[1])}` : 'n/a'} | ${d.wins} of ${d.n}`;

const FINETUNED: MethodId[] = ['pix2rep-finetune', 'pix2rep-v2-finetune'];

/**
 * The question the table answers, in numbers: each method minus the supervised baseline per test patient
 * (paired), each fine-tuned method minus the untrained control (what pretraining adds to the recipe), and how the baseline with more labeled patients compares with the Pix2Rep method the dev
 * patients prefer at one (chosen on validation Dice, never on the test patients).
 */
function pairedSection(r: ExperimentResult): string[] {
  const b = r.budget;
  const runsOf = (regime: string, m: MethodId) => r.runs.filter((x) => x.regime === regime && x.method === m);
  const out = [
    '',
    'Paired differences in mean Dice (RV, MYO, LV) per test patient, averaged over seeds, with a 95% Student-t interval:',
    '',
    '| Labeled patients | Comparison | Mean difference | 95% CI | Patients better |',
    '|---|---|---|---|---|',
  ];
  // One row per method that ran, each minus the reference method's runs of the same regime.
  const rowsAgainst = (regime: string, reference: MethodId, methods: MethodId[]) => {
    const ref = runsOf(regime, reference);
    if (ref.length === 0) return;
    for (const m of methods) {
      const runs = runsOf(regime, m);
      if (runs.length) out.push(`| ${regime} | ${m} − ${reference} | ${describe(pairedDifference(patientScores(runs), patientScores(ref)))} |`);
    }
  };
  for (const regime of b.regimes) {
    rowsAgainst(regime, 'supervised', METHOD_ORDER.slice(1));
    // What pretraining adds to the fine-tune recipe.
    rowsAgainst(regime, 'untrained-finetune', FINETUNED);
  }
  // Mean Teacher counts as a Pix2Rep method only when it was built on a pretrained backbone.
  const usesPretraining = (m: MethodId) => (m === 'mean-teacher' ? runsOf('1', m)[0]?.base?.startsWith('pix2rep') === true : m !== 'supervised' && m !== 'untrained-finetune');
  const pix2rep = METHOD_ORDER.filter((m) => usesPretraining(m) && runsOf('1', m).length > 0);
  const validation = (m: MethodId) => {
    const xs = runsOf('1', m).map((x) => x.validationDice ?? 0);
    return xs.reduce((a, v) => a + v, 0) / xs.length;
  };
  if (pix2rep.length && b.baselineRegimes.length) {
    const best = pix2rep.reduce((a, m) => (validation(m) > validation(a) ? m : a));
    for (const regime of b.baselineRegimes) {
      const base = runsOf(regime, 'supervised');
      if (base.length) out.push(`| ${regime} vs 1 | ${best} at 1 − supervised at ${regime} | ${describe(pairedDifference(patientScores(runsOf('1', best)), patientScores(base)))} |`);
    }
    out.push('', `The last rows compare ${best} (the Pix2Rep method with the best dev-patient Dice at one labeled patient) with the supervised baseline given more labeled patients: where the difference is ≤ 0, the baseline has caught up.`);
  }
  return out;
}

/**
 * Writes the section into `path` between markers for this budget, replacing a previous run of the same
 * budget and keeping everything else in the file.
 */
export function writeExperimentSection(path: string, budget: string, markdown: string): void {
  const start = `<!-- experiment:acdc:${budget}:start -->`;
  const end = `<!-- experiment:acdc:${budget}:end -->`;
  const block = `${start}\n${markdown}${end}\n`;
  let text = existsSync(path) ? readFileSync(path, 'utf8') : '# Evaluation\n\n';
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i >= 0 && j > i) text = text.slice(0, i) + block + text.slice(j + end.length + 1);
  else text = text.replace(/\n*$/, '\n\n') + block;
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, Buffer.from(text, 'utf8'));
}
