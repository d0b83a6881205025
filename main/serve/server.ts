import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { WS_PATH } from '../contract/bridge.js';
import { createEngine } from '../engine/create.js';
import type { Engine } from '../engine/engine.js';
import { projectRoot } from '../engine/version.js';
import { attachRunner } from '../jobs/index.js';
import { serveStatic } from './static.js';

export interface ServerOptions {
  workspace: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Built renderer folder; default dist/renderer of the project. */
  staticDir?: string;
  /** Use an existing engine instead of creating one (tests). */
  engine?: Engine;
  /**
   * Run queued jobs (pretraining, training…) in this process's job runner (default true). Where another
   * process already holds the workspace's runner lock, that one runs them and this server only reports.
   */
  jobs?: boolean;
}

export interface RunningServer {
  url: string;
  port: number;
  token: string;
  engine: Engine;
  close(): Promise<void>;
}

const HOST = '127.0.0.1';
/** Requests larger than this are refused by the socket layer; volumes go engine → UI, not the other way. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * The browser twin: the built renderer over HTTP and the contract over a WebSocket, both on 127.0.0.1 only.
 * A random per-run token gates the socket; the Host header is checked so a DNS-rebinding page cannot reach it.
 */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const engine = opts.engine ?? createEngine({ workspace: opts.workspace });
  const runner = opts.jobs === false ? null : await attachRunner(engine, { workspace: opts.workspace });
  const staticDir = opts.staticDir ?? join(projectRoot(), 'dist', 'renderer');
  const token = randomBytes(24).toString('base64url');
  let port = opts.port ?? 0;

  const allowedHost = (req: IncomingMessage) => {
    const h = req.headers.host ?? '';
    return h === `${HOST}:${port}` || h === `localhost:${port}`;
  };

  const http = createServer((req, res) => {
    if (!allowedHost(req)) {
      res.writeHead(421).end('misdirected request');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    serveStatic(staticDir, req, res, `${HOST}:${port}`).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  const clients = new Set<WebSocket>();

  http.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', `http://${HOST}`);
    const given = Buffer.from(url.searchParams.get('token') ?? '');
    const expected = Buffer.from(token);
    const tokenOk = given.length === expected.length && timingSafeEqual(given, expected);
    if (url.pathname !== WS_PATH || !allowedHost(req) || !tokenOk) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws: WebSocket) => {
    clients.add(ws);
    ws.on('close', () => clients.delete(ws));
    ws.on('error', () => clients.delete(ws));
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? '' : data.toString();
      void engine.handle(text).then((response) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(response));
      });
    });
  });

  const unsubscribe = engine.onEvent((event, data) => {
    const msg = JSON.stringify({ event, data });
    for (const ws of clients) if (ws.readyState === ws.OPEN) ws.send(msg);
  });

  await new Promise<void>((resolveListen, reject) => {
    http.once('error', reject);
    http.listen(port, HOST, () => resolveListen());
  });
  port = (http.address() as AddressInfo).port;

  return {
    url: `http://${HOST}:${port}/?token=${token}`,
    port,
    token,
    engine,
    close: async () => {
      unsubscribe();
      for (const ws of clients) ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => http.close(() => r()));
      // Then running jobs checkpoint and become `interrupted` (the next runner resumes them): the pages see
      // the engine go at once rather than after a training step.
      await runner?.stop();
    },
  };
}
