import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../main/serve/server.js';
import { launchChromium } from '../support/browser.js';
import { dataPath, hasData } from '../support/data.js';
import { ensureRendererBuilt, keepScreenshot } from '../support/e2e.js';
import { decodePng, pixelStats } from '../support/png.js';

const VIEWPORT = { width: 1280, height: 720 };
/** --bg of renderer/styles/theme.css. */
const BACKGROUND: [number, number, number] = [0x12, 0x14, 0x17];

let server: RunningServer;
let browser: Browser;
let workspace: string;

beforeAll(async () => {
  await ensureRendererBuilt();
  workspace = mkdtempSync(join(tmpdir(), 'pix2rep-e2e-'));
  server = await startServer({ port: 0, workspace });
  ({ browser } = await launchChromium());
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (workspace) rmSync(workspace, { recursive: true, force: true });
});

/** A page at the pinned viewport that records uncaught errors and CSP violations for the test to check. */
async function openPage(url: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: VIEWPORT, deviceScaleFactor: 1 });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
  });
  await page.goto(url);
  return { page, problems };
}

/** Text as read aloud: whitespace from layout (flex items, line breaks) collapsed. */
async function text(l: Locator): Promise<string> {
  return ((await l.textContent()) ?? '').replace(/\s+/g, ' ').trim();
}

async function screenshot(page: Page, name: string): Promise<ReturnType<typeof pixelStats>> {
  const png = await page.screenshot({ fullPage: false });
  keepScreenshot(name, png);
  const img = decodePng(png);
  expect([img.width, img.height]).toEqual([VIEWPORT.width, VIEWPORT.height]);
  return pixelStats(img);
}

describe('browser twin in headless Chromium', () => {
  it('boots, shows the empty study list with the import hint and the engine status', async () => {
    const { page, problems } = await openPage(server.url);
    const status = await server.engine.call('engine.status');

    const empty = page.getByTestId('study-list-empty');
    await empty.waitFor();
    expect(await empty.innerText()).toContain('Import a folder of DICOM or NIfTI files');
    await page.getByTestId('status-connection').filter({ hasText: 'Engine connected' }).waitFor();
    expect(await text(page.getByTestId('status-backend'))).toBe(`Compute ${status.backend.selected ?? 'none available'}`);
    expect(await text(page.getByTestId('status-version'))).toBe(`Version ${status.appVersion}`);
    expect(await text(page.getByTestId('status-workspace'))).toBe(`Workspace ${status.workspace}`);
    expect(await text(page.getByTestId('status-shell'))).toBe('Browser twin');
    expect(await page.getByTestId('import-path').isVisible()).toBe(true);

    const stats = await screenshot(page, 'empty-library.png');
    // A blank or unstyled page has one or two colours; the dark shell with text has many, and is mostly
    // its background colour without being only that.
    expect(stats.distinct).toBeGreaterThan(20);
    expect(stats.dominant).toEqual(BACKGROUND);
    expect(stats.dominantShare).toBeGreaterThan(0.5);
    expect(stats.dominantShare).toBeLessThan(0.97);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('explains a page opened without its token, whose socket the server refuses', async () => {
    const { page } = await openPage(`http://127.0.0.1:${server.port}/`);
    await page.getByTestId('status-problem').filter({ hasText: 'no access token' }).waitFor();
    expect(await text(page.getByTestId('status-connection'))).not.toBe('Engine connected');
    const outcome = await page.evaluate(
      (port) =>
        new Promise<string>((done) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/api`);
          ws.onopen = () => done('opened');
          ws.onclose = () => done('refused');
        }),
      server.port,
    );
    expect(outcome).toBe('refused');
    await page.close();
  });

  it('reports a path that does not exist as a skipped item, in plain words', async () => {
    const { page, problems } = await openPage(server.url);
    await page.getByTestId('study-list-empty').waitFor();
    await page.getByTestId('import-path').fill('/definitely/not/here');
    await page.getByTestId('import-submit').click();
    const item = page.getByTestId('import-skipped-item');
    await item.waitFor();
    expect(await text(item)).toMatch(/^\/definitely\/not\/here: \S/);
    expect(await text(page.getByTestId('import-report-added'))).toMatch(/^Added 0 studies, 0 series, 0 volumes/);
    expect(await page.getByTestId('study-list-empty').isVisible()).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows the engine as disconnected, with the reason, when the server goes away', async () => {
    const ws = mkdtempSync(join(tmpdir(), 'pix2rep-e2e-'));
    const other = await startServer({ port: 0, workspace: ws });
    try {
      const { page } = await openPage(other.url);
      await page.getByTestId('status-connection').filter({ hasText: 'Engine connected' }).waitFor();
      await other.close();
      await page.getByTestId('status-connection').filter({ hasText: 'Engine disconnected' }).waitFor();
      // The reason: the socket closing, or (once the page's first retry is refused) that it cannot reconnect.
      expect(await text(page.getByTestId('status-problem'))).toMatch(/^(the engine closed the connection|cannot reconnect to the engine)/);
      // A restarted server has a new token: the page keeps retrying, is refused, and says what to do.
      const again = await startServer({ port: other.port, workspace: ws });
      try {
        await page.getByTestId('status-problem').filter({ hasText: 'open the new address it printed' }).waitFor({ timeout: 30_000 });
      } finally {
        await again.close();
      }
      await page.close();
    } finally {
      await other.close().catch(() => {});
      rmSync(ws, { recursive: true, force: true });
    }
  });
});

const PATIENT = 'acdc/training/patient001';

describe.skipIf(!hasData(PATIENT))('import through the browser twin (real ACDC data)', () => {
  it('imports a patient folder typed in the path field, shows progress, then lists the study', async () => {
    const { page, problems } = await openPage(server.url);
    await page.getByTestId('study-list-empty').waitFor();
    // The bar may come and go quickly: note from inside the page that it was shown at all.
    // (A string, because this file is type-checked without the DOM library.)
    await page.evaluate(`
      window.sawProgress = false;
      new MutationObserver(() => {
        if (document.querySelector('[data-testid="import-progress-bar"]')) window.sawProgress = true;
      }).observe(document.body, { childList: true, subtree: true });
    `);
    await page.getByTestId('import-path').fill(dataPath(PATIENT));
    await page.getByTestId('import-labels').fill('*_gt.nii.gz');
    await page.getByTestId('import-submit').click();

    const report = page.getByTestId('import-report');
    await report.waitFor({ timeout: 120_000 });
    expect(await page.evaluate('window.sawProgress')).toBe(true);
    expect(await page.getByTestId('import-report-added').innerText()).toMatch(/^Added 1 study, 1 series, 2 volumes, 2 label maps/);
    expect(await page.getByTestId('import-report-present').innerText()).toBe('Nothing was already in the library.');

    const rows = page.getByTestId('volume-row');
    await page.getByTestId('study-row').first().waitFor();
    expect(await page.getByTestId('study-row').count()).toBe(1);
    expect(await page.getByTestId('study-patient').innerText()).toContain('patient001');
    expect(await rows.count()).toBe(2);
    expect(await page.getByTestId('volume-dims').allInnerTexts()).toEqual(['216 × 256 × 10', '216 × 256 × 10']);
    expect(await page.getByTestId('volume-frames').allInnerTexts()).toEqual(['1', '1']);
    for (const t of await page.getByTestId('volume-annotations').allInnerTexts()) expect(t).toMatch(/^imported, \d+ slices?$/);
    expect(await rows.first().innerText()).toContain('MR');

    const stats = await screenshot(page, 'study-list.png');
    expect(stats.distinct).toBeGreaterThan(20);
    expect(stats.dominantShare).toBeLessThan(0.97);

    // Importing the same folder again adds nothing and says so.
    await page.getByTestId('import-report-dismiss').click();
    await page.getByTestId('import-submit').click();
    await page.getByTestId('import-report-present').waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('import-report-present').innerText()).toBe('2 volumes already in the library, left as they were.');
    expect(await page.getByTestId('import-report-added').innerText()).toMatch(/^Added 0 studies, 0 series, 0 volumes/);
    expect(await page.getByTestId('study-row').count()).toBe(1);
    expect(problems).toEqual([]);
    await page.close();
  });
});

describe.skipIf(!hasData('acdc/training'))('cancelling an import through the browser twin (real ACDC data)', () => {
  it('stops a running import of the whole ACDC folder and says so', async () => {
    const ws = mkdtempSync(join(tmpdir(), 'pix2rep-e2e-'));
    const other = await startServer({ port: 0, workspace: ws });
    try {
      const { page, problems } = await openPage(other.url);
      await page.getByTestId('study-list-empty').waitFor();
      // Press Cancel the moment it appears, from inside the page, so the import cannot finish first.
      await page.evaluate(`
        new MutationObserver((_, obs) => {
          const b = document.querySelector('[data-testid="import-cancel"]');
          if (b) { obs.disconnect(); b.click(); }
        }).observe(document.body, { childList: true, subtree: true });
      `);
      await page.getByTestId('import-path').fill(dataPath('acdc/training'));
      await page.getByTestId('import-labels').fill('*_gt.nii.gz');
      await page.getByTestId('import-submit').click();
      const message = page.getByTestId('import-error');
      await message.waitFor({ timeout: 120_000 });
      expect(await text(page.getByTestId('import-report'))).toContain('Import cancelled');
      expect(await text(message)).toBe('Import cancelled; what was already imported stays in the library.');
      // The list shows exactly what the catalogue holds after the cancel.
      const { studies } = await other.engine.call('library.listStudies');
      await page.waitForFunction(`document.querySelectorAll('[data-testid="study-row"]').length === ${studies.length}`);
      expect(studies.length).toBeLessThan(50);
      expect(await page.getByTestId('import-submit').isEnabled()).toBe(true);
      expect(problems).toEqual([]);
      await page.close();
    } finally {
      await other.close();
      rmSync(ws, { recursive: true, force: true });
    }
  });
});
