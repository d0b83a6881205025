import { appVersion } from '../engine/version.js';
import { UsageError } from './command.js';
import { commands } from './registry.js';

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `pix2rep ${appVersion()}: Pix2Rep Workstation from the command line (headless: servers, scripts, overnight runs)`,
    '',
    'Usage: pix2rep <command> [options]   (pix2rep <command> --help for its options)',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command that touches data accepts --workspace DIR (default: PIX2REP_WORKSPACE, else the per-user data folder).',
  ].join('\n');
}

/** Runs one command line; returns the process exit code (0 ok, 1 failure, 2 usage error). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help() + '\n');
    return 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(appVersion() + '\n');
    return 0;
  }
  const entry = commands.find((c) => c.name === name);
  if (!entry) {
    process.stderr.write(`pix2rep: unknown command "${name}"\n\n${help()}\n`);
    return 2;
  }
  const cmd = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${entry.summary}\n\n${cmd.usage}\n`);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`pix2rep ${name}: ${err.message}\n\n${cmd.usage}\n`);
      return 2;
    }
    const msg = err instanceof Error ? err.message : String((err as { message?: unknown })?.message ?? err);
    process.stderr.write(`pix2rep ${name}: ${msg}\n`);
    if (process.env.PIX2REP_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}
