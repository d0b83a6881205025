import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser.js';
import { runCli, spawnCli, waitForLine } from '../support/cli.js';
import { dataPath, hasData, MISSING_DATA } from '../support/data.js';
import { ensureRendererBuilt, openPage, settle, showVolume } from '../support/e2e.js';
import { decodePng } from '../support/png.js';

// "An engine restart loses at most the last stroke": the engine (`pix2rep serve`, a real child process) is
// killed with SIGKILL right after a stroke, before its debounced save could go out; a new engine on the
// same workspace must show the earlier, saved stroke complete, and the last one either whole or not at all.
const PATIENT = 'acdc/training/patient001';

async function startServe(workspace: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawnCli(['serve', '--workspace', workspace]);
  const m = await waitForLine(child, /Pix2Rep browser twin: (\S+)/, 120_000);
  return { child, url: m[1]! };
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

/** Pixels of the slice view tinted by label 1 (RV red) and by label 3 (LV blue), as in viewer.test.ts. */
async function tints(page: Page): Promise<{ red: number; blue: number }> {
  const box = (await page.getByTestId('slice-view').boundingBox())!;
  const img = decodePng(await page.screenshot());
  let red = 0;
  let blue = 0;
  for (let y = Math.round(box.y); y < Math.round(box.y + box.height); y++)
    for (let x = Math.round(box.x); x < Math.round(box.x + box.width); x++) {
      const o = (y * img.width + x) * 4;
      const [r, g, b] = [img.rgba[o]!, img.rgba[o + 1]!, img.rgba[o + 2]!];
      if (r > g + 50 && r > b + 30) red++;
      if (b > r + 40 && b > g + 25) blue++;
    }
  return { red, blue };
}

/** The page on patient001's ED volume at its middle slice, with the slice view's centre; uncaught errors in `problems`. */
async function openPatient(browser: Browser, url: string): Promise<{ page: Page; problems: string[]; cx: number; cy: number }> {
  const { page, problems } = await openPage(browser, url, { consoleErrors: false });
  await showVolume(page, 'patient001_frame01');
  await page.getByTestId('slice-index').filter({ hasText: '6' }).waitFor();
  await settle(page);
  const box = (await page.getByTestId('slice-view').boundingBox())!;
  return { page, problems, cx: box.x + box.width / 2, cy: box.y + box.height / 2 };
}

async function stroke(page: Page, label: string, from: [number, number], to: [number, number]): Promise<void> {
  await page.keyboard.press('b');
  await page.keyboard.press(label);
  await page.mouse.move(...from);
  await page.mouse.down();
  await page.mouse.move(...to, { steps: 8 });
  await page.mouse.up();
}

describe.skipIf(!hasData(PATIENT))(`engine restart (ACDC ${PATIENT}) ${hasData(PATIENT) ? '' : MISSING_DATA}`, () => {
  let browser: Browser;
  let workspace: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    await ensureRendererBuilt();
    workspace = mkdtempSync(join(tmpdir(), 'pix2rep-e2e-restart-'));
    const imported = runCli(['import', dataPath(PATIENT), '--labels', '*_gt.nii.gz', '--workspace', workspace]);
    expect(imported.status, imported.stderr).toBe(0);
    ({ browser } = await launchChromium());
  });

  afterAll(async () => {
    await browser?.close();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  });

  it('loses at most the last stroke when the engine is killed, and never half of it', async () => {
    const first = await startServe(workspace);
    children.push(first.child);
    const { page, cx, cy } = await openPatient(browser, first.url);

    // Stroke 1 (RV), saved: the status says so once the engine has written it.
    await stroke(page, '1', [cx - 40, cy - 30], [cx + 40, cy - 20]);
    await page.getByTestId('save-state').filter({ hasText: 'All changes saved' }).waitFor({ timeout: 15_000 });
    await settle(page);
    const saved = await tints(page);
    expect(saved.red).toBeGreaterThan(400);
    expect(saved.blue).toBeLessThan(20);

    // Stroke 2 (LV) elsewhere on the slice, and the engine killed at once: its save (debounced) cannot have
    // gone out yet, or went out whole.
    await stroke(page, '3', [cx - 40, cy + 30], [cx + 40, cy + 40]);
    first.child.kill('SIGKILL');
    await killed(first.child);
    await page.close();

    const second = await startServe(workspace);
    children.push(second.child);
    const { page: again, problems } = await openPatient(browser, second.url);
    await expect.poll(async () => (await settle(again), (await tints(again)).red), { timeout: 15_000 }).toBeGreaterThan(saved.red * 0.98);
    const after = await tints(again);
    // Stroke 1 complete: the same red area as before the kill.
    expect(Math.abs(after.red - saved.red)).toBeLessThan(saved.red * 0.02);

    // Stroke 2 drawn again, the same way: the whole stroke. What came back is either all of it or none.
    await stroke(again, '3', [cx - 40, cy + 30], [cx + 40, cy + 40]);
    await settle(again);
    const whole = (await tints(again)).blue;
    expect(whole).toBeGreaterThan(400);
    console.info(`engine restart: stroke 1 ${after.red} px of ${saved.red}; stroke 2 ${after.blue} px after the restart (whole: ${whole})`);
    expect(after.blue < 20 || Math.abs(after.blue - whole) < whole * 0.02).toBe(true);
    await again.getByTestId('save-state').filter({ hasText: 'All changes saved' }).waitFor({ timeout: 15_000 });
    expect(problems).toEqual([]);
    await again.close();
    second.child.kill('SIGTERM');
    await killed(second.child);
  });
});
