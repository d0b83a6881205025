import { resolve } from 'node:path';
import { createEngine } from '../../engine/create.js';
import { defaultWorkspaceDir } from '../../library/workspace.js';
import { helpOption, jsonOption, parse, workspaceOption, type Command } from '../command.js';
import { SUMMARIES } from '../summaries.js';

export const studiesCommand: Command = {
  name: 'studies',
  summary: SUMMARIES.studies,
  usage: 'pix2rep studies [--workspace DIR] [--json]',
  async run(argv) {
    const { values } = parse(argv, { ...workspaceOption, ...jsonOption, ...helpOption });
    if (values.help) {
      process.stdout.write(this.usage + '\n');
      return 0;
    }
    const workspace = resolve(values.workspace ?? defaultWorkspaceDir());
    const { studies } = await createEngine({ workspace }).call('library.listStudies', {});
    if (values.json) {
      process.stdout.write(JSON.stringify({ workspace, studies }, null, 2) + '\n');
      return 0;
    }
    if (studies.length === 0) {
      process.stdout.write(`No studies in ${workspace}. Add some with: pix2rep import PATH\n`);
      return 0;
    }
    const lines: string[] = [];
    for (const st of studies) {
      lines.push(`${st.patientName}  ${st.date ?? 'no date'}  ${st.description || '(no description)'}  [${st.id}]`);
      for (const se of st.series) {
        lines.push(`  ${se.modality || '--'}  ${se.description || '(no description)'}`);
        for (const v of se.volumes) {
          const ann = v.annotations.length
            ? v.annotations.map((a) => `${a.source}${a.modelId ? `(${a.modelId})` : ''}: ${a.annotatedSlices} slices`).join(', ')
            : 'not annotated';
          const frames = v.frames > 1 ? ` x ${v.frames} frames` : '';
          lines.push(`    ${v.name}  ${v.dims.join('x')}${frames}  ${v.spacing.map((s) => +s.toFixed(3)).join('x')} mm${v.phase ? `  ${v.phase}` : ''}  ${ann}  [${v.id}]`);
        }
      }
    }
    const n = studies.reduce((a, s) => a + s.series.reduce((b, se) => b + se.volumes.length, 0), 0);
    lines.push(`${studies.length} studies, ${n} volumes`);
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};
