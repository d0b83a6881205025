import { describe, expect, it } from 'vitest';
import { Engine } from '../../../main/engine/engine.js';
import { createEngine } from '../../../main/engine/create.js';
import { EngineFailure } from '../../../main/engine/errors.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const workspace = mkdtempSync(join(tmpdir(), 'pix2rep-dispatch-'));

describe('engine dispatcher', () => {
  const engine = createEngine({ workspace });

  it('answers a valid request with a validated result', async () => {
    const res = await engine.handle({ id: 1, method: 'engine.ping', params: { echo: 'hi' } });
    expect(res).toMatchObject({ id: 1, ok: true, result: { pong: true, echo: 'hi' } });
  });

  it.each([
    ['not JSON', '{oops', 'BAD_REQUEST', null],
    ['a JSON array', '[1,2]', 'BAD_REQUEST', null],
    ['no method', JSON.stringify({ id: 7 }), 'BAD_REQUEST', 7],
    ['an unknown method', JSON.stringify({ id: 'a', method: 'nope.nothing' }), 'UNKNOWN_METHOD', 'a'],
    ['a prototype key as method', JSON.stringify({ id: 'p', method: 'constructor' }), 'UNKNOWN_METHOD', 'p'],
    ['wrong param types', JSON.stringify({ id: 2, method: 'engine.ping', params: { echo: 5 } }), 'INVALID_PARAMS', 2],
    ['unexpected params', JSON.stringify({ id: 3, method: 'engine.ping', params: { extra: true } }), 'INVALID_PARAMS', 3],
    ['extra envelope keys', JSON.stringify({ id: 4, method: 'engine.ping', evil: 1 }), 'BAD_REQUEST', 4],
  ])('answers %s with a typed error', async (_what, raw, code, id) => {
    const res = await engine.handle(raw);
    expect(res.ok).toBe(false);
    if (!res.ok) {
      expect(res.error.code).toBe(code);
      expect(res.error.message.length).toBeGreaterThan(0);
    }
    expect(res.id).toBe(id);
  });

  it('keeps serving after bad requests', async () => {
    for (let i = 0; i < 20; i++) await engine.handle('garbage' + i);
    const status = await engine.call('engine.status');
    expect(status.workspace).toBe(workspace);
    expect(status.appVersion).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('turns a throwing handler into an INTERNAL error, and a non-Error throw too', async () => {
    const e = new Engine();
    e.register({
      'engine.ping': () => {
        throw { message: 'itk-wasm style plain object' };
      },
    });
    const res = await e.handle({ id: 9, method: 'engine.ping' });
    expect(res).toEqual({ id: 9, ok: false, error: { code: 'INTERNAL', message: 'itk-wasm style plain object' } });
  });

  it('rejects a handler result that breaks the contract', async () => {
    const e = new Engine();
    e.register({ 'engine.ping': () => ({ pong: false }) as never });
    const res = await e.handle({ id: 10, method: 'engine.ping' });
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.error.code).toBe('INTERNAL');
  });

  it('cancels a running request through engine.cancel and reports progress events', async () => {
    const e = new Engine();
    const seen: unknown[] = [];
    e.onEvent((event, data) => seen.push({ event, data }));
    e.register({
      'engine.ping': async (_p, ctx) => {
        ctx.progress('waiting', 0, 1);
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
        return { pong: true as const, at: 0 };
      },
    });
    const pending = e.handle({ id: 'long', method: 'engine.ping' });
    await new Promise((r) => setTimeout(r, 10));
    const cancel = await e.call('engine.cancel', { requestId: 'long' });
    expect(cancel.cancelled).toBe(true);
    const res = await pending;
    expect(res).toMatchObject({ id: 'long', ok: false, error: { code: 'CANCELLED' } });
    expect(seen).toContainEqual({ event: 'request.progress', data: { requestId: 'long', stage: 'waiting', done: 0, total: 1 } });
  });

  it('call() throws an EngineFailure carrying the code', async () => {
    await expect(engine.call('engine.cancel', { requestId: 'nothing-running' })).resolves.toEqual({ cancelled: false });
    await expect(engine.call('engine.ping', { echo: 3 } as never)).rejects.toBeInstanceOf(EngineFailure);
  });
});
