import { resolve } from 'node:path';
import { createEngine } from '../../engine/create.js';
import { defaultWorkspaceDir } from '../../library/workspace.js';
import { helpOption, jsonOption, parse, UsageError, workspaceOption, type Command } from '../command.js';
import { SUMMARIES } from '../summaries.js';

export const exportCommand: Command = {
  name: 'export',
  summary: SUMMARIES.export,
  usage: [
    'pix2rep export STUDY|VOLUME|ANNOTATION --out DIR [--workspace DIR] [--json]',
    '  STUDY is a study id, study uid or patient name (see pix2rep studies)',
  ].join('\n'),
  async run(argv) {
    const { values, positionals } = parse(argv, { ...workspaceOption, ...jsonOption, ...helpOption, out: { type: 'string' } }, true);
    if (values.help) {
      process.stdout.write(this.usage + '\n');
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError('give exactly one study, volume or annotation to export');
    if (!values.out) throw new UsageError('--out DIR is required');
    const workspace = resolve(values.workspace ?? defaultWorkspaceDir());
    const { files } = await createEngine({ workspace }).call('library.export', { target: positionals[0]!, out: resolve(values.out) });
    if (values.json) process.stdout.write(JSON.stringify({ files }, null, 2) + '\n');
    else process.stdout.write((files.length ? files.map((f) => f.path) : ['no annotations to export']).join('\n') + '\n');
    return 0;
  },
};
