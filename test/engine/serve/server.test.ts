import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../../main/serve/server.js';

const workspace = mkdtempSync(join(tmpdir(), 'pix2rep-serve-'));
const staticDir = mkdtempSync(join(tmpdir(), 'pix2rep-static-'));
writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>twin</title>');
mkdirSync(join(staticDir, 'assets'));
writeFileSync(join(staticDir, 'assets', 'app.js'), 'console.log(1)');

let server: RunningServer;
beforeAll(async () => {
  server = await startServer({ workspace, port: 0, staticDir });
});
afterAll(async () => {
  await server.close();
});

function wsUrl(token: string | null, path = '/api'): string {
  return `ws://127.0.0.1:${server.port}${path}${token === null ? '' : `?token=${token}`}`;
}

/** Resolves with the HTTP status of a refused upgrade, or 101 when the socket opened. */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(-1));
  });
}

function get(path: string, host?: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers: host ? { host } : {} }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function openSocket(): Promise<WebSocket> {
  const ws = new WebSocket(wsUrl(server.token));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return ws;
}

function nextMessage(ws: WebSocket): Promise<Record<string, unknown>> {
  return new Promise((resolve) => ws.once('message', (d) => resolve(JSON.parse(d.toString()))));
}

describe('browser twin server', () => {
  it('binds to 127.0.0.1 and prints a URL carrying the token', () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=${server.token}`);
    expect(server.token.length).toBeGreaterThanOrEqual(32);
  });

  it('refuses a WebSocket without the token, with a wrong token, or on another path', async () => {
    expect(await upgradeStatus(wsUrl(null))).toBe(401);
    expect(await upgradeStatus(wsUrl('x'.repeat(server.token.length)))).toBe(401);
    expect(await upgradeStatus(wsUrl(server.token.slice(1)))).toBe(401);
    expect(await upgradeStatus(wsUrl(server.token, '/other'))).toBe(401);
    expect(await upgradeStatus(wsUrl(server.token))).toBe(101);
  });

  it('refuses a foreign Host header (DNS rebinding)', async () => {
    expect(await upgradeStatus(wsUrl(server.token), { host: `evil.example:${server.port}` })).toBe(401);
    expect((await get('/', `evil.example:${server.port}`)).status).toBe(421);
  });

  it('answers a malformed request with a typed error and keeps serving', async () => {
    const ws = await openSocket();
    ws.send('this is not json');
    expect(await nextMessage(ws)).toMatchObject({ id: null, ok: false, error: { code: 'BAD_REQUEST' } });
    ws.send(JSON.stringify({ id: 5, method: 'library.import', params: { paths: [] } }));
    expect(await nextMessage(ws)).toMatchObject({ id: 5, ok: false, error: { code: 'INVALID_PARAMS' } });
    ws.send(JSON.stringify({ id: 6, method: 'engine.status' }));
    const status = await nextMessage(ws);
    expect(status).toMatchObject({ id: 6, ok: true, result: { workspace } });
    ws.close();
  });

  it('serves the renderer with a CSP, falls back to index.html and blocks path traversal', async () => {
    const index = await get('/');
    expect(index.status).toBe(200);
    expect(index.body).toContain('<title>twin</title>');
    expect(String(index.headers['content-security-policy'])).toContain("script-src 'self'");
    const asset = await get('/assets/app.js');
    expect(asset.body).toBe('console.log(1)');
    expect(String(asset.headers['content-type'])).toContain('javascript');
    expect((await get('/deep/link')).body).toContain('<title>twin</title>');
    const traversal = await get('/..%2f..%2fetc%2fpasswd');
    expect(traversal.body).not.toContain('root:');
  });
});
