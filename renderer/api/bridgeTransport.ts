import type { Pix2RepBridge } from '../../main/contract/bridge.js';
import type { ConnectionState, Transport } from './transport.js';
import { TransportError } from './transport.js';

/**
 * The Electron preload bridge. The main process relays to the engine's utilityProcess and restarts it when it
 * dies (announcing that with `engine.ready`), so from here the link is always open.
 */
export class BridgeTransport implements Transport {
  readonly kind = 'desktop' as const;
  readonly state: ConnectionState = 'open';
  readonly problem = null;

  constructor(private readonly bridge: Pix2RepBridge) {}

  async request(message: string): Promise<string> {
    try {
      return await this.bridge.request(message);
    } catch (err) {
      throw new TransportError(`the desktop shell could not deliver the request: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  onEvent(listener: (message: string) => void): () => void {
    return this.bridge.onEvent(listener);
  }

  onState(): () => void {
    return () => {};
  }

  close(): void {}
}
