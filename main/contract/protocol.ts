import { z } from 'zod';

/**
 * The wire protocol shared by every transport (Electron IPC relay, WebSocket, in-process tests).
 * Messages are JSON. A request carries an id chosen by the caller; the engine answers exactly once with
 * a response carrying the same id. Events are pushed by the engine at any time and carry no id.
 */
export const RequestEnvelope = z
  .object({
    id: z.union([z.string().min(1).max(100), z.number().int()]),
    method: z.string().min(1).max(100),
    params: z.unknown().optional(),
  })
  .strict();
export type RequestEnvelope = z.infer<typeof RequestEnvelope>;

export const ErrorCode = z.enum([
  /** The message is not JSON or not a request envelope. */
  'BAD_REQUEST',
  /** No such method. */
  'UNKNOWN_METHOD',
  /** The params do not match the method's schema. */
  'INVALID_PARAMS',
  /** A referenced record (study, volume, model, job) does not exist. */
  'NOT_FOUND',
  /** Input data (a file, a folder) cannot be used; the message names it and says why. */
  'BAD_INPUT',
  /** The request was cancelled by the caller. */
  'CANCELLED',
  /** The transport refused the caller (missing or wrong token, wrong sender). */
  'UNAUTHORIZED',
  /** The engine process is down (crashed, restarting): retry once it reports `engine.ready`. */
  'ENGINE_UNAVAILABLE',
  /** A bug or an unexpected failure inside the engine; the engine keeps serving. */
  'INTERNAL',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const EngineError = z.object({
  code: ErrorCode,
  message: z.string(),
  details: z.unknown().optional(),
});
export type EngineError = z.infer<typeof EngineError>;

export const ResponseEnvelope = z.discriminatedUnion('ok', [
  z.object({ id: z.union([z.string(), z.number()]).nullable(), ok: z.literal(true), result: z.unknown() }),
  z.object({ id: z.union([z.string(), z.number()]).nullable(), ok: z.literal(false), error: EngineError }),
]);
export type ResponseEnvelope = z.infer<typeof ResponseEnvelope>;

export const EventEnvelope = z.object({ event: z.string(), data: z.unknown() });
export type EventEnvelope = z.infer<typeof EventEnvelope>;

/** A method's schemas: what the caller sends, what the engine answers. */
export interface MethodSpec<P extends z.ZodTypeAny = z.ZodTypeAny, R extends z.ZodTypeAny = z.ZodTypeAny> {
  params: P;
  result: R;
  /** Human summary, shown by `pix2rep` tooling and in docs. */
  summary: string;
}

export function method<P extends z.ZodTypeAny, R extends z.ZodTypeAny>(spec: MethodSpec<P, R>): MethodSpec<P, R> {
  return spec;
}
