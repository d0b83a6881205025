import type { ErrorCode, EngineError } from '../contract/protocol.js';

/** An error the engine answers to the caller as a typed error (code + message). */
export class EngineFailure extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'EngineFailure';
  }
}

/** Any thrown value (Error, plain object from itk-wasm, string) as a typed engine error. */
export function toEngineError(err: unknown): EngineError {
  if (err instanceof EngineFailure) return { code: err.code, message: err.message, details: err.details };
  if (err instanceof Error) {
    if (err.name === 'AbortError') return { code: 'CANCELLED', message: 'cancelled' };
    return { code: 'INTERNAL', message: err.message || err.name };
  }
  if (typeof err === 'string') return { code: 'INTERNAL', message: err };
  if (err && typeof err === 'object' && 'message' in err && typeof (err as { message: unknown }).message === 'string') {
    return { code: 'INTERNAL', message: (err as { message: string }).message };
  }
  return { code: 'INTERNAL', message: 'unknown error' };
}

/** A short, plain-words reason for an error thrown by a reader or library (never a stack). */
export function describeError(err: unknown): string {
  return toEngineError(err).message;
}
