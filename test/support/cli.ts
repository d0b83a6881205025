import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from './data.js';

export const PIX2REP_BIN = join(projectRoot, 'bin', 'pix2rep.js');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run `pix2rep ARGS…` to completion as a real child process. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 300_000): CliResult {
  const r = spawnSync(process.execPath, [PIX2REP_BIN, ...args], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Start `pix2rep ARGS…` in the background. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [PIX2REP_BIN, ...args], { cwd: projectRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Resolve with the first stdout line matching `re` (rejects if the process exits first). */
export function waitForLine(child: ChildProcess, re: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; stdout: ${buf}; stderr: ${err}`)), timeoutMs);
    child.stderr?.on('data', (d) => (err += d));
    child.stdout?.on('data', (d) => {
      buf += d;
      const m = buf.match(re);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`process exited (${code}) before printing ${re}; stdout: ${buf}; stderr: ${err}`));
    });
  });
}

/** Run a command in this process (`someCommand.run(argv)`) and return what it wrote to stdout while it ran. */
export async function stdoutOf(run: () => Promise<number>): Promise<{ code: number; out: string }> {
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    const code = await run();
    return { code, out: chunks.join('') };
  } finally {
    process.stdout.write = write;
  }
}

/** As stdoutOf, with stdout parsed as JSON lines, one object a line. */
export async function jsonLinesOf<T = Record<string, unknown>>(run: () => Promise<number>): Promise<{ code: number; lines: T[] }> {
  const { code, out } = await stdoutOf(run);
  const text = out.trim();
  return { code, lines: text ? text.split('\n').map((l) => JSON.parse(l) as T) : [] };
}
