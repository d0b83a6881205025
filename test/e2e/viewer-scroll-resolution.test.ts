import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasData, MISSING_DATA } from '../support/data.js';
import { settle, showVolume, startTwin, type Twin } from '../support/e2e.js';
import { decodePng, type DecodedPng } from '../support/png.js';

// On a software renderer (the test Chromium draws WebGL with SwiftShader) the view draws the frames of a
// continuous scroll at half resolution and the first still frame after them in full: the canvas size says
// which, and the still picture after a scroll down and back up is the picture from before it.
const PATIENT = 'acdc/training/patient001';

async function viewShot(page: Page): Promise<DecodedPng> {
  const box = (await page.getByTestId('slice-view').boundingBox())!;
  return decodePng(await page.screenshot({ clip: { x: box.x + 1, y: box.y + 1, width: box.width - 2, height: box.height - 2 } }));
}

/** The view's canvas size in device pixels (the test project has no DOM types: the page runs a string). */
async function canvasSize(page: Page): Promise<[number, number]> {
  return (await page.evaluate(`(() => {
    const c = document.querySelector('[data-testid="slice-view"] canvas');
    return [c.width, c.height];
  })()`)) as [number, number];
}

/** Share of pixels that differ by more than a few levels in any channel. */
function changed(a: DecodedPng, b: DecodedPng): number {
  let n = 0;
  for (let o = 0; o < a.rgba.length; o += 4) {
    if (Math.abs(a.rgba[o]! - b.rgba[o]!) > 4 || Math.abs(a.rgba[o + 1]! - b.rgba[o + 1]!) > 4 || Math.abs(a.rgba[o + 2]! - b.rgba[o + 2]!) > 4) n++;
  }
  return n / (a.width * a.height);
}

describe.skipIf(!hasData(PATIENT))(`slice view resolution while scrolling (ACDC ${PATIENT}) ${hasData(PATIENT) ? '' : MISSING_DATA}`, () => {
  let twin: Twin;
  beforeAll(async () => {
    twin = await startTwin({ name: 'scroll-resolution', patients: [PATIENT] });
  });
  afterAll(() => twin?.close());

  it('draws a continuous scroll at half resolution, then the still slice in full, unchanged', async () => {
    const { page, problems } = await twin.openPage();
    await showVolume(page, 'patient001_frame01');
    await page.getByTestId('slice-index').filter({ hasText: '6' }).waitFor();
    await page.getByTestId('reference-select').selectOption({ index: 1 });
    await page.evaluate('document.activeElement && document.activeElement.blur()');
    await expect.poll(async () => (await settle(page), changed(await viewShot(page), await viewShot(page))), { timeout: 15_000 }).toBe(0);
    await settle(page);
    const before = await viewShot(page);
    const full = await canvasSize(page);

    // Four steps down and four back up, one per animation frame; the canvas size after each step's frame.
    const sizes = (await page.evaluate(`(async () => {
      const frame = () => new Promise((r) => requestAnimationFrame(r));
      const canvas = document.querySelector('[data-testid="slice-view"] canvas');
      const out = [];
      await frame();
      for (let n = 0; n < 8; n++) {
        window.dispatchEvent(new KeyboardEvent('keydown', { key: n < 4 ? 'ArrowDown' : 'ArrowUp' }));
        // Vue's watchers run as microtasks: after them the view's frame callback is queued before ours.
        await Promise.resolve();
        await Promise.resolve();
        await frame();
        out.push([canvas.width, canvas.height]);
      }
      return out;
    })()`)) as [number, number][];
    const half = [Math.floor(full[0]! / 2), Math.floor(full[1]! / 2)];
    expect(sizes).toEqual(Array.from({ length: 8 }, () => half));

    await page.getByTestId('slice-index').filter({ hasText: '6' }).waitFor();
    await settle(page);
    expect(await canvasSize(page)).toEqual(full);
    expect(changed(before, await viewShot(page))).toBeLessThan(0.001);
    expect(problems).toEqual([]);
    await page.close();
  });
});
