import type { Pix2RepBridge } from '../../main/contract/bridge.js';
import { BridgeTransport } from './bridgeTransport.js';
import { EngineClient } from './client.js';
import type { Transport } from './transport.js';
import { WsTransport, domSocket, socketUrlFor } from './wsTransport.js';

export { EngineClient, ApiError, describeApiError } from './client.js';
export type { RunningCall, ProgressData } from './client.js';
export type { ConnectionState, Transport } from './transport.js';

/** Name of the preload global, typed against the contract's constant. */
const BRIDGE_GLOBAL: typeof import('../../main/contract/bridge.js').BRIDGE_GLOBAL = 'pix2rep';

/** The preload bridge when this page runs inside the desktop shell, else null. */
export function desktopBridge(): Pix2RepBridge | null {
  const b = (globalThis as Record<string, unknown>)[BRIDGE_GLOBAL] as Pix2RepBridge | undefined;
  return b && typeof b.request === 'function' ? b : null;
}

/** Pick the transport at start: the Electron bridge when present, else the browser twin's WebSocket. */
export function createTransport(): Transport {
  const bridge = desktopBridge();
  if (bridge) return new BridgeTransport(bridge);
  const { url, token } = socketUrlFor(window.location);
  return new WsTransport(url, domSocket, {}, !token);
}

let current: EngineClient | null = null;

/** Install the app's client (main.ts; tests install one over a fake transport). */
export function provideClient(client: EngineClient): void {
  current = client;
}

export function useClient(): EngineClient {
  if (!current) throw new Error('no engine client installed: call provideClient() before using the stores');
  return current;
}
