import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../../library/atomic.js';
import { STRUCTURES, type ExperimentResult, type MethodId } from './acdc.js';

/** Mean ± sample SD over seeds (SD omitted with one seed: there is no spread to report). */
function meanSd(xs: number[]): string {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length < 2) return m.toFixed(3);
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
  return `${m.toFixed(3)} ± ${sd.toFixed(3)}`;
}

const ORDER: MethodId[] = ['supervised', 'pix2rep-linear', 'pix2rep-finetune', 'pix2rep-v2-linear', 'pix2rep-v2-finetune', 'mean-teacher'];

/** The Markdown section of one experiment: settings, the Dice table (mean ± SD over seeds), the command. */
export function experimentMarkdown(r: ExperimentResult, command: string): string {
  const b = r.budget;
  const lines = [
    `### ACDC, budget \`${b.name}\``,
    '',
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on backend \`${r.backend}\`, wall time ${(r.wallSeconds / 60).toFixed(1)} min. ` +
      `Reproduce: \`${command}\`.`,
    '',
    `Budget: U-Net ${b.model.unet.levels} levels, base ${b.model.unet.base}, D ${b.model.unet.embedding}; ${b.preprocess.size}² at ${b.preprocess.spacingMm} mm; ` +
      `pretraining ${b.pretrainSteps} steps of batch ${b.pretrainBatch} on ${r.split.pool} pool patients (images only); downstream ${b.downstreamSteps} steps ` +
      `(linear probe ${b.linearSteps}), batch ${b.batch}, selection on dev Dice every ${b.validateEvery} steps (patience ${b.patience || 'off'}); seeds ${b.seeds.join(', ')}` +
      (b.baselineRegimes.length ? `; the supervised baseline alone also at ${b.baselineRegimes.join(' and ')} labeled patients.` : '.'),
    '',
    `Pretraining: ${r.pretraining.map((p) => `${p.method} ${p.steps} steps, last loss ${p.lastLoss?.toFixed(4) ?? 'n/a'}`).join('; ')}.`,
    '',
    `Test patients (${r.split.test.length}): ${r.split.test.join(', ')}. Dev: ${r.split.dev.join(', ')}. Labeled: ${Object.entries(r.split.labeled).map(([k, v]) => `${k} → ${v.join(', ')}`).join('; ')}.`,
    '',
    '3D Dice on the test patients (per patient: mean of ED and ES; then mean over patients; mean ± SD over seeds):',
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
  lines.push('', 'Kept step 0 means the dev patients preferred the untrained starting point: training did not help within this budget.');
  return lines.join('\n') + '\n';
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
