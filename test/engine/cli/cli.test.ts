import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { runCli, spawnCli, waitForLine } from '../../support/cli.js';

describe('pix2rep command line', () => {
  it('--help lists the commands', () => {
    const r = runCli(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\s+serve\s+/m);
    expect(r.stdout).toMatch(/^\s+doctor\s+/m);
  });

  it('an unknown command or option is a usage error (exit 2) that names it', () => {
    const a = runCli(['frobnicate']);
    expect(a.status).toBe(2);
    expect(a.stderr).toContain('unknown command "frobnicate"');
    const b = runCli(['doctor', '--bogus']);
    expect(b.status).toBe(2);
    expect(b.stderr).toContain('--bogus');
  });

  it('doctor --json reports versions, backends and the workspace', () => {
    const ws = mkdtempSync(join(tmpdir(), 'pix2rep-doctor-'));
    const r = runCli(['doctor', '--json', '--workspace', ws]);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.node).toBe(process.versions.node);
    expect(report.workspace).toBe(ws);
    expect(report.backend.probes.map((p: { name: string }) => p.name)).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
    expect(report.backend.selected).not.toBeNull();
    expect(report.electron).toHaveProperty('version');
  });

  it('doctor honours PIX2REP_BACKEND and explains an impossible choice', () => {
    const forced = JSON.parse(runCli(['doctor', '--json'], { PIX2REP_BACKEND: 'cpu' }).stdout);
    expect(forced.backend.selected).toBe('cpu');
    expect(forced.backend.reason).toContain('PIX2REP_BACKEND=cpu');
    const bad = JSON.parse(runCli(['doctor', '--json'], { PIX2REP_BACKEND: 'quantum' }).stdout);
    expect(bad.backend.selected).toBeNull();
    expect(bad.backend.reason).toContain('quantum');
  });

  it('serve prints a tokenised 127.0.0.1 URL and answers on it until stopped', async () => {
    const ws = mkdtempSync(join(tmpdir(), 'pix2rep-serve-cli-'));
    const child = spawnCli(['serve', '--port', '0', '--workspace', ws]);
    try {
      const m = await waitForLine(child, /http:\/\/127\.0\.0\.1:(\d+)\/\?token=([\w-]+)/);
      const socket = new WebSocket(`ws://127.0.0.1:${m[1]}/api?token=${m[2]}`);
      await new Promise((res, rej) => {
        socket.once('open', res);
        socket.once('error', rej);
      });
      socket.send(JSON.stringify({ id: 1, method: 'engine.status' }));
      const reply = await new Promise<Record<string, unknown>>((res) => socket.once('message', (d) => res(JSON.parse(d.toString()))));
      expect(reply).toMatchObject({ id: 1, ok: true, result: { workspace: ws } });
      socket.close();
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });
});
