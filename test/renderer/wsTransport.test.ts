import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WsTransport, socketUrlFor, type SocketLike } from '../../renderer/api/wsTransport.js';

/** A scripted stand-in for the browser's WebSocket: the test opens, feeds and drops it by hand. */
class ScriptedSocket implements SocketLike {
  readyState = 0;
  sent: string[] = [];
  closed = false;
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  constructor(readonly url: string) {}
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {
    this.closed = true;
    this.readyState = 3;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(obj: unknown): void {
    this.onmessage?.({ data: JSON.stringify(obj) });
  }
  drop(code = 1006, reason = ''): void {
    this.readyState = 3;
    this.onerror?.({});
    this.onclose?.({ code, reason });
  }
}

describe('socketUrlFor', () => {
  it('uses the page host, the /api path and the page token', () => {
    expect(socketUrlFor({ protocol: 'http:', host: '127.0.0.1:4321', search: '?token=ab%2Bc' })).toEqual({
      url: 'ws://127.0.0.1:4321/api?token=ab%2Bc',
      token: 'ab+c',
    });
    expect(socketUrlFor({ protocol: 'https:', host: 'h:1', search: '' })).toEqual({ url: 'wss://h:1/api', token: null });
  });
});

describe('WsTransport', () => {
  let sockets: ScriptedSocket[];
  const make = (opts = {}, missingToken = false) =>
    new WsTransport('ws://127.0.0.1:9/api?token=secret', (u) => {
      const s = new ScriptedSocket(u);
      sockets.push(s);
      return s;
    }, { baseDelayMs: 100, maxDelayMs: 400, queueTimeoutMs: 1000, ...opts }, missingToken);

  beforeEach(() => {
    sockets = [];
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('queues requests until the socket opens, then matches answers by id', async () => {
    const t = make();
    expect(t.state).toBe('connecting');
    const a = t.request('{"id":"a","method":"engine.ping"}', 'a');
    const b = t.request('{"id":"b","method":"engine.ping"}', 'b');
    expect(sockets[0]!.sent).toEqual([]);
    sockets[0]!.open();
    expect(t.state).toBe('open');
    expect(sockets[0]!.sent).toHaveLength(2);
    sockets[0]!.receive({ id: 'b', ok: true, result: 2 });
    sockets[0]!.receive({ id: 'a', ok: true, result: 1 });
    expect(JSON.parse(await a)).toEqual({ id: 'a', ok: true, result: 1 });
    expect(JSON.parse(await b)).toEqual({ id: 'b', ok: true, result: 2 });
  });

  it('hands event envelopes to event listeners', () => {
    const t = make();
    const got: string[] = [];
    t.onEvent((m) => got.push(m));
    sockets[0]!.open();
    sockets[0]!.receive({ event: 'library.changed', data: { reason: 'import' } });
    sockets[0]!.onmessage?.({ data: 'not json' });
    expect(got).toEqual(['{"event":"library.changed","data":{"reason":"import"}}']);
  });

  it('fails in-flight requests at once when the link drops, then reconnects with growing delays', async () => {
    const t = make();
    const states: string[] = [];
    t.onState((s) => states.push(s));
    sockets[0]!.open();
    const p = t.request('{"id":"x","method":"library.import"}', 'x');
    sockets[0]!.drop(1006);
    await expect(p).rejects.toThrow(/lost the connection to the engine before it answered \(the engine closed the connection \(code 1006\)\); the request may or may not have completed/);
    expect(t.state).toBe('closed');
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(99);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2);
    sockets[1]!.drop();
    expect(t.problem).toBe(
      'cannot reconnect to the engine at ws://127.0.0.1:9/api: if `pix2rep serve` was restarted, open the new address it printed (the token changes on every run)',
    );
    vi.advanceTimersByTime(199);
    expect(sockets).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(3);
    // Delays cap at maxDelayMs.
    sockets[2]!.drop();
    vi.advanceTimersByTime(400);
    sockets[3]!.drop();
    vi.advanceTimersByTime(400);
    expect(sockets).toHaveLength(5);
    sockets[4]!.open();
    expect(t.state).toBe('open');
    expect(states).toEqual(['open', 'closed', 'connecting', 'closed', 'connecting', 'closed', 'connecting', 'closed', 'connecting', 'open']);
  });

  it('sends requests made while reconnecting once the link is back', async () => {
    const t = make();
    sockets[0]!.open();
    sockets[0]!.drop();
    const p = t.request('{"id":"q","method":"engine.status"}', 'q');
    vi.advanceTimersByTime(100);
    sockets[1]!.open();
    expect(sockets[1]!.sent).toEqual(['{"id":"q","method":"engine.status"}']);
    sockets[1]!.receive({ id: 'q', ok: true, result: {} });
    expect(JSON.parse(await p).ok).toBe(true);
  });

  it('gives up on a queued request after the queue timeout, saying why', async () => {
    const t = make();
    const p = t.request('{"id":"q","method":"engine.status"}', 'q');
    sockets[0]!.drop();
    const failed = expect(p).rejects.toThrow(
      'the engine could not be reached for 1 s: cannot reach the engine at ws://127.0.0.1:9/api: is `pix2rep serve` running, and is this the address it printed (token included)?',
    );
    vi.advanceTimersByTime(1000);
    await failed;
    expect(t.problem).not.toContain('secret');
  });

  it('explains a refused connection when the page has no token', () => {
    const t = make({}, true);
    sockets[0]!.drop();
    expect(t.problem).toBe('this page address has no access token: open the full address that `pix2rep serve` printed');
  });

  it('close() stops reconnecting and fails what is pending', async () => {
    const t = make();
    sockets[0]!.open();
    const p = t.request('{"id":"z","method":"engine.status"}', 'z');
    t.close();
    await expect(p).rejects.toThrow('the connection to the engine was closed by the page');
    vi.advanceTimersByTime(10_000);
    expect(sockets).toHaveLength(1);
    await expect(t.request('{}', 'y')).rejects.toThrow('closed by the page');
  });
});
