/**
 * Runs the engine in an Electron utilityProcess, so imports and training never block the window, and keeps it
 * alive through EngineSupervisor. Events from the engine (and the supervisor's own engine.ready/engine.notice)
 * go to every app window.
 */
import { utilityProcess, type WebContents } from 'electron';
import { EngineSupervisor, type EngineProcess } from './supervisor.js';
import { CHANNELS } from './channels.js';
import type { LogLine } from './log.js';

export interface EngineHostOptions {
  /** Absolute path of the built engine entry (dist/engine/process-entry.js). */
  entry: string;
  workspace: string;
  /** The webContents that receive engine events (the app windows, never DevTools or foreign pages). */
  targets: () => WebContents[];
  log: LogLine;
  engineLog: LogLine;
  onCrashLoop: (info: { crashes: number; lastExit: string }) => void;
  /** Also sees every event envelope (JSON): the shell's own reactions, e.g. to job.state. */
  onEngineEvent?: (message: string) => void;
}

export function startEngineHost(opts: EngineHostOptions): EngineSupervisor {
  const supervisor = new EngineSupervisor({
    spawn: () => spawnUtilityEngine(opts.entry, opts.workspace, opts.engineLog),
    onEvent: (message) => {
      try {
        opts.onEngineEvent?.(message);
      } catch (err) {
        opts.log(`engine host: event listener failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      for (const wc of opts.targets()) {
        if (!wc.isDestroyed()) wc.send(CHANNELS.event, message);
      }
    },
    onCrashLoop: opts.onCrashLoop,
    log: opts.log,
  });
  supervisor.start();
  return supervisor;
}

function spawnUtilityEngine(entry: string, workspace: string, engineLog: LogLine): EngineProcess {
  const child = utilityProcess.fork(entry, ['--workspace', workspace], {
    serviceName: 'Pix2Rep engine',
    stdio: 'pipe',
    env: { ...process.env },
  });
  pipeLines(child.stdout, (line) => engineLog(line));
  pipeLines(child.stderr, (line) => engineLog(`[stderr] ${line}`));
  child.on('spawn', () => engineLog(`engine process started (pid ${child.pid ?? '?'})`));
  child.on('error', (type, location) => engineLog(`engine process ${type} at ${location}`));
  return {
    postMessage: (m) => child.postMessage(m),
    onMessage: (l) => void child.on('message', l),
    // utilityProcess reports only a code; a crash by signal shows up as a non-zero code.
    onExit: (l) => void child.on('exit', (code) => l(code, null)),
    kill: () => void child.kill(),
  };
}

function pipeLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    rest += chunk;
    const lines = rest.split(/\r?\n/);
    rest = lines.pop() ?? '';
    for (const line of lines) if (line) onLine(line);
  });
  stream.on('end', () => {
    if (rest) onLine(rest);
    rest = '';
  });
}
