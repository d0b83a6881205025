import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasData, MISSING_DATA } from '../support/data.js';
import { keepScreenshot, settle, showVolume, startTwin, VIEWPORT, type Twin } from '../support/e2e.js';
import { decodePng, type DecodedPng } from '../support/png.js';

const PATIENT = 'acdc/training/patient001';

interface Shot {
  img: DecodedPng;
  region: { x: number; y: number; width: number; height: number };
}

async function grabSliceView(page: Page, keep?: string): Promise<Shot> {
  const box = (await page.getByTestId('slice-view').boundingBox())!;
  const png = await page.screenshot({ fullPage: false });
  if (keep) keepScreenshot(keep, png);
  const img = decodePng(png);
  expect([img.width, img.height]).toEqual([VIEWPORT.width, VIEWPORT.height]);
  return { img, region: { x: Math.round(box.x), y: Math.round(box.y), width: Math.round(box.width), height: Math.round(box.height) } };
}

/** Strongly coloured pixels: label colours (outline or fill); a grey MR slice has none. */
function colouredPixels({ img, region }: Shot): number {
  let n = 0;
  for (let y = region.y; y < region.y + region.height; y++)
    for (let x = region.x; x < region.x + region.width; x++) {
      const o = (y * img.width + x) * 4;
      const r = img.rgba[o]!;
      const g = img.rgba[o + 1]!;
      const b = img.rgba[o + 2]!;
      if (Math.max(r, g, b) - Math.min(r, g, b) > 60) n++;
    }
  return n;
}

describe.skipIf(!hasData(PATIENT))(`few-shot training, prediction and review in the browser (ACDC ${PATIENT}) ${hasData(PATIENT) ? '' : MISSING_DATA}`, () => {
  let twin: Twin;
  beforeAll(async () => {
    twin = await startTwin({ name: 'training', patients: [PATIENT] });
  });
  afterAll(() => twin?.close());

  /** LV ejection fraction of the imported reference, counted here independently of the renderer's code. */
  async function referenceLvEf(): Promise<number> {
    const { studies } = await twin.server.engine.call('library.listStudies');
    const vols = studies.flatMap((s) => s.series.flatMap((se) => se.volumes));
    const lv = async (phase: 'ED' | 'ES') => {
      const v = vols.find((x) => x.phase === phase)!;
      const a = await twin.server.engine.call('library.readAnnotation', { annotationId: v.annotations.find((x) => x.source === 'imported')!.id, frame: 0 });
      const bytes = Buffer.from(a.data, 'base64');
      let n = 0;
      for (const b of bytes) if (b === 3) n++;
      return n * v.spacing[0] * v.spacing[1] * v.spacing[2];
    };
    const ed = await lv('ED');
    const es = await lv('ES');
    return (ed - es) / ed;
  }

  it('trains a tiny supervised model, predicts the study, shows the overlay tagged with the model, reviews it and reports results', async () => {
    const { page, problems } = await twin.openPage();
    await showVolume(page, 'patient001_frame01');

    // The pretraining tab renders its form and an empty history on this fresh workspace.
    await page.getByTestId('tab-pretrain').click();
    await page.getByTestId('pretrain-panel').waitFor();
    expect(await page.getByTestId('pretrain-start').isEnabled()).toBe(true);

    await page.getByTestId('tab-fewshot').click();
    // ED and ES ground truth: 9 annotated slices each.
    await expect.poll(() => page.getByTestId('fewshot-annotated').innerText()).toBe('18 annotated slices in 2 volumes');
    await settle(page);
    const before = await grabSliceView(page);
    expect(colouredPixels(before)).toBeLessThan(20);

    await page.getByTestId('mode-supervised').check();
    await page.getByTestId('fewshot-steps').fill('1');
    await page.getByTestId('fewshot-train').click();
    await page.getByTestId('fewshot-train-progress').waitFor();
    const trained = page.getByTestId('fewshot-trained');
    await trained.waitFor({ timeout: 150_000 });
    const text = await trained.innerText();
    expect(text).toMatch(/^supervised-\S+: 1 step on 18 annotated slices in \d+ s/);
    const modelName = text.slice(0, text.indexOf(':'));
    expect(await page.getByTestId('predict-model').locator('option:checked').innerText()).toContain(modelName);

    await page.getByTestId('predict-study').click();
    await page.getByTestId('predict-done').filter({ hasText: 'Segmented 2 volumes' }).waitFor({ timeout: 120_000 });

    // The prediction is on screen as the viewer's reference overlay, named by the model that made it.
    await expect.poll(() => page.getByTestId('prediction-tag').innerText()).toBe(`Showing the prediction by ${modelName} (outline)`);
    expect(await page.getByTestId('reference-select').locator('option:checked').innerText()).toContain(`Prediction by ${modelName}`);
    // The review card (with the model's name) in sight for the kept screenshot.
    await page.getByTestId('prediction-tag').scrollIntoViewIfNeeded();
    await settle(page);
    const shown = await grabSliceView(page, 'training.png');
    const coloured = colouredPixels(shown);
    expect(coloured).toBeGreaterThan(200);

    // Results: Dice per structure against the imported reference, and cardiac indices for both.
    const dice = await page.getByTestId('results-dice').innerText();
    // ACDC's imported palette names the structures; one training step gives a poor but defined Dice for each.
    expect(dice.split('\n').map((l) => l.replace(/\t/g, ' ').replace(/[\d.]+$/, 'D'))).toEqual(['RV cavity D', 'LV myocardium D', 'LV cavity D']);
    const cardiac = page.getByTestId('results-cardiac');
    await cardiac.waitFor();
    expect(await cardiac.locator('tr').first().innerText()).toMatch(/Prediction\s+Reference/);
    const efRow = await cardiac.locator('tr', { hasText: 'LV ejection fraction' }).innerText();
    const shownRefEf = Number(/([\d.]+) %\s*$/.exec(efRow)![1]);
    expect(shownRefEf).toBeCloseTo((await referenceLvEf()) * 100, 1);

    // Reject hides the overlay; showing it again and accepting the slice copies it into the manual annotation.
    await page.getByTestId('reject-prediction').click();
    await page.getByTestId('prediction-tag').waitFor({ state: 'detached' });
    await settle(page);
    expect(colouredPixels(await grabSliceView(page))).toBeLessThan(20);
    expect(await page.getByTestId('slice-annotated').isChecked()).toBe(false);
    await page.getByTestId('review-select').selectOption({ label: modelName });
    await page.getByTestId('prediction-tag').waitFor();
    await page.getByTestId('accept-slice').click();
    await expect.poll(() => page.getByTestId('slice-annotated').isChecked()).toBe(true);
    await expect.poll(() => page.getByTestId('annotated-count').innerText()).toBe('1 annotated slice');

    expect(problems).toEqual([]);
    await page.close();
  });

  it('follows a pretraining job live (loss curve, step, throughput, backend) and pauses, resumes and cancels it from the panel', async () => {
    // The server runs queued jobs itself (its job runner), exactly as `pix2rep serve` does.
    // A page that fails to load is closed with Chromium in afterAll.
    const { page, problems } = await twin.openPage({ consoleErrors: false });
    try {
      await page.getByTestId('tab-pretrain').click();
      await page.getByTestId('pretrain-panel').waitFor();

      // A pretraining small enough for a test (16² slices, a tiny U-Net); the UI's form offers the real presets.
      const job = await twin.server.engine.call('jobs.enqueue', {
        kind: 'pretrain',
        name: 'tiny pretraining',
        params: {
          steps: 5000,
          batch: 2,
          size: 16,
          checkpointEverySteps: 20,
          config: { model: { unet: { levels: 2, base: 4, embedding: 8 }, head: { hidden: 8, out: 8 } }, loss: { samples: 48 }, train: { seed: 3, validationFraction: 0.2 } },
        },
      });
      await page.getByTestId('pretrain-status').filter({ hasText: 'Running' }).waitFor({ timeout: 60_000 });
      await expect.poll(() => page.getByTestId('pretrain-progress').innerText(), { timeout: 60_000 }).toMatch(/^step \d+ of 5000 · .*slices\/s.*backend \w+/);
      // Several steps drawn as a line.
      await expect.poll(async () => ((await page.getByTestId('loss-train').getAttribute('d')) ?? '').split('L').length, { timeout: 60_000 }).toBeGreaterThan(3);
      await settle(page);
      keepScreenshot('pretraining.png', await page.screenshot());

      await page.getByTestId('pretrain-pause').click();
      await page.getByTestId('pretrain-status').filter({ hasText: /^Paused/ }).waitFor({ timeout: 60_000 });
      const paused = await twin.server.engine.call('jobs.get', { id: job.id });
      expect(paused.checkpointStep).toBe(paused.step);
      await page.getByTestId('pretrain-resume').click();
      await page.getByTestId('pretrain-status').filter({ hasText: 'Running' }).waitFor({ timeout: 60_000 });
      await page.getByTestId('pretrain-cancel').click();
      await page.getByTestId('pretrain-status').filter({ hasText: 'Cancelled' }).waitFor({ timeout: 60_000 });
      // The stored curve outlives the run: a fresh page draws it from jobs.progress.
      const stored = (await twin.server.engine.call('jobs.progress', { id: job.id })).points.filter((p) => p.kind === 'step').length;
      expect(stored).toBeGreaterThan(3);
      await page.reload();
      await page.getByTestId('tab-pretrain').click();
      await expect.poll(async () => ((await page.getByTestId('loss-train').first().getAttribute('d')) ?? '').split('L').length).toBe(Math.min(stored, 400));
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
