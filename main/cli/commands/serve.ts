import { resolve } from 'node:path';
import { defaultWorkspaceDir } from '../../library/workspace.js';
import { startServer } from '../../serve/server.js';
import { parse, UsageError, workspaceOption, type Command } from '../command.js';
import { SUMMARIES } from '../summaries.js';

export const serveCommand: Command = {
  name: 'serve',
  summary: SUMMARIES.serve,
  usage: 'pix2rep serve [--port N] [--workspace DIR]',
  async run(argv) {
    const { values } = parse(argv, { ...workspaceOption, port: { type: 'string' } });
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535, got "${values.port}"`);
    const workspace = resolve(values.workspace ?? defaultWorkspaceDir());
    const server = await startServer({ workspace, port });
    process.stdout.write(`Pix2Rep browser twin: ${server.url}\n`);
    process.stdout.write(`Workspace: ${workspace}\nOpen the address above in a browser on this machine. Ctrl+C stops.\n`);
    await new Promise<void>((done) => {
      const stop = () => void server.close().then(done);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
};
