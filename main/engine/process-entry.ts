/**
 * Entry point of the engine process. The Electron shell starts it as a utilityProcess (messages over
 * `process.parentPort`); any Node parent can start it with child_process.fork (messages over the IPC channel),
 * which is how it is tested where no Electron binary exists. Plain Node: never imports electron.
 *
 * Usage: process-entry.js [--workspace DIR]
 */
import { resolve } from 'node:path';
import { defaultWorkspaceDir } from '../library/workspace.js';
import { attachRunner } from '../jobs/index.js';
import { workerForHost } from '../jobs/worker-entry.js';
import { createEngine } from './create.js';
import { isHostToEngine, workspaceFromArgv, type EngineToHost } from './process-protocol.js';

/** The part of Electron's ParentPort (a MessagePortMain) this process uses; typed here to stay electron-free. */
interface ParentPortLike {
  on(event: 'message', listener: (e: { data: unknown }) => void): unknown;
  postMessage(message: unknown): void;
}

interface HostChannel {
  send(message: EngineToHost): void;
  onMessage(listener: (message: unknown) => void): void;
}

function openChannel(): HostChannel {
  const parentPort = (process as NodeJS.Process & { parentPort?: ParentPortLike }).parentPort;
  if (parentPort) {
    return {
      send: (m) => parentPort.postMessage(m),
      onMessage: (l) => void parentPort.on('message', (e) => l(e.data)),
    };
  }
  const send = process.send?.bind(process);
  if (send) {
    // A forked engine whose parent went away would otherwise live on as an orphan holding the workspace.
    process.on('disconnect', () => process.exit(0));
    return { send: (m) => void send(m), onMessage: (l) => void process.on('message', l) };
  }
  throw new Error('the engine process must be started by the Electron shell (utilityProcess) or child_process.fork');
}

function main(): void {
  const channel = openChannel();
  let workspace: string;
  let engine: ReturnType<typeof createEngine>;
  try {
    workspace = resolve(workspaceFromArgv(process.argv) ?? defaultWorkspaceDir());
    engine = createEngine({ workspace });
  } catch (err) {
    channel.send({ kind: 'fatal', message: `the engine could not start: ${err instanceof Error ? err.message : String(err)}` });
    // Give the message time to leave before the process goes.
    setTimeout(() => process.exit(1), 100);
    return;
  }

  engine.onEvent((event, data) => channel.send({ kind: 'event', message: JSON.stringify({ event, data }) }));
  // Jobs run here (each in its own worker child) unless another process holds the workspace's runner lock.
  // Bundled (the packaged app), workers start from the compiled job-worker.js beside this file, not through tsx.
  const runner = Promise.resolve()
    .then(() => attachRunner(engine, { workspace, ...workerForHost(import.meta.url) }))
    .catch((err: unknown) => {
      channel.send({ kind: 'event', message: JSON.stringify({ event: 'engine.notice', data: { level: 'error', message: `jobs cannot run: ${err instanceof Error ? err.message : String(err)}` } }) });
      return null;
    });

  channel.onMessage((raw) => {
    if (!isHostToEngine(raw)) {
      process.stderr.write(`engine: ignored a malformed host message\n`);
      return;
    }
    if (raw.kind === 'shutdown') {
      // Let running jobs checkpoint (they resume at the next start), then go.
      void runner.then((r) => r?.stop()).finally(() => process.exit(0));
      return;
    }
    const { seq, message } = raw;
    void engine.handle(message).then((response) => {
      let text: string;
      try {
        text = JSON.stringify(response);
      } catch (err) {
        // A result that cannot be serialised is an engine bug; the caller still gets exactly one answer.
        text = JSON.stringify({
          id: response.id,
          ok: false,
          error: { code: 'INTERNAL', message: `response could not be serialised: ${err instanceof Error ? err.message : String(err)}` },
        });
      }
      channel.send({ kind: 'response', seq, message: text });
    });
  });

  channel.send({ kind: 'ready', workspace, pid: process.pid });
}

main();
