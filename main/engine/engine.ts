import { z } from 'zod';
import {
  RequestEnvelope,
  events,
  methods,
  type EventData,
  type EventName,
  type MethodName,
  type ParsedParams,
  type ResponseEnvelope,
  type Result,
} from '../contract/index.js';
import { EngineFailure, toEngineError } from './errors.js';

/** What a handler gets besides its params: a way to report progress and to notice cancellation. */
export interface CallContext {
  requestId: string | number;
  signal: AbortSignal;
  progress(stage: string, done: number, total: number | null, message?: string): void;
  emit<E extends EventName>(event: E, data: EventData<E>): void;
}

export type Handler<M extends MethodName> = (params: ParsedParams<M>, ctx: CallContext) => Promise<Result<M>> | Result<M>;
export type Handlers = { [M in MethodName]?: Handler<M> };

export type EventListener = (event: EventName, data: unknown) => void;

/**
 * Transport-agnostic request dispatcher. Validates every request against the contract, runs its handler,
 * validates the result, and always answers with a typed response: a malformed request never throws out of
 * `handle`, so no transport can be crashed by a client.
 */
export class Engine {
  private readonly handlers: Handlers = {};
  private readonly listeners = new Set<EventListener>();
  private readonly running = new Map<string | number, AbortController>();

  constructor() {
    this.register({
      'engine.cancel': ({ requestId }) => {
        const ctl = this.running.get(requestId);
        ctl?.abort();
        return { cancelled: ctl !== undefined };
      },
    });
  }

  register(handlers: Handlers): this {
    Object.assign(this.handlers, handlers);
    return this;
  }

  onEvent(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit<E extends EventName>(event: E, data: EventData<E>): void {
    const checked = events[event].safeParse(data);
    if (!checked.success) throw new Error(`engine emitted an invalid ${event} event: ${checked.error.message}`);
    for (const l of this.listeners) l(event, checked.data);
  }

  /** Handle one raw message (string or parsed JSON). Never throws. */
  async handle(raw: unknown): Promise<ResponseEnvelope> {
    let parsed: unknown = raw;
    if (typeof raw === 'string') {
      try {
        parsed = JSON.parse(raw);
      } catch {
        return { id: null, ok: false, error: { code: 'BAD_REQUEST', message: 'message is not valid JSON' } };
      }
    }
    const env = RequestEnvelope.safeParse(parsed);
    if (!env.success) {
      const id = idOf(parsed);
      return { id, ok: false, error: { code: 'BAD_REQUEST', message: `not a request envelope: ${issues(env.error)}` } };
    }
    const { id, method, params } = env.data;
    if (!Object.hasOwn(methods, method)) {
      return { id, ok: false, error: { code: 'UNKNOWN_METHOD', message: `unknown method "${method}"` } };
    }
    const name = method as MethodName;
    const spec = methods[name];
    const p = spec.params.safeParse(params);
    if (!p.success) {
      return { id, ok: false, error: { code: 'INVALID_PARAMS', message: `${method}: ${issues(p.error)}` } };
    }
    const handler = this.handlers[name] as Handler<MethodName> | undefined;
    if (!handler) {
      return { id, ok: false, error: { code: 'UNKNOWN_METHOD', message: `method "${method}" is not available in this engine` } };
    }
    if (this.running.has(id)) {
      return { id, ok: false, error: { code: 'BAD_REQUEST', message: `request id ${String(id)} is already running` } };
    }
    const ctl = new AbortController();
    this.running.set(id, ctl);
    const ctx: CallContext = {
      requestId: id,
      signal: ctl.signal,
      progress: (stage, done, total, message) =>
        this.emit('request.progress', { requestId: id, stage, done, total, ...(message ? { message } : {}) }),
      emit: (event, data) => this.emit(event, data),
    };
    try {
      const result = await handler(p.data as ParsedParams<MethodName>, ctx);
      if (ctl.signal.aborted) throw new EngineFailure('CANCELLED', `${method} was cancelled`);
      const r = spec.result.safeParse(result);
      if (!r.success) throw new EngineFailure('INTERNAL', `${method} produced an invalid result: ${issues(r.error)}`);
      return { id, ok: true, result: r.data };
    } catch (err) {
      const e = ctl.signal.aborted ? { code: 'CANCELLED' as const, message: `${method} was cancelled` } : toEngineError(err);
      return { id, ok: false, error: e };
    } finally {
      this.running.delete(id);
    }
  }

  /** Typed in-process call (CLI, tests): throws EngineFailure on an error response. */
  async call<M extends MethodName>(method: M, params?: z.input<(typeof methods)[M]['params']>): Promise<Result<M>> {
    const res = await this.handle({ id: `local-${++localIds}`, method, params });
    if (!res.ok) throw new EngineFailure(res.error.code, res.error.message, res.error.details);
    return res.result as Result<M>;
  }
}

let localIds = 0;

function idOf(x: unknown): string | number | null {
  if (x && typeof x === 'object' && 'id' in x) {
    const id = (x as { id: unknown }).id;
    if (typeof id === 'string' || typeof id === 'number') return id;
  }
  return null;
}

function issues(err: z.ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') + ': ' : ''}${i.message}`)
    .join('; ');
}
