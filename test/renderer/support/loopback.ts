import type { Engine } from '../../../main/engine/engine.js';
import type { ConnectionState, Transport } from '../../../renderer/api/transport.js';

/**
 * Connects the renderer's client straight to a real in-process Engine (the dispatcher every transport feeds),
 * so store and component tests exercise real request validation, progress and cancellation.
 */
export class LoopbackTransport implements Transport {
  readonly kind = 'browser' as const;
  state: ConnectionState = 'open';
  problem: string | null = null;
  readonly sent: string[] = [];
  private readonly stateListeners = new Set<(s: ConnectionState, p: string | null) => void>();

  constructor(private readonly engine: Engine) {}

  async request(message: string): Promise<string> {
    this.sent.push(message);
    return JSON.stringify(await this.engine.handle(message));
  }

  onEvent(listener: (message: string) => void): () => void {
    return this.engine.onEvent((event, data) => listener(JSON.stringify({ event, data })));
  }

  onState(listener: (s: ConnectionState, p: string | null) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Simulate the link dropping or coming back. */
  setState(state: ConnectionState, problem: string | null = null): void {
    this.state = state;
    this.problem = problem;
    for (const l of this.stateListeners) l(state, problem);
  }

  close(): void {}
}

/** Resolve after pending promise callbacks (and the microtasks they queue) have run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setTimeout(r, 0));
}
