import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pretrainTiny } from '../engine/embed/fixture.js';
import { useCpu } from '../engine/ml/cpu.js';
import { hasData, MISSING_DATA } from '../support/data.js';
import { keepScreenshot, settle, showVolume, startTwin, type Twin } from '../support/e2e.js';
import { decodePng, type DecodedPng } from '../support/png.js';

const PATIENT = 'acdc/training/patient001';
/** A second study, compared against through the "other studies" picker. */
const OTHER = 'acdc/training/patient002';

/** Pixels of the slice view in heat colours (dark red → orange → yellow): red high, blue well below it. */
function heatPixels(png: Buffer, box: { x: number; y: number; width: number; height: number }): number {
  const img: DecodedPng = decodePng(png);
  let n = 0;
  for (let y = Math.round(box.y); y < Math.round(box.y + box.height); y++)
    for (let x = Math.round(box.x); x < Math.round(box.x + box.width); x++) {
      const o = (y * img.width + x) * 4;
      const [r, g, b] = [img.rgba[o]!, img.rgba[o + 1]!, img.rgba[o + 2]!];
      if (r > 100 && r >= g && r > b + 60) n++;
    }
  return n;
}

describe.skipIf(!hasData(PATIENT) || !hasData(OTHER))(`embedding inspector in the viewer (ACDC ${PATIENT}) ${hasData(PATIENT) ? '' : MISSING_DATA}`, () => {
  let twin: Twin;
  beforeAll(async () => {
    twin = await startTwin({
      name: 'embed',
      patients: [PATIENT, OTHER],
      // A backbone pretrained for a few steps on phantoms into the workspace's models folder: embed.models lists it.
      prepare: async (workspace) => {
        await useCpu();
        await pretrainTiny(join(workspace, 'models', 'tiny'), 3);
      },
    });
  });
  afterAll(() => twin?.close());

  it('picks Inspect, clicks a pixel and shows the heat overlay, the colour bar and the query marker', async () => {
    const { page, problems } = await twin.openPage();
    await showVolume(page, 'patient001_frame01');
    await page.getByTestId('slice-index').filter({ hasText: /\d/ }).waitFor();
    await settle(page);

    const view = page.getByTestId('slice-view');
    const box = (await view.boundingBox())!;
    const before = heatPixels(await page.screenshot(), box);

    await page.keyboard.press('s');
    await page.getByTestId('embed-panel').waitFor();
    // The panel lists the backbones when it opens (generous: the engine answers late on a loaded machine).
    await expect.poll(() => page.getByTestId('embed-model').inputValue(), { timeout: 60_000 }).toBe('models/tiny');
    expect(await page.getByTestId('colour-bar').innerText()).toMatch(/-1\.0[\s\S]*0\.0[\s\S]*1\.0/);

    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await expect.poll(() => page.getByTestId('embed-status').innerText(), { timeout: 120_000 }).toMatch(/^Query \(\d+, \d+\)/);
    await page.getByTestId('embed-marker-query').waitFor();
    await settle(page);
    const shot = await page.screenshot();
    keepScreenshot('similarity.png', shot);
    const after = heatPixels(shot, box);
    // Grey MR before; after, the pixels resembling the query (at least the query's own neighbourhood) glow.
    expect(before).toBeLessThan(50);
    expect(after).toBeGreaterThan(before + 200);
    expect(problems).toEqual([]);

    // Dragging moves the query: the status follows the pointer's pixel.
    const first = await page.getByTestId('embed-status').innerText();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 60, box.y + box.height / 2 + 30, { steps: 5 });
    await page.mouse.up();
    await expect.poll(() => page.getByTestId('embed-status').innerText(), { timeout: 60_000 }).not.toBe(first);
    expect(problems).toEqual([]);

    // Another study's slice as well: its best match is listed, and showing it marks the match there.
    const pick = page.getByTestId('embed-pick-volume');
    const options = await pick.locator('option').evaluateAll((os) => os.map((o) => [o.getAttribute('value') ?? '', o.textContent ?? '']));
    // patient002's volume when the label names it, else the last listed (the second study comes last).
    const other = (options.find(([v, t]) => v && /002/.test(t)) ?? options[options.length - 1])![0]!;
    expect(other).not.toBe('');
    await pick.selectOption(other);
    await page.getByTestId('embed-pick-add').click();
    await expect.poll(() => page.getByTestId('embed-chosen').innerText(), { timeout: 30_000 }).toMatch(/slice \d+/);
    const row = page.locator('[data-testid="embed-matches"] li', { hasText: /slice \d+: best \(\d+, \d+\)/ });
    await row.waitFor({ timeout: 120_000 });
    await row.click();
    await page.getByTestId('embed-marker-best').waitFor({ timeout: 60_000 });
    await settle(page);
    expect(heatPixels(await page.screenshot(), box)).toBeGreaterThan(200);
    expect(problems).toEqual([]);

    // Embedding colouring (PCA): the colour image and the scatter, linked by hover.
    await page.getByTestId('projection-run').click();
    const colours = page.getByTestId('projection-image');
    await colours.waitFor({ timeout: 120_000 });
    const cbox = (await colours.boundingBox())!;
    expect(cbox.width).toBeGreaterThan(100);
    await colours.scrollIntoViewIfNeeded();
    const c2 = (await colours.boundingBox())!;
    await page.mouse.move(c2.x + c2.width / 2, c2.y + c2.height / 2);
    await page.locator('[data-testid="embed-projection"] svg.mark circle').nth(1).waitFor();
    keepScreenshot('embedding-colouring.png', await page.screenshot());
    expect(problems).toEqual([]);
    await page.close();
  });
});
