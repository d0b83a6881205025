/**
 * Messages between a host (the Electron shell's engine host, or any Node parent using child_process.fork) and
 * the engine process. Contract envelopes travel as JSON strings, untouched, so the host never needs to parse
 * what it relays; `seq` is the host's own correlation number, independent of the caller's request id (two
 * callers may well both pick id 1).
 */
export type HostToEngine = { kind: 'request'; seq: number; message: string } | { kind: 'shutdown' };

export type EngineToHost =
  | { kind: 'ready'; workspace: string; pid: number }
  | { kind: 'response'; seq: number; message: string }
  | { kind: 'event'; message: string }
  /** The engine could not start (bad workspace, broken install); the host shows the message. */
  | { kind: 'fatal'; message: string };

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function isHostToEngine(x: unknown): x is HostToEngine {
  if (!isRecord(x)) return false;
  if (x.kind === 'shutdown') return true;
  return x.kind === 'request' && Number.isSafeInteger(x.seq) && typeof x.message === 'string';
}

export function isEngineToHost(x: unknown): x is EngineToHost {
  if (!isRecord(x)) return false;
  switch (x.kind) {
    case 'ready':
      return typeof x.workspace === 'string' && typeof x.pid === 'number';
    case 'response':
      return Number.isSafeInteger(x.seq) && typeof x.message === 'string';
    case 'event':
    case 'fatal':
      return typeof x.message === 'string';
    default:
      return false;
  }
}

/**
 * The value of `--workspace DIR` or `--workspace=DIR` in an argument list, or undefined. Electron puts its own
 * switches and the app path before ours, so the flag is looked for anywhere rather than at a fixed position.
 */
export function workspaceFromArgv(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--workspace') {
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) throw new Error('--workspace needs a folder path');
      return v;
    }
    if (a.startsWith('--workspace=')) {
      const v = a.slice('--workspace='.length);
      if (!v) throw new Error('--workspace needs a folder path');
      return v;
    }
  }
  return undefined;
}
