/**
 * What the Electron preload exposes to the renderer as `window.pix2rep` (through contextBridge). The renderer
 * uses it when present, else it talks to `pix2rep serve` over a WebSocket carrying the same JSON messages.
 * Messages are the contract's envelopes serialised as JSON strings, so both transports are byte-identical.
 */
export interface Pix2RepBridge {
  /** Send one request envelope (JSON); resolves with its response envelope (JSON). */
  request(message: string): Promise<string>;
  /** Subscribe to event envelopes (JSON); returns an unsubscribe function. */
  onEvent(listener: (message: string) => void): () => void;
  /** Native dialogs (desktop only). Resolve with absolute paths, or [] when the user cancels. */
  openFolder(): Promise<string[]>;
  openFiles(filters?: { name: string; extensions: string[] }[]): Promise<string[]>;
  /** Where the shell runs: lets the UI show "desktop" vs "browser twin". */
  readonly shell: 'electron';
}

/** The global name under which the preload exposes the bridge. */
export const BRIDGE_GLOBAL = 'pix2rep';

/** WebSocket path of the browser twin; the token is passed as `?token=`. */
export const WS_PATH = '/api';
