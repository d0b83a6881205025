import type { ConnectionState, Transport } from './transport.js';
import { TransportError } from './transport.js';

/** The browser twin's WebSocket path; typed against the contract's constant so the two cannot drift. */
export const WS_PATH: typeof import('../../main/contract/bridge.js').WS_PATH = '/api';

/** The minimal WebSocket surface used here (the DOM's WebSocket satisfies it). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
export type SocketFactory = (url: string) => SocketLike;

export interface WsOptions {
  /** First reconnect delay; doubles per failed attempt up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** How long a request made while disconnected waits for the link before failing. */
  queueTimeoutMs?: number;
}

interface Pending {
  message: string;
  resolve(response: string): void;
  reject(err: Error): void;
  timer?: ReturnType<typeof setTimeout>;
}

const OPEN = 1;

/** Build the socket URL from the page's own address: same host, `/api`, and the page's `?token=`. */
export function socketUrlFor(location: { protocol: string; host: string; search: string }): { url: string; token: string | null } {
  const token = new URLSearchParams(location.search).get('token');
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const query = token ? `?token=${encodeURIComponent(token)}` : '';
  return { url: `${scheme}//${location.host}${WS_PATH}${query}`, token };
}

/**
 * WebSocket link to `pix2rep serve`. Requests made while the link is down wait (bounded) for it to come back;
 * requests in flight when it drops fail at once, since their answers are lost with the socket. The link
 * reconnects by itself with exponential backoff, so an engine restart heals without a page reload.
 */
export class WsTransport implements Transport {
  readonly kind = 'browser' as const;
  private socket: SocketLike | null = null;
  private current: ConnectionState = 'connecting';
  private why: string | null = null;
  private attempts = 0;
  private everOpened = false;
  private openedThisTime = false;
  private closedByUs = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly inFlight = new Map<string, Pending>();
  private readonly queued = new Map<string, Pending>();
  private readonly eventListeners = new Set<(message: string) => void>();
  private readonly stateListeners = new Set<(state: ConnectionState, problem: string | null) => void>();
  private readonly baseDelay: number;
  private readonly maxDelay: number;
  private readonly queueTimeout: number;

  constructor(
    private readonly url: string,
    private readonly factory: SocketFactory,
    opts: WsOptions = {},
    /** Set when the page was opened without its token: the server will refuse us, so say why up front. */
    private readonly missingToken = false,
  ) {
    this.baseDelay = opts.baseDelayMs ?? 250;
    this.maxDelay = opts.maxDelayMs ?? 5000;
    this.queueTimeout = opts.queueTimeoutMs ?? 15_000;
    this.connect();
  }

  get state(): ConnectionState {
    return this.current;
  }

  get problem(): string | null {
    return this.why;
  }

  request(message: string, id: string): Promise<string> {
    if (this.closedByUs) return Promise.reject(new TransportError('the connection to the engine was closed by the page'));
    return new Promise<string>((resolve, reject) => {
      const p: Pending = { message, resolve, reject };
      if (this.current === 'open' && this.socket) {
        this.send(id, p);
        return;
      }
      p.timer = setTimeout(() => {
        this.queued.delete(id);
        reject(new TransportError(`the engine could not be reached for ${Math.round(this.queueTimeout / 1000)} s${this.why ? `: ${this.why}` : ''}`));
      }, this.queueTimeout);
      this.queued.set(id, p);
    });
  }

  onEvent(listener: (message: string) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  onState(listener: (state: ConnectionState, problem: string | null) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  close(): void {
    this.closedByUs = true;
    clearTimeout(this.retryTimer);
    this.failAll(this.inFlight, 'the connection to the engine was closed by the page');
    this.failAll(this.queued, 'the connection to the engine was closed by the page');
    this.socket?.close(1000, 'page closed');
    this.socket = null;
    this.setState('closed', 'closed by the page');
  }

  private connect(): void {
    this.setState('connecting', this.why);
    let socket: SocketLike;
    try {
      socket = this.factory(this.url);
    } catch (err) {
      this.lost(`cannot open ${this.redacted()}: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    this.socket = socket;
    this.openedThisTime = false;
    socket.onopen = () => {
      this.attempts = 0;
      this.everOpened = true;
      this.openedThisTime = true;
      this.setState('open', null);
      for (const [id, p] of this.queued) {
        clearTimeout(p.timer);
        this.send(id, p);
      }
      this.queued.clear();
    };
    socket.onmessage = (ev) => this.receive(ev.data);
    socket.onerror = () => {
      /* a close event always follows; handled there */
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.closedByUs) return;
      this.lost(this.describeClose(ev.code, ev.reason));
    };
  }

  private send(id: string, p: Pending): void {
    if (!this.socket || this.socket.readyState !== OPEN) {
      p.reject(new TransportError('the connection to the engine is not open'));
      return;
    }
    this.inFlight.set(id, p);
    try {
      this.socket.send(p.message);
    } catch (err) {
      this.inFlight.delete(id);
      p.reject(new TransportError(`could not send to the engine: ${err instanceof Error ? err.message : String(err)}`));
    }
  }

  private receive(data: unknown): void {
    if (typeof data !== 'string') return;
    let msg: unknown;
    try {
      msg = JSON.parse(data);
    } catch {
      return; // the engine only sends JSON; anything else is not ours to interpret
    }
    if (!msg || typeof msg !== 'object') return;
    if ('event' in msg) {
      for (const l of this.eventListeners) l(data);
      return;
    }
    const id = (msg as { id?: unknown }).id;
    if (typeof id !== 'string' && typeof id !== 'number') return;
    const p = this.inFlight.get(String(id));
    if (!p) return;
    this.inFlight.delete(String(id));
    p.resolve(data);
  }

  private lost(reason: string): void {
    this.failAll(this.inFlight, `lost the connection to the engine before it answered (${reason}); the request may or may not have completed`);
    this.attempts += 1;
    const delay = Math.min(this.baseDelay * 2 ** (this.attempts - 1), this.maxDelay);
    this.setState('closed', reason);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private failAll(map: Map<string, Pending>, message: string): void {
    for (const p of map.values()) {
      clearTimeout(p.timer);
      p.reject(new TransportError(message));
    }
    map.clear();
  }

  private describeClose(code: number, reason: string): string {
    if (this.missingToken) return 'this page address has no access token: open the full address that `pix2rep serve` printed';
    if (!this.everOpened) {
      return `cannot reach the engine at ${this.redacted()}: is \`pix2rep serve\` running, and is this the address it printed (token included)?`;
    }
    if (!this.openedThisTime) {
      // It worked before and is refused now: most often `pix2rep serve` was restarted, with a new token.
      return `cannot reconnect to the engine at ${this.redacted()}: if \`pix2rep serve\` was restarted, open the new address it printed (the token changes on every run)`;
    }
    return `the engine closed the connection${reason ? `: ${reason}` : ` (code ${code})`}`;
  }

  /** The socket URL without its token, for messages the user may paste somewhere. */
  private redacted(): string {
    return this.url.replace(/\?token=[^&]*/, '');
  }

  private setState(state: ConnectionState, problem: string | null): void {
    const changed = state !== this.current || problem !== this.why;
    this.current = state;
    this.why = problem;
    if (changed) for (const l of this.stateListeners) l(state, problem);
  }
}

/** The browser's WebSocket behind the SocketLike surface (kept narrow so tests can script a socket). */
export function domSocket(url: string): SocketLike {
  const ws = new WebSocket(url);
  const s: SocketLike = {
    get readyState() {
      return ws.readyState;
    },
    send: (data) => ws.send(data),
    close: (code, reason) => ws.close(code, reason),
    onopen: null,
    onclose: null,
    onerror: null,
    onmessage: null,
  };
  ws.onopen = (e) => s.onopen?.(e);
  ws.onclose = (e) => s.onclose?.({ code: e.code, reason: e.reason });
  ws.onerror = (e) => s.onerror?.(e);
  ws.onmessage = (e) => s.onmessage?.({ data: e.data });
  return s;
}
