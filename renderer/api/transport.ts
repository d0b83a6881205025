/**
 * A transport carries the contract's JSON envelopes between the renderer and the engine. Two exist: the
 * Electron preload bridge and the browser twin's WebSocket. Both speak request(json) → json plus pushed events,
 * so the client above them does not care which one it got.
 */
export type ConnectionState = 'connecting' | 'open' | 'closed';

export interface Transport {
  /** 'desktop' (Electron preload bridge) or 'browser' (WebSocket to `pix2rep serve`). */
  readonly kind: 'desktop' | 'browser';
  /** Send one request envelope; resolves with the matching response envelope, rejects on transport failure. */
  request(message: string, id: string): Promise<string>;
  /** Event envelopes pushed by the engine. Returns an unsubscribe function. */
  onEvent(listener: (message: string) => void): () => void;
  readonly state: ConnectionState;
  /** Why the transport is not open (shown to the user), or null. */
  readonly problem: string | null;
  onState(listener: (state: ConnectionState, problem: string | null) => void): () => void;
  close(): void;
}

/** Raised by a transport when a request could not be delivered or its answer was lost. */
export class TransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransportError';
  }
}
