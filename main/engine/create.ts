import { resolve } from 'node:path';
import { Engine } from './engine.js';
import { engineStatus } from './status.js';
import { libraryHandlers } from '../library/handlers.js';
import { annotationHandlers } from '../library/annotation-handlers.js';
import { jobHandlers } from '../jobs/handlers.js';
import { embedHandlers } from '../embed/handlers.js';
import { mlHandlers } from '../ml/fewshot/handlers.js';
import { pretrainHandlers } from '../ml/pretrain/handlers.js';

export interface EngineOptions {
  /** Workspace folder (created on first use). */
  workspace: string;
}

/**
 * Build the engine for one workspace with every domain's handlers registered. Each transport (WebSocket
 * server, Electron utilityProcess, CLI, tests) calls this and then only feeds it messages.
 */
export function createEngine(opts: EngineOptions): Engine {
  const workspace = resolve(opts.workspace);
  const engine = new Engine();
  engine.register({
    'engine.status': () => engineStatus(workspace),
    'engine.ping': (p) => ({ pong: true as const, at: Date.now(), ...(p?.echo !== undefined ? { echo: p.echo } : {}) }),
  });
  engine.register(libraryHandlers(workspace));
  engine.register(annotationHandlers(workspace));
  engine.register(jobHandlers(workspace));
  engine.register(embedHandlers(workspace));
  engine.register(mlHandlers(workspace));
  engine.register(pretrainHandlers(workspace));
  return engine;
}
