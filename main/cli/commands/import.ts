import { resolve } from 'node:path';
import { createEngine } from '../../engine/create.js';
import { defaultWorkspaceDir } from '../../library/workspace.js';
import { helpOption, jsonOption, parse, UsageError, workspaceOption, type Command } from '../command.js';
import { ProgressBar } from '../progress.js';
import { SUMMARIES } from '../summaries.js';

export const importCommand: Command = {
  name: 'import',
  summary: SUMMARIES.import,
  usage: [
    'pix2rep import PATH... [--labels PATTERN] [--workspace DIR] [--json]',
    '  PATH            files or folders (searched recursively)',
    "  --labels GLOB   file names of label maps to pair with their image (default '*_gt.nii.gz')",
  ].join('\n'),
  async run(argv) {
    const { values, positionals } = parse(argv, { ...workspaceOption, ...jsonOption, ...helpOption, labels: { type: 'string' } }, true);
    if (values.help) {
      process.stdout.write(this.usage + '\n');
      return 0;
    }
    if (positionals.length === 0) throw new UsageError('give at least one file or folder to import');
    const workspace = resolve(values.workspace ?? defaultWorkspaceDir());
    const engine = createEngine({ workspace });
    const bar = new ProgressBar('import');
    const off = engine.onEvent((event, data) => {
      if (event !== 'request.progress') return;
      const p = data as { stage: string; done: number; total: number | null };
      if (p.stage === 'import') bar.update(p.done, p.total);
    });
    try {
      const report = await engine.call('library.import', {
        paths: positionals.map((p) => resolve(p)),
        ...(values.labels ? { labels: values.labels } : {}),
      });
      bar.done();
      if (values.json) {
        process.stdout.write(JSON.stringify({ workspace, ...report }, null, 2) + '\n');
        return 0;
      }
      const lines = [
        `Workspace       ${workspace}`,
        `Files scanned   ${report.filesScanned} in ${report.seconds.toFixed(1)} s`,
        `Added           ${report.studiesAdded} studies, ${report.seriesAdded} series, ${report.volumesAdded} volumes, ${report.annotationsAdded} annotations`,
        `Already there   ${report.alreadyPresent} volumes`,
        `Skipped         ${report.skipped.length} files${report.skipped.length ? ':' : ''}`,
        ...report.skipped.map((s) => `  ${s.path}: ${s.reason}`),
      ];
      process.stdout.write(lines.join('\n') + '\n');
      return 0;
    } finally {
      off();
    }
  },
};
