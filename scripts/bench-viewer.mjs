#!/usr/bin/env node
// Slice-scroll frame time of the viewer in headless Chromium (the browser twin), repeatable:
//   node scripts/bench-viewer.mjs [--steps 120] [--layout 1|2] [--profile] [--patient acdc/training/patient001]
//                                 [--static DIR  (serve a renderer built elsewhere instead of building this one)]
// Builds the renderer into a temporary folder (never touches dist/), imports one ACDC patient into a temporary
// workspace, opens its ED volume at 1280x720 with the edited annotation (a painted stroke) and the imported
// ground truth as a reference overlay, then steps one slice per animation frame and reports
//   - the interval between animation frames while scrolling (what the user sees),
//   - the page's own main-thread time per step (Vue watchers + vtk.js scene update + WebGL calls, up to
//     the end of the render call),
//   - the same count of idle frames, for the machine's baseline,
// and with --profile the JavaScript functions with the most self time during the scroll (CDP Profiler).
// Prints the machine load first: timings mean little without it.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { register } from 'tsx/esm/api';

register();
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: {
    steps: { type: 'string', default: '120' },
    layout: { type: 'string', default: '1' },
    profile: { type: 'boolean', default: false },
    patient: { type: 'string', default: 'acdc/training/patient001' },
    // A renderer built elsewhere (e.g. from an older commit, for a before/after comparison).
    static: { type: 'string' },
  },
});
const steps = Number(opts.steps);
const dataRoot = resolve(process.env.PIX2REP_TEST_DATA ?? join(root, '..', 'shared', 'data'));
const patientDir = join(dataRoot, opts.patient);
if (!existsSync(patientDir)) {
  console.error(`bench-viewer: ${patientDir} does not exist (set PIX2REP_TEST_DATA or --patient)`);
  process.exit(2);
}

const { chromium } = await import('playwright-core');
const { CHROMIUM_ARGS, findChromium } = await import('../test/support/browser.ts');
const { startServer } = await import('../main/serve/server.ts');
const { build } = await import('vite');

const tmp = mkdtempSync(join(tmpdir(), 'pix2rep-bench-viewer-'));
const staticDir = opts.static ? resolve(opts.static) : join(tmp, 'renderer');
const workspace = join(tmp, 'workspace');
let server;
let browser;
try {
  if (!opts.static) await build({ configFile: join(root, 'renderer', 'vite.config.ts'), logLevel: 'warn', build: { outDir: staticDir, emptyOutDir: true } });
  server = await startServer({ port: 0, workspace, staticDir });
  await server.engine.call('library.import', { paths: [patientDir], labels: '*_gt.nii.gz' });
  const found = await findChromium();
  browser = await chromium.launch({ executablePath: found.executablePath, headless: true, args: CHROMIUM_ARGS });
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 }, deviceScaleFactor: 1 });
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && console.error(`console: ${m.text()}`));
  await page.goto(server.url);
  await page.getByTestId('volume-row').first().click();
  await page.locator('[data-testid="slice-view"] canvas').first().waitFor();
  await page.getByTestId('slice-index').first().waitFor();
  if (opts.layout === '2') {
    await page.getByTestId('layout-toggle').click();
    await page.locator('[data-testid="slice-view"] canvas').nth(1).waitFor();
  }
  // A stroke on every slice (so the label layer has voxels wherever it scrolls) and the reference overlay.
  const view = page.getByTestId('slice-view').first();
  const box = await view.boundingBox();
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  await page.keyboard.press('b');
  await page.mouse.move(cx - 30, cy);
  await page.mouse.down();
  await page.mouse.move(cx + 30, cy + 10, { steps: 6 });
  await page.mouse.up();
  await page.keyboard.press('v');
  await page.getByTestId('reference-select').selectOption({ index: 1 });
  await page.waitForTimeout(500);
  await view.hover();
  const dims = await page.locator('.bar .dim').first().innerText();

  const cdp = opts.profile ? await page.context().newCDPSession(page) : null;
  if (cdp) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    await cdp.send('Profiler.start');
  }
  // One slice step per animation frame. `work` is the main-thread time from the key event to the end of
  // the frame's callbacks that follow it (the view renders in a requestAnimationFrame callback).
  const scroll = await page.evaluate(async (n) => {
    const frame = () => new Promise((r) => requestAnimationFrame(r));
    const key = (k) => window.dispatchEvent(new KeyboardEvent('keydown', { key: k }));
    const intervals = [];
    const work = [];
    let last = await frame();
    for (let s = 0; s < n; s++) {
      const t0 = performance.now();
      key(s % 16 < 8 ? 'ArrowDown' : 'ArrowUp');
      // Let Vue's scheduler run the watchers first (a microtask), so the view's render callback is
      // queued before ours.
      await Promise.resolve();
      await Promise.resolve();
      const t = await frame();
      // Measured after the view's render callback, which was queued before this one.
      work.push(performance.now() - t0);
      intervals.push(t - last);
      last = t;
    }
    return { intervals, work };
  }, steps);
  let profile = null;
  if (cdp) ({ profile } = await cdp.send('Profiler.stop'));
  const idle = await page.evaluate(async (n) => {
    const frame = () => new Promise((r) => requestAnimationFrame(r));
    const out = [];
    let last = await frame();
    for (let s = 0; s < n; s++) {
      const t = await frame();
      out.push(t - last);
      last = t;
    }
    return out;
  }, steps);

  const q = (a, p) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * p))];
  const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
  const fmt = (a) => `mean ${mean(a).toFixed(1)} ms, median ${q(a, 0.5).toFixed(1)} ms, p95 ${q(a, 0.95).toFixed(1)} ms`;
  const [l1, l5] = loadavg();
  console.log(`bench-viewer: ${opts.patient} ED (${dims}), layout ${opts.layout === '2' ? '1x2' : '1x1'}, 1280x720, ${steps} slice steps, Chromium ${browser.version()} (${found.source})`);
  console.log(`machine: load average ${l1.toFixed(2)} (1 min), ${l5.toFixed(2)} (5 min)`);
  console.log(`scroll frame interval: ${fmt(scroll.intervals)}`);
  console.log(`main-thread work per step: ${fmt(scroll.work)}`);
  console.log(`idle frame interval:   ${fmt(idle)}`);
  if (profile) {
    // Self time per function from the sampled profile: hit counts times the mean sample interval.
    const total = profile.endTime - profile.startTime;
    const hits = profile.nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0);
    const per = new Map();
    for (const node of profile.nodes) {
      const cf = node.callFrame;
      const name = `${cf.functionName || '(anonymous)'} ${cf.url ? cf.url.split('/').pop() : ''}:${cf.lineNumber + 1}`;
      per.set(name, (per.get(name) ?? 0) + (node.hitCount ?? 0));
    }
    const top = [...per.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15);
    console.log(`profile: ${(total / 1000).toFixed(0)} ms sampled; self time per step:`);
    for (const [name, n] of top) console.log(`  ${((n / hits) * total / 1000 / steps).toFixed(2).padStart(7)} ms  ${name}`);
  }
} finally {
  await browser?.close();
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
}
// Vite and the engine may leave handles open; the measurement is done.
process.exit(0);
