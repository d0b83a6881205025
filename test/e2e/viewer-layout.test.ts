import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasData, MISSING_DATA } from '../support/data.js';
import { keepScreenshot, settle, showVolume, startTwin, VIEWPORT, type Twin } from '../support/e2e.js';
import { decodePng, type DecodedPng } from '../support/png.js';

// The 1x2 layout on a real ACDC patient: ED in the left view, ES (another volume of the same study) in the
// right one; then both views on ED, the right one without overlays, and a brush stroke made in the right
// view landing in the annotation (shown on the left), undone.
const PATIENT = 'acdc/training/patient001';

interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

async function regions(page: Page): Promise<Region[]> {
  const out: Region[] = [];
  for (const el of await page.getByTestId('slice-view').all()) {
    const b = (await el.boundingBox())!;
    // One pixel in from each edge: the active view's frame is drawn there.
    out.push({ x: Math.round(b.x) + 1, y: Math.round(b.y) + 1, width: Math.round(b.width) - 2, height: Math.round(b.height) - 2 });
  }
  return out;
}

async function shot(page: Page, save?: string): Promise<DecodedPng> {
  const png = await page.screenshot();
  if (save) keepScreenshot(save, png);
  const img = decodePng(png);
  expect([img.width, img.height]).toEqual([VIEWPORT.width, VIEWPORT.height]);
  return img;
}

function grey(img: DecodedPng, r: Region, x: number, y: number): number {
  const o = ((r.y + y) * img.width + r.x + x) * 4;
  return (img.rgba[o]! + img.rgba[o + 1]! + img.rgba[o + 2]!) / 3;
}

/** Grey-level spread and count of distinct levels: a rendered MR slice is far from uniform. */
function stats(img: DecodedPng, r: Region): { sd: number; distinct: number } {
  let n = 0;
  let sum = 0;
  let sum2 = 0;
  const seen = new Set<number>();
  for (let y = 0; y < r.height; y++)
    for (let x = 0; x < r.width; x++) {
      const v = grey(img, r, x, y);
      n++;
      sum += v;
      sum2 += v * v;
      seen.add(Math.round(v * 3));
    }
  const mean = sum / n;
  return { sd: Math.sqrt(Math.max(0, sum2 / n - mean * mean)), distinct: seen.size };
}

/** Share of pixels differing by more than a few grey levels between two regions (compared over the common size). */
function difference(img: DecodedPng, a: Region, b: Region): number {
  const w = Math.min(a.width, b.width);
  const h = Math.min(a.height, b.height);
  let d = 0;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (Math.abs(grey(img, a, x, y) - grey(img, b, x, y)) > 4) d++;
  return d / (w * h);
}

function red(img: DecodedPng, r: Region): number {
  let n = 0;
  for (let y = r.y; y < r.y + r.height; y++)
    for (let x = r.x; x < r.x + r.width; x++) {
      const o = (y * img.width + x) * 4;
      if (img.rgba[o]! > img.rgba[o + 1]! + 50 && img.rgba[o]! > img.rgba[o + 2]! + 30) n++;
    }
  return n;
}

describe.skipIf(!hasData(PATIENT))(`two views side by side (ACDC ${PATIENT}) ${hasData(PATIENT) ? '' : MISSING_DATA}`, () => {
  let twin: Twin;
  beforeAll(async () => {
    twin = await startTwin({ name: 'layout', patients: [PATIENT] });
  });
  afterAll(() => twin?.close());

  it('shows ED and ES side by side, then paints from the second view into the annotation, undoably', async () => {
    const { page, problems } = await twin.openPage();
    await showVolume(page, 'patient001_frame01');
    await page.getByTestId('slice-index').filter({ hasText: '6' }).waitFor();

    await page.getByTestId('layout-toggle').click();
    await page.locator('[data-testid="slice-view"] canvas').nth(1).waitFor();
    // The second view shows ES, another volume of the study; the ground truth outlines ED on the left.
    const es = await page.getByTestId('view-volume').locator('option', { hasText: 'patient001_frame12' }).getAttribute('value');
    await page.getByTestId('view-volume').selectOption(es!);
    await page.getByTestId('pane-second').getByText('read-only').waitFor();
    await page.getByTestId('reference-select').selectOption({ index: 1 });
    await settle(page);
    let img: DecodedPng | null = null;
    let left: Region | undefined;
    let right: Region | undefined;
    // ES arrives from the engine after the selection: wait until the right view has drawn it.
    await expect
      .poll(
        async () => {
          await settle(page);
          img = await shot(page);
          [left, right] = await regions(page);
          return stats(img, right!).sd;
        },
        { timeout: 15_000 },
      )
      .toBeGreaterThan(15);
    img = await shot(page, 'viewer-two-views.png');
    [left, right] = await regions(page);
    expect(Math.abs(left!.width - right!.width)).toBeLessThanOrEqual(2);
    for (const r of [left!, right!]) {
      const s = stats(img, r);
      expect(s.sd).toBeGreaterThan(15);
      expect(s.distinct).toBeGreaterThan(50);
    }
    // Same slice position, different cardiac phase (and the outline only on the left): the halves differ.
    expect(difference(img, left!, right!)).toBeGreaterThan(0.05);
    expect(await page.getByTestId('pane-second').innerText()).toMatch(/slice 6/);

    // Linked scrolling: the wheel over the right view moves both.
    await page.mouse.move(right!.x + right!.width / 2, right!.y + right!.height / 2);
    await page.mouse.wheel(0, 100);
    await page.getByTestId('pane-main').getByText('slice 7').waitFor();
    await page.getByTestId('pane-second').getByText('slice 7').waitFor();

    // Back to ED on the right, without overlays: a stroke drawn there edits the annotation, which the left
    // view shows and the right one does not; undo takes it back.
    await page.getByTestId('view-volume').selectOption('');
    await page.getByTestId('view-labels-second').waitFor();
    await page.getByTestId('reference-select').selectOption('');
    await settle(page);
    // The selects keep the keyboard focus (shortcuts are off while typing): hand it back to the page.
    await page.evaluate('document.activeElement && document.activeElement.blur()');
    const before = await shot(page);
    expect(red(before, left!)).toBeLessThan(20);
    const cx = right!.x + right!.width / 2;
    const cy = right!.y + right!.height / 2;
    await page.keyboard.press('b');
    await page.keyboard.press('1');
    await page.mouse.move(cx - 30, cy);
    await page.mouse.down();
    await page.mouse.move(cx + 30, cy + 10, { steps: 6 });
    await page.mouse.up();
    await settle(page);
    const painted = await shot(page);
    expect(red(painted, left!)).toBeGreaterThan(200);
    expect(red(painted, right!)).toBeLessThan(20);
    await page.keyboard.press('Control+z');
    await settle(page);
    expect(red(await shot(page), left!)).toBeLessThan(20);

    // And back to one view.
    await page.keyboard.press('l');
    await expect.poll(() => page.getByTestId('slice-view').count()).toBe(1);
    expect(problems).toEqual([]);
    await page.close();
  });
});
