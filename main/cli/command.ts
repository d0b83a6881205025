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

/** A `--name N` option that must be a positive integer; undefined when absent. */
export function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got "${value}"`);
  return n;
}
