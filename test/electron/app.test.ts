/**
 * The desktop app itself, driven by Playwright's Electron support (`_electron.launch`; Spectron is archived
 * and cannot drive current Electron). Runs where an Electron binary and a display exist; elsewhere the
 * suite is reported as skipped, with the reason in its name, never as passed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { _electron, type ElectronApplication, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { electronInfo } from '../../main/cli/electron-info.js';
import { buildElectron } from '../../scripts/build-electron.mjs';
import { projectRoot } from '../support/data.js';

const info = electronInfo();
const needsDisplay = process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY;
const skipReason = !info.binary
  ? `Electron binary not installed: ${info.reason ?? 'unknown reason'}`
  : needsDisplay
    ? 'no display (run under xvfb-run)'
    : '';

interface Envelope {
  id: string | number | null;
  ok: boolean;
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
}

interface AppEvent {
  event: string;
  data: Record<string, unknown>;
}

/** The page's global object as these tests see it (the test tsconfig has no DOM lib: the code runs in the page). */
type PageGlobal = Record<string, unknown> & {
  pix2rep: { request(m: string): Promise<string>; onEvent(l: (m: string) => void): () => void };
  __p2rEvents?: AppEvent[];
  open(url: string): unknown;
  location: { href: string };
  eval(code: string): unknown;
};

describe.skipIf(skipReason !== '')(`Electron app${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let app: ElectronApplication;
  let page: Page;
  let workspace: string;
  let userData: string;

  const request = (message: string): Promise<Envelope> =>
    page.evaluate(async (m) => JSON.parse(await (globalThis as unknown as PageGlobal).pix2rep.request(m)) as Envelope, message);

  beforeAll(async () => {
    if (!existsSync(join(projectRoot, 'dist', 'renderer', 'index.html'))) {
      const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
      const r = spawnSync(npm, ['run', '--silent', 'build:renderer'], { cwd: projectRoot, stdio: 'inherit', shell: process.platform === 'win32' });
      if (r.status !== 0) throw new Error('the renderer build failed');
    }
    await buildElectron({ quiet: true });
    workspace = mkdtempSync(join(tmpdir(), 'p2r-electron-ws-'));
    userData = mkdtempSync(join(tmpdir(), 'p2r-electron-profile-'));
    app = await _electron.launch({
      executablePath: info.binary!,
      // Chromium refuses to run as root with its OS sandbox; CI machines often are root.
      args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), projectRoot, '--workspace', workspace],
      cwd: projectRoot,
      env: { ...process.env, PIX2REP_USER_DATA: userData } as Record<string, string>,
      timeout: 120_000,
    });
    page = await app.firstWindow();
    await page.waitForLoadState('domcontentloaded');
  });

  afterAll(async () => {
    await app?.close();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
    if (userData) rmSync(userData, { recursive: true, force: true });
  });

  it('opens the window on the built renderer', async () => {
    expect(page.url()).toMatch(/^file:\/\/.*\/dist\/renderer\/index\.html/);
    expect(await page.title()).toContain('Pix2Rep');
  });

  it('exposes exactly the preload bridge, and no Node or ipcRenderer', async () => {
    const shape = await page.evaluate(() => {
      const w = globalThis as unknown as Record<string, unknown>;
      const bridge = w.pix2rep as Record<string, unknown> | undefined;
      return {
        request: typeof bridge?.request,
        keys: bridge ? Object.keys(bridge).sort() : [],
        shell: bridge?.shell,
        require: typeof w.require,
        process: typeof w.process,
        ipcRenderer: typeof w.ipcRenderer,
        module: typeof w.module,
      };
    });
    expect(shape).toEqual({
      request: 'function',
      keys: ['onEvent', 'openFiles', 'openFolder', 'request', 'shell'],
      shell: 'electron',
      require: 'undefined',
      process: 'undefined',
      ipcRenderer: 'undefined',
      module: 'undefined',
    });
  });

  it('answers engine.status from the engine process, and a malformed request with a typed error', async () => {
    const status = await request(JSON.stringify({ id: 'e2e-status', method: 'engine.status' }));
    expect(status.ok).toBe(true);
    expect(status.id).toBe('e2e-status');
    expect(status.result?.workspace).toBe(workspace);
    const bad = await request('{not json');
    expect(bad).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    const again = await request(JSON.stringify({ id: 2, method: 'engine.ping', params: { echo: 'still here' } }));
    expect(again).toMatchObject({ id: 2, ok: true, result: { echo: 'still here' } });
  });

  it('blocks eval, navigation and new windows', async () => {
    const url = page.url();
    const blocked = await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobal;
      let evalBlocked = false;
      try {
        g.eval('1 + 1');
      } catch {
        evalBlocked = true;
      }
      const opened = g.open('https://example.invalid/');
      return { evalBlocked, opened: opened !== null };
    });
    expect(blocked).toEqual({ evalBlocked: true, opened: false });
    await page.evaluate(() => {
      (globalThis as unknown as PageGlobal).location.href = 'https://example.invalid/';
    });
    await page.waitForTimeout(500);
    expect(page.url()).toBe(url);
    expect(app.windows()).toHaveLength(1);
  });

  it('restarts a killed engine, says so, and serves again', async () => {
    await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobal;
      const events: AppEvent[] = [];
      g.__p2rEvents = events;
      g.pix2rep.onEvent((m) => events.push(JSON.parse(m) as AppEvent));
    });
    const pids = await app.evaluate(({ app: electronApp }) =>
      electronApp
        .getAppMetrics()
        .filter((m) => m.type === 'Utility' && m.name === 'Pix2Rep engine') // name is utilityProcess.fork's serviceName
        .map((m) => m.pid),
    );
    expect(pids).toHaveLength(1);
    process.kill(pids[0]!, 'SIGKILL');
    await expect
      .poll(() => page.evaluate(() => (globalThis as unknown as PageGlobal).__p2rEvents!.filter((e) => e.event === 'engine.ready').map((e) => e.data.restarted)), {
        timeout: 60_000,
      })
      .toEqual([true]);
    const events = await page.evaluate(() => (globalThis as unknown as PageGlobal).__p2rEvents!);
    expect(events.some((e) => e.event === 'engine.notice' && e.data.level === 'error')).toBe(true);
    const status = await request(JSON.stringify({ id: 'after-restart', method: 'engine.status' }));
    expect(status).toMatchObject({ id: 'after-restart', ok: true });
  });
});
