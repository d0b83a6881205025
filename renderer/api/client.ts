import type {
  EngineError,
  ErrorCode,
  EventData,
  EventName,
  MethodName,
  Params,
  Result,
} from '../../main/contract/index.js';
import type { ConnectionState, Transport } from './transport.js';
import { TransportError } from './transport.js';

export type ProgressData = EventData<'request.progress'>;

/** Codes a call can fail with: the engine's own, plus the link itself failing. */
export type ApiErrorCode = ErrorCode | 'DISCONNECTED' | 'BAD_RESPONSE';

export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly method: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** A call in flight: its id (what `engine.cancel` takes), its answer, and its progress. */
export interface RunningCall<M extends MethodName> {
  readonly id: string;
  readonly result: Promise<Result<M>>;
  onProgress(listener: (p: ProgressData) => void): () => void;
  /** Ask the engine to stop it; resolves true when the engine knew the request. */
  cancel(): Promise<boolean>;
}

type AnyListener = (data: unknown) => void;

/**
 * The renderer's one way to talk to the engine: typed calls and events over whichever transport the shell
 * provides. Responses and events are trusted to match the contract (the engine validates what it sends);
 * this side only checks the envelope shape so a broken message becomes an error, not a crash.
 */
export class EngineClient {
  private seq = 0;
  private readonly prefix: string;
  private readonly listeners = new Map<string, Set<AnyListener>>();
  private readonly progress = new Map<string, Set<(p: ProgressData) => void>>();
  private readonly unsubscribeTransport: () => void;

  constructor(readonly transport: Transport) {
    // Several pages may share one engine; a random prefix keeps their request ids apart.
    this.prefix = randomTag();
    this.unsubscribeTransport = transport.onEvent((m) => this.dispatch(m));
  }

  get kind(): Transport['kind'] {
    return this.transport.kind;
  }

  get state(): ConnectionState {
    return this.transport.state;
  }

  onState(listener: (state: ConnectionState, problem: string | null) => void): () => void {
    return this.transport.onState(listener);
  }

  call<M extends MethodName>(method: M, ...params: ParamsArg<M>): Promise<Result<M>> {
    return this.start(method, ...params).result;
  }

  start<M extends MethodName>(method: M, ...params: ParamsArg<M>): RunningCall<M> {
    const id = `${this.prefix}-${++this.seq}`;
    const progressListeners = new Set<(p: ProgressData) => void>();
    this.progress.set(id, progressListeners);
    const envelope = JSON.stringify(params[0] === undefined ? { id, method } : { id, method, params: params[0] });
    // Sent on the next microtask so that listeners the caller attaches right after start() see every event.
    const result = Promise.resolve()
      .then(() => this.transport.request(envelope, id))
      .then(
        (raw) => unwrap<M>(raw, method),
        (err: unknown) => {
          const message = err instanceof TransportError ? err.message : `transport failure: ${String(err)}`;
          throw new ApiError('DISCONNECTED', message, method);
        },
      )
      .finally(() => this.progress.delete(id));
    return {
      id,
      result,
      onProgress: (listener) => {
        progressListeners.add(listener);
        return () => progressListeners.delete(listener);
      },
      cancel: async () => (await this.call('engine.cancel', { requestId: id })).cancelled,
    };
  }

  on<E extends EventName>(event: E, listener: (data: EventData<E>) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    const l = listener as AnyListener;
    set.add(l);
    return () => set.delete(l);
  }

  close(): void {
    this.unsubscribeTransport();
    this.transport.close();
  }

  private dispatch(message: string): void {
    let env: unknown;
    try {
      env = JSON.parse(message);
    } catch {
      return;
    }
    if (!env || typeof env !== 'object' || typeof (env as { event?: unknown }).event !== 'string') return;
    const { event, data } = env as { event: string; data: unknown };
    if (event === 'request.progress') {
      const p = data as ProgressData;
      for (const l of this.progress.get(String(p.requestId)) ?? []) l(p);
    }
    for (const l of this.listeners.get(event) ?? []) {
      try {
        l(data);
      } catch (err) {
        // One broken listener must not starve the others of the event.
        console.error(`listener for ${event} failed`, err);
      }
    }
  }
}

/** `params` is optional exactly when the contract allows omitting it. */
type ParamsArg<M extends MethodName> = undefined extends Params<M> ? [params?: Params<M>] : [params: Params<M>];

function unwrap<M extends MethodName>(raw: string, method: string): Result<M> {
  let env: unknown;
  try {
    env = JSON.parse(raw);
  } catch {
    throw new ApiError('BAD_RESPONSE', `the engine answered ${method} with something that is not JSON`, method);
  }
  if (env && typeof env === 'object' && 'ok' in env) {
    const e = env as { ok: boolean; result?: unknown; error?: EngineError };
    if (e.ok) return e.result as Result<M>;
    if (e.error && typeof e.error.message === 'string') throw new ApiError(e.error.code, e.error.message, method);
  }
  throw new ApiError('BAD_RESPONSE', `the engine answered ${method} with a message that is not a response`, method);
}

function randomTag(): string {
  const bytes = new Uint8Array(6);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(36).padStart(2, '0')).join('');
}

/** An error from a call, in plain words for the user: what failed and, where we can tell, what to do. */
export function describeApiError(err: unknown, what?: string): string {
  const prefix = what ? `${what}: ` : '';
  if (!(err instanceof ApiError)) return `${prefix}${err instanceof Error ? err.message : String(err)}`;
  switch (err.code) {
    case 'UNKNOWN_METHOD':
      return `${prefix}this version of the engine cannot do that yet (${err.method} is not available).`;
    case 'DISCONNECTED':
      return `${prefix}${err.message}.`;
    case 'ENGINE_UNAVAILABLE':
      return `${prefix}the engine stopped and is restarting; try again in a moment (${err.message}).`;
    case 'CANCELLED':
      return `${prefix}cancelled.`;
    case 'BAD_INPUT':
    case 'NOT_FOUND':
      return `${prefix}${err.message}`;
    case 'INVALID_PARAMS':
      return `${prefix}the request was not accepted (${err.message}).`;
    case 'UNAUTHORIZED':
      return `${prefix}the engine refused this page (${err.message}); open the address that \`pix2rep serve\` printed.`;
    default:
      return `${prefix}the engine failed (${err.code}): ${err.message}`;
  }
}
