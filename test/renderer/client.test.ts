import { describe, expect, it } from 'vitest';
import { Engine } from '../../main/engine/engine.js';
import { EngineFailure } from '../../main/engine/errors.js';
import { ApiError, EngineClient, describeApiError } from '../../renderer/api/client.js';
import { TransportError, type Transport } from '../../renderer/api/transport.js';
import { sampleStatus } from './support/fixtures.js';
import { LoopbackTransport, settle } from './support/loopback.js';

function setup(): { engine: Engine; transport: LoopbackTransport; client: EngineClient } {
  const engine = new Engine();
  const transport = new LoopbackTransport(engine);
  return { engine, transport, client: new EngineClient(transport) };
}

describe('EngineClient over a real engine dispatcher', () => {
  it('sends a request envelope and returns the typed result', async () => {
    const { engine, transport, client } = setup();
    engine.register({ 'engine.status': () => sampleStatus() });
    const status = await client.call('engine.status');
    expect(status.backend.selected).toBe('wasm');
    expect(status.workspace).toBe('/tmp/ws');
    const sent = JSON.parse(transport.sent[0]!) as { id: string; method: string; params?: unknown };
    expect(sent.method).toBe('engine.status');
    expect('params' in sent).toBe(false);
    expect(sent.id).toMatch(/^[0-9a-z]+-1$/);
  });

  it('passes params and gives each call its own id', async () => {
    const { engine, transport, client } = setup();
    engine.register({ 'engine.ping': (p) => ({ pong: true as const, at: 5, ...(p?.echo ? { echo: p.echo } : {}) }) });
    const [a, b] = await Promise.all([client.call('engine.ping', { echo: 'a' }), client.call('engine.ping', { echo: 'b' })]);
    expect(a.echo).toBe('a');
    expect(b.echo).toBe('b');
    const ids = transport.sent.map((m) => (JSON.parse(m) as { id: string }).id);
    expect(new Set(ids).size).toBe(2);
  });

  it('turns an error response into an ApiError with the engine code', async () => {
    const { client } = setup();
    // No library handlers registered: the engine answers UNKNOWN_METHOD, as it does before they land.
    const err = await client.call('library.listStudies').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('UNKNOWN_METHOD');
    expect(describeApiError(err, 'Could not list the studies')).toBe(
      'Could not list the studies: this version of the engine cannot do that yet (library.listStudies is not available).',
    );
  });

  it('reports invalid params and BAD_INPUT messages in plain words', async () => {
    const { engine, client } = setup();
    engine.register({
      'library.import': ({ paths }) => {
        throw new EngineFailure('BAD_INPUT', `${paths[0]}: no such file or folder`);
      },
    });
    const bad = await client.call('library.import', { paths: [] }).catch((e: unknown) => e);
    expect((bad as ApiError).code).toBe('INVALID_PARAMS');
    expect(describeApiError(bad)).toMatch(/^the request was not accepted \(library\.import: paths: /);
    const missing = await client.call('library.import', { paths: ['/nope'] }).catch((e: unknown) => e);
    expect(describeApiError(missing, 'Import failed')).toBe('Import failed: /nope: no such file or folder');
  });

  it('routes progress events to the call that started them, and only to it', async () => {
    const { engine, client } = setup();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    engine.register({
      'library.import': async (_p, ctx) => {
        ctx.progress('scanning', 0, null);
        ctx.progress('reading', 1, 4, 'a.nii.gz');
        await gate;
        ctx.progress('reading', 4, 4);
        return { studiesAdded: 1, seriesAdded: 1, volumesAdded: 2, annotationsAdded: 0, alreadyPresent: 0, skipped: [], filesScanned: 4, seconds: 0.5 };
      },
      'engine.ping': () => ({ pong: true as const, at: 1 }),
    });
    const seen: string[] = [];
    const other: string[] = [];
    const call = client.start('library.import', { paths: ['/data'] });
    call.onProgress((p) => seen.push(`${p.stage} ${p.done}/${p.total ?? '?'}${p.message ? ` ${p.message}` : ''}`));
    const ping = client.start('engine.ping');
    ping.onProgress((p) => other.push(p.stage));
    await settle();
    release();
    const report = await call.result;
    await ping.result;
    expect(report.volumesAdded).toBe(2);
    expect(seen).toEqual(['scanning 0/?', 'reading 1/4 a.nii.gz', 'reading 4/4']);
    expect(other).toEqual([]);
  });

  it('cancels a running call through engine.cancel', async () => {
    const { engine, client } = setup();
    engine.register({
      'library.import': (_p, ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => reject(new EngineFailure('CANCELLED', 'stopped')));
        }),
    });
    const call = client.start('library.import', { paths: ['/data'] });
    await settle();
    expect(await call.cancel()).toBe(true);
    const err = await call.result.catch((e: unknown) => e);
    expect((err as ApiError).code).toBe('CANCELLED');
    expect(describeApiError(err, 'Import')).toBe('Import: cancelled.');
    // Cancelling something that already ended is a no-op the engine reports as such.
    expect(await call.cancel()).toBe(false);
  });

  it('delivers events to subscribers until they unsubscribe, and survives a throwing listener', async () => {
    const { engine, client } = setup();
    const reasons: string[] = [];
    const off = client.on('library.changed', (d) => reasons.push(d.reason));
    client.on('library.changed', () => {
      throw new Error('listener bug');
    });
    const errors: unknown[] = [];
    const origError = console.error;
    console.error = (...a: unknown[]) => errors.push(a);
    try {
      engine.emit('library.changed', { reason: 'import' });
      off();
      engine.emit('library.changed', { reason: 'delete' });
    } finally {
      console.error = origError;
    }
    expect(reasons).toEqual(['import']);
    expect(errors).toHaveLength(2);
  });

  it('fails a call with DISCONNECTED when the transport loses it, and BAD_RESPONSE on garbage', async () => {
    let answer: () => Promise<string> = () => Promise.reject(new TransportError('lost the connection to the engine before it answered'));
    const transport: Transport = {
      kind: 'browser',
      state: 'open',
      problem: null,
      request: () => answer(),
      onEvent: () => () => {},
      onState: () => () => {},
      close: () => {},
    };
    const client = new EngineClient(transport);
    const lost = await client.call('engine.ping').catch((e: unknown) => e);
    expect((lost as ApiError).code).toBe('DISCONNECTED');
    expect(describeApiError(lost)).toBe('lost the connection to the engine before it answered.');
    answer = async () => 'not json';
    const garbage = await client.call('engine.ping').catch((e: unknown) => e);
    expect((garbage as ApiError).code).toBe('BAD_RESPONSE');
    answer = async () => JSON.stringify({ id: 'x', hello: 1 });
    expect(((await client.call('engine.ping').catch((e: unknown) => e)) as ApiError).code).toBe('BAD_RESPONSE');
  });
});
