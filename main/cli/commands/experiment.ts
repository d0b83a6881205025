import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend } from '../../ml/backends/init.js';
import { BUDGETS, type BudgetName } from '../../ml/experiment/budgets.js';
import { loadBaselineResult, runAcdcExperiment, saveResult } from '../../ml/experiment/acdc.js';
import { experimentMarkdown, writeExperimentSection } from '../../ml/experiment/report.js';
import { LEVERS, leverArgs, parseLevers, pretrainingOnly, type Levers } from '../../ml/experiment/levers.js';
import { isLeverRun, leverMarkdown, leverSectionKey, pretrainingOnlyMarkdown, pretrainingOnlySectionKey, readoutMarkdown } from '../../ml/experiment/levers-report.js';
import { defaultWorkspaceDir } from '../../library/workspace.js';
import { helpOption, jsonOption, parse, UsageError, workspaceOption, type Command } from '../command.js';
import { SUMMARIES } from '../summaries.js';

const USAGE = [
  'pix2rep experiment acdc [--budget smoke|2h|night|paper] [--set KEY=VALUE …] [--eval test|dev] [--jobs N] [--data DIR]',
  '                        [--work DIR] [--report FILE] [--json]',
  '',
  "Runs the paper's protocol on ACDC with the patient split fixed in resources/experiments/acdc-split.json:",
  'Pix2Rep (v1, v2) pretraining on the pool images, then supervised, linear-probe, fine-tune and Mean Teacher',
  'models per labeled regime and seed, scored by 3D Dice (RV, MYO, LV) on the test patients. The table goes to',
  '--report FILE (default docs/EVALUATION.md, in a section per budget). --data defaults to ../shared/data/acdc;',
  'pretraining checkpoints go to --work DIR (default: the workspace experiments/acdc-BUDGET folder; resumable;',
  'smoke uses a temporary folder).',
  '',
  '--jobs N (default 1) trains up to N downstream runs at once, each on a worker thread of its own (one core',
  'each: a run uses one). The results, the cached runs and the report are the same as with --jobs 1.',
  '',
  'Levers (issue 10): --set KEY=VALUE (repeatable) changes one thing of the budget\'s recipe; --eval dev scores on',
  'dev patients kept out of model selection instead of the test patients (choose levers there, never on test).',
  'Such runs go to their own report section (budget + overrides + eval) and their own work sub-folder',
  '(levers/…); the budget\'s own section and cached runs are left alone. Keys:',
  ...Object.entries(LEVERS).map(([k, v]) => `  ${k.padEnd(12)} ${v.help}`),
  'Readout along pretraining (linear-probe Dice on dev patients) is on for budgets other than smoke.',
].join('\n');

export const experimentCommand: Command = {
  name: 'experiment',
  summary: SUMMARIES.experiment,
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      { ...workspaceOption, ...jsonOption, ...helpOption, budget: { type: 'string', default: 'smoke' }, data: { type: 'string' }, work: { type: 'string' }, report: { type: 'string' }, set: { type: 'string', multiple: true }, eval: { type: 'string', default: 'test' }, jobs: { type: 'string', default: '1' } },
      true,
    );
    if (values.help) {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    if (positionals[0] !== 'acdc' || positionals.length !== 1) throw new UsageError('usage: pix2rep experiment acdc [--budget …] (acdc is the only experiment)');
    const budget = values.budget as BudgetName;
    if (!(budget in BUDGETS)) throw new UsageError(`--budget must be one of ${Object.keys(BUDGETS).join(', ')}, got "${values.budget}"`);
    const evalOn = values.eval as 'test' | 'dev';
    if (evalOn !== 'test' && evalOn !== 'dev') throw new UsageError(`--eval must be test or dev, got "${values.eval}"`);
    const jobs = Number(values.jobs);
    if (!/^\d+$/.test(values.jobs as string) || !Number.isSafeInteger(jobs) || jobs < 1) throw new UsageError(`--jobs must be a positive integer, got "${values.jobs}"`);
    let levers: Levers;
    try {
      levers = parseLevers(values.set ?? []);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const leverRun = isLeverRun(levers, evalOn);
    const dataDir = resolve(values.data ?? process.env.PIX2REP_ACDC ?? join(process.cwd(), '..', 'shared', 'data', 'acdc'));
    const temp = !values.work && budget === 'smoke' ? mkdtempSync(join(tmpdir(), 'p2r-acdc-smoke-')) : null;
    const workDir = resolve(values.work ?? temp ?? join(values.workspace ?? defaultWorkspaceDir(), 'experiments', `acdc-${budget}`));
    const report = resolve(values.report ?? join(process.cwd(), 'docs', 'EVALUATION.md'));
    const active = await initBackend();
    const ac = new AbortController();
    const onSigint = () => {
      ac.abort();
      process.once('SIGINT', () => process.exit(130));
    };
    process.once('SIGINT', onSigint);
    try {
      const result = await runAcdcExperiment({
        dataDir,
        budget,
        workDir,
        levers,
        evalOn,
        jobs,
        signal: ac.signal,
        onLog: (t) => (values.json ? process.stdout.write(JSON.stringify({ event: 'log', text: t }) + '\n') : process.stderr.write(t + '\n')),
      });
      const command =
        `pix2rep experiment acdc --budget ${budget}${leverArgs(levers).map((a) => ` --set ${a}`).join('')}${evalOn === 'dev' ? ' --eval dev' : ''}` +
        (values.report ? ` --report ${values.report}` : '');
      let markdown: string;
      if (pretrainingOnly(levers)) {
        // No runs to compare: the saved result of the same levers (the baseline of other lever runs) stays.
        markdown = pretrainingOnlyMarkdown(result, command);
        writeExperimentSection(report, pretrainingOnlySectionKey(budget, levers, evalOn), markdown);
      } else {
        // A lever run never replaces the budget's own section: it gets one keyed by its overrides.
        saveResult(workDir, result);
        markdown = leverRun ? leverMarkdown(result, command, loadBaselineResult(workDir, evalOn)) : experimentMarkdown(result, command) + readoutMarkdown(result);
        writeExperimentSection(report, leverRun ? leverSectionKey(budget, levers, evalOn) : budget, markdown);
      }
      if (values.json) {
        process.stdout.write(
          JSON.stringify({
            event: 'done',
            backend: active.name,
            wallSeconds: result.wallSeconds,
            report,
            levers,
            evaluation: result.evaluation,
            pretraining: result.pretraining,
            runs: result.runs.map(({ patients: _p, ...r }) => r),
          }) + '\n',
        );
      } else process.stdout.write(`${markdown}\nwritten to ${report}\n`);
      return 0;
    } finally {
      process.removeListener('SIGINT', onSigint);
      if (temp) rmSync(temp, { recursive: true, force: true });
    }
  },
};
