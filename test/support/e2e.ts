import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../main/serve/server.js';
import { launchChromium } from './browser.js';
import { dataPath, projectRoot } from './data.js';

/**
 * Build the renderer once per test run. `npm test` builds it before Vitest starts (a counted check) and sets
 * PIX2REP_RENDERER_BUILT=1; a direct `vitest run --project e2e` builds it here, once, however many files ask.
 */
let building: Promise<void> | undefined;
export function ensureRendererBuilt(): Promise<void> {
  if (process.env.PIX2REP_RENDERER_BUILT === '1') return Promise.resolve();
  building ??= import('vite').then(({ build }) =>
    build({ configFile: resolve(projectRoot, 'renderer', 'vite.config.ts'), logLevel: 'warn' }).then(() => {
      process.env.PIX2REP_RENDERER_BUILT = '1';
    }),
  );
  return building;
}

/**
 * Keep a screenshot a test took: always under test-results/screenshots (inspect after a run); also under
 * docs/screenshots, for the README, only when PIX2REP_UPDATE_SCREENSHOTS=1, so an ordinary test run leaves the
 * work tree clean.
 */
export function keepScreenshot(name: string, png: Buffer): void {
  const dirs = [join(projectRoot, 'test-results', 'screenshots')];
  if (process.env.PIX2REP_UPDATE_SCREENSHOTS === '1') dirs.push(join(projectRoot, 'docs', 'screenshots'));
  for (const dir of dirs) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, name), png);
  }
}

/** The viewport every E2E page uses: screenshots are compared against this size. */
export const VIEWPORT = { width: 1280, height: 720 } as const;

export interface PageOptions {
  viewport?: { width: number; height: number };
  /** Count console errors as problems too (default), or only uncaught page errors. */
  consoleErrors?: boolean;
}

/** A page at the viewport (device scale 1) that records uncaught errors, and console errors, for the test to check. */
export async function openPage(browser: Browser, url: string, options: PageOptions = {}): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: options.viewport ?? VIEWPORT, deviceScaleFactor: 1 });
  // Playwright's 30 s default is too short for a software-rendered screenshot while a pretraining job in the
  // same test takes the CPU (a CI run timed out there); waits that fail still fail, only later.
  page.setDefaultTimeout(90_000);
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  if (options.consoleErrors ?? true)
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
  await page.goto(url);
  return { page, problems };
}

/** Click a volume's row in the library and wait until the viewer names it and has its canvas. */
export async function showVolume(page: Page, name: string): Promise<void> {
  await page.getByTestId('volume-row').filter({ hasText: name }).click();
  await page.getByTestId('viewer-volume-name').filter({ hasText: name }).waitFor();
  await page.locator('[data-testid="slice-view"] canvas').waitFor();
}

/** Wait until the view has drawn what the state says: two animation frames after the last change. */
export async function settle(page: Page): Promise<void> {
  await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 50))))');
}

export interface TwinOptions {
  /** Part of the temporary workspace's name, to tell the test files' workspaces apart. */
  name: string;
  /** Data folders (relative to the test data, e.g. 'acdc/training/patient001') imported with their `*_gt.nii.gz` labels, in this order. */
  patients?: string[];
  /** Runs on the empty workspace before the server starts (e.g. to put a model in it). */
  prepare?: (workspace: string) => Promise<void>;
  viewport?: { width: number; height: number };
}

/** The browser twin on a temporary workspace (the server `pix2rep serve` runs, in this process) and a Chromium. */
export interface Twin {
  server: RunningServer;
  browser: Browser;
  workspace: string;
  /** {@link openPage} on the server's URL at the twin's viewport. */
  openPage(options?: Omit<PageOptions, 'viewport'>): Promise<{ page: Page; problems: string[] }>;
  /** Closes Chromium and the server and deletes the workspace. */
  close(): Promise<void>;
}

export async function startTwin(options: TwinOptions): Promise<Twin> {
  await ensureRendererBuilt();
  const workspace = mkdtempSync(join(tmpdir(), `pix2rep-e2e-${options.name}-`));
  let server: RunningServer | undefined;
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close();
    await server?.close();
    rmSync(workspace, { recursive: true, force: true });
  };
  try {
    await options.prepare?.(workspace);
    server = await startServer({ port: 0, workspace });
    for (const patient of options.patients ?? []) await server.engine.call('library.import', { paths: [dataPath(patient)], labels: '*_gt.nii.gz' });
    ({ browser } = await launchChromium());
  } catch (e) {
    // A half-started twin would outlive the failed beforeAll: nothing else holds it.
    await close();
    throw e;
  }
  const twin = { server, browser };
  return {
    ...twin,
    workspace,
    openPage: (o = {}) => openPage(twin.browser, twin.server.url, { ...o, viewport: options.viewport ?? VIEWPORT }),
    close,
  };
}
