import { resolve } from 'node:path';
import { engineStatus } from '../../engine/status.js';
import { defaultWorkspaceDir } from '../../library/workspace.js';
import { electronInfo } from '../electron-info.js';
import { parse, jsonOption, workspaceOption, type Command } from '../command.js';
import { SUMMARIES } from '../summaries.js';

export const doctorCommand: Command = {
  name: 'doctor',
  summary: SUMMARIES.doctor,
  usage: 'pix2rep doctor [--workspace DIR] [--json]',
  async run(argv) {
    const { values } = parse(argv, { ...workspaceOption, ...jsonOption });
    const workspace = resolve(values.workspace ?? defaultWorkspaceDir());
    const status = engineStatus(workspace);
    const electron = electronInfo();
    const report = {
      appVersion: status.appVersion,
      node: status.nodeVersion,
      platform: status.platform,
      electron,
      workspace,
      backend: status.backend,
    };
    if (values.json) {
      process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      return 0;
    }
    const lines = [
      `Pix2Rep Workstation ${report.appVersion}`,
      `Node.js      ${report.node} (${report.platform})`,
      `Electron     ${electron.version ?? 'not installed'}${electron.binary ? '' : ` - ${electron.reason}`}`,
      `Workspace    ${workspace}`,
      `Backend      ${status.backend.selected ?? 'none'} (${status.backend.reason})`,
      'Backends found:',
      ...status.backend.probes.map((p) => `  ${p.available ? 'yes' : 'no '}  ${p.name.padEnd(15)} ${p.package}${p.reason ? `: ${p.reason}` : ''}`),
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};
