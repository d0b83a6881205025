import type { z } from 'zod';

/** Validate a job's stored parameters; the message names the job kind and the offending fields. */
export function parseParams<S extends z.ZodTypeAny>(schema: S, params: unknown, kind: string): z.output<S> {
  const r = schema.safeParse(params);
  if (!r.success) {
    const what = r.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.length ? i.path.join('.') + ': ' : ''}${i.message}`)
      .join('; ');
    throw new Error(`invalid ${kind} job parameters: ${what}`);
  }
  return r.data;
}
