/**
 * The typed contract between the UI (renderer, CLI, tests) and the engine. Every request, response and
 * event lives here as a zod schema; the renderer imports only *types* from this folder.
 */
import type { z } from 'zod';
import { engineEvents, engineMethods } from './engine.js';
import { libraryEvents, libraryMethods } from './library.js';
import { annotationMethods } from './annotations.js';
import { jobEvents, jobMethods } from './jobs.js';
import { embedMethods } from './embed.js';
import { mlMethods } from './ml.js';

export * from './protocol.js';
export * from './engine.js';
export * from './library.js';
export * from './annotations.js';
export * from './jobs.js';
export * from './embed.js';
export * from './ml.js';

export const methods = {
  ...engineMethods,
  ...libraryMethods,
  ...annotationMethods,
  ...jobMethods,
  ...embedMethods,
  ...mlMethods,
};

export const events = {
  ...engineEvents,
  ...libraryEvents,
  ...jobEvents,
};

export type Methods = typeof methods;
export type MethodName = keyof Methods;
/** What a caller passes (defaults not yet applied). */
export type Params<M extends MethodName> = z.input<Methods[M]['params']>;
/** What the engine handler receives (after validation and defaults). */
export type ParsedParams<M extends MethodName> = z.output<Methods[M]['params']>;
export type Result<M extends MethodName> = z.output<Methods[M]['result']>;

export type Events = typeof events;
export type EventName = keyof Events;
export type EventData<E extends EventName> = z.output<Events[E]>;
