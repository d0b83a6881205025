import { z } from 'zod';
import { method } from './protocol.js';

export const BackendName = z.enum(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
export type BackendName = z.infer<typeof BackendName>;

export const BackendProbe = z.object({
  name: BackendName,
  /** npm package that provides it. */
  package: z.string(),
  available: z.boolean(),
  /** Why it is unavailable, or a note about it. */
  reason: z.string().optional(),
});
export type BackendProbe = z.infer<typeof BackendProbe>;

export const EngineStatus = z.object({
  appVersion: z.string(),
  nodeVersion: z.string(),
  electronVersion: z.string().nullable(),
  platform: z.string(),
  workspace: z.string(),
  backend: z.object({
    /** The backend that would be (or is) used for compute. */
    selected: BackendName.nullable(),
    /** Why it was chosen (forced by PIX2REP_BACKEND, first available, …). */
    reason: z.string(),
    probes: z.array(BackendProbe),
  }),
  /** Engine process uptime in seconds. */
  uptime: z.number(),
});
export type EngineStatus = z.infer<typeof EngineStatus>;

export const engineMethods = {
  'engine.status': method({
    summary: 'Versions, workspace path and compute backend of the running engine.',
    params: z.object({}).strict().optional(),
    result: EngineStatus,
  }),
  'engine.ping': method({
    summary: 'Liveness check; echoes a value.',
    params: z.object({ echo: z.string().max(1000).optional() }).strict().optional(),
    result: z.object({ pong: z.literal(true), echo: z.string().optional(), at: z.number() }),
  }),
  'engine.cancel': method({
    summary: 'Cancel a running request by its id (long operations stop at their next checkpoint).',
    params: z.object({ requestId: z.union([z.string(), z.number()]) }).strict(),
    result: z.object({ cancelled: z.boolean() }),
  }),
};

export const engineEvents = {
  /** Progress of a long request, keyed by the request id that started it. */
  'request.progress': z.object({
    requestId: z.union([z.string(), z.number()]),
    stage: z.string(),
    done: z.number(),
    total: z.number().nullable(),
    message: z.string().optional(),
  }),
  /** The engine process (re)started; the UI should refresh what it shows. */
  'engine.ready': z.object({ workspace: z.string(), restarted: z.boolean() }),
  /** A fatal engine problem the shell wants the user to see. */
  'engine.notice': z.object({ level: z.enum(['info', 'warning', 'error']), message: z.string() }),
};
