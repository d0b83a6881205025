import { parseArgs, type ParseArgsConfig } from 'node:util';

/** One `pix2rep` sub-command. Commands live one per file under main/cli/commands/ and are listed in registry.ts. */
export interface Command {
  name: string;
  summary: string;
  /** Usage lines printed by `pix2rep NAME --help`. */
  usage: string;
  run(argv: string[]): Promise<number>;
}

/** Thrown for bad command-line input: printed without a stack, exit code 2. */
export class UsageError extends Error {}

/** parseArgs with strict checking, turning its errors into UsageError. */
export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Options every workspace-bound command accepts. */
export const workspaceOption = { workspace: { type: 'string' } } as const;
export const jsonOption = { json: { type: 'boolean', default: false } } as const;
export const helpOption = { help: { type: 'boolean', short: 'h', default: false } } as const;
