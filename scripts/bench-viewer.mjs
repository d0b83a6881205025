#!/usr/bin/env node
// Slice-scroll frame time of the viewer in headless Chromium (the browser twin), repeatable:
//   node scripts/bench-viewer.mjs [--steps 120] [--layout 1|2] [--profile] [--patient acdc/training/patient001]
//                                 [--static DIR  (serve a renderer built elsewhere instead of building this one)]
//                                 [--mode slice|zoom|dom] [--trace FILE.json] [--chromium-arg=--flag ...]
//                                 [--layers all|edit|reference|image] [--viewport 1280x720] [--gl-calls] [--outline]
//                                 [--annotated]
// Builds the renderer into a temporary folder (never touches dist/), imports one ACDC patient into a temporary
// workspace, opens its ED volume at 1280x720 with the edited annotation (a painted stroke) and the imported
// ground truth as a reference overlay, then steps one slice per animation frame and reports
//   - the interval between animation frames while scrolling (what the user sees),
//   - the page's own main-thread time per step (Vue watchers + vtk.js scene update + WebGL calls, up to
//     the end of the render call), and how long glFinish then waits for the GPU process to draw it,
//   - the same count of idle frames, for the machine's baseline,
// and with --profile the JavaScript functions with the most self time during the scroll (CDP Profiler).
// Prints the machine load first: timings mean little without it.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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
    // What changes each frame: the slice (arrow keys), only the camera (zoom in/out: a redraw that uploads
    // nothing), or only a line of text in the page (no WebGL work: the cost of compositing the page).
    mode: { type: 'string', default: 'slice' },
    // A Chromium trace of the scroll (all processes); the busiest threads and events are summarised.
    trace: { type: 'string' },
    // Extra Chromium flags (repeatable), e.g. --chromium-arg=--disable-gpu-compositing.
    'chromium-arg': { type: 'string', multiple: true, default: [] },
    // Save what the view shows before scrolling (a check that the overlays really are drawn).
    screenshot: { type: 'string' },
    // Which layers the first view draws (the others are switched off in its view state, so their actors go).
    layers: { type: 'string', default: 'all' },
    // The page size: the view's canvas scales with it (to see whether a frame's cost follows its pixels).
    viewport: { type: 'string', default: '1280x720' },
    // Count the WebGL calls the page makes per scroll step (draws, uploads, program switches, clears).
    'gl-calls': { type: 'boolean', default: false },
    // The edited annotation as an outline (vtk's label outline shader) instead of a 50 % fill.
    outline: { type: 'boolean', default: false },
    // Copy the reference into the annotation first, so the edited layer holds the heart's labels on every
    // slice the ground truth covers (9 of 10), not only the one painted stroke.
    annotated: { type: 'boolean', default: false },
  },
});
const steps = Number(opts.steps);
const [vw, vh] = opts.viewport.split('x').map(Number);
if (!(vw > 0 && vh > 0)) {
  console.error(`bench-viewer: --viewport ${opts.viewport} is not WIDTHxHEIGHT`);
  process.exit(2);
}
if (!['all', 'edit', 'reference', 'image'].includes(opts.layers)) {
  console.error(`bench-viewer: --layers ${opts.layers} is not one of all, edit, reference, image`);
  process.exit(2);
}
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
  browser = await chromium.launch({ executablePath: found.executablePath, headless: true, args: [...CHROMIUM_ARGS, ...opts['chromium-arg']] });
  const page = await browser.newPage({ viewport: { width: vw, height: vh }, deviceScaleFactor: 1 });
  if (opts['gl-calls']) {
    // Wrap every WebGL2 method before the page's scripts run; the scroll loop reads and resets the counts.
    await page.addInitScript(() => {
      const counts = {};
      window.__glCalls = counts;
      const proto = WebGL2RenderingContext.prototype;
      for (const name of Object.getOwnPropertyNames(proto)) {
        const d = Object.getOwnPropertyDescriptor(proto, name);
        if (!d || typeof d.value !== 'function' || name === 'constructor') continue;
        const f = d.value;
        proto[name] = function (...args) {
          counts[name] = (counts[name] ?? 0) + 1;
          return f.apply(this, args);
        };
      }
    });
  }
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && console.error(`console: ${m.text()}`));
  await page.goto(server.url);
  await page.getByTestId('volume-row').first().click();
  await page.locator('[data-testid="slice-view"] canvas').first().waitFor();
  await page.getByTestId('slice-index').first().waitFor();
  // The geometry line appears once the volume is loaded: keys and strokes before that do nothing.
  await page.locator('.bar .dim').first().waitFor();
  if (opts.layout === '2') {
    await page.getByTestId('layout-toggle').click();
    await page.locator('[data-testid="slice-view"] canvas').nth(1).waitFor();
  }
  // A stroke across the middle slice (the edited layer; --annotated fills it on every labelled slice) and the
  // imported ground truth as the reference overlay.
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
  if (opts.outline) await page.keyboard.press('o');
  await page.getByTestId('reference-select').selectOption({ index: 1 });
  await page.waitForTimeout(500);
  if (opts.annotated) {
    await page.getByTestId('copy-reference').click();
    await page.waitForTimeout(300);
  }
  if (opts.layers !== 'all') {
    // Through the app's own view state (the Pinia store behind the root component), as the layout-2
    // checkboxes do: a layer switched off there is unmounted, its actor removed.
    await page.evaluate((layers) => {
      const pinia = document.querySelector('#app').__vue_app__.config.globalProperties.$pinia;
      const main = pinia._s.get('viewer').views.main;
      main.showLabels = layers === 'edit';
      main.showReference = layers === 'reference';
    }, opts.layers);
    await page.waitForTimeout(300);
  }
  await view.hover();
  if (opts.screenshot) await page.screenshot({ path: opts.screenshot });
  const dims = await page.locator('.bar .dim').first().innerText();
  // The context vtk drew with (asking the canvas again returns it): multisampling on or off.
  const context = await page.evaluate(() => {
    const c = document.querySelector('[data-testid="slice-view"] canvas');
    const gl = c && (c.getContext('webgl2') ?? c.getContext('webgl'));
    const a = gl?.getContextAttributes();
    return a ? `${c.width}x${c.height} canvas, antialias ${a.antialias}, samples ${gl.getParameter(gl.SAMPLES)}` : 'no WebGL context';
  });

  const cdp = opts.profile ? await page.context().newCDPSession(page) : null;
  if (cdp) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    await cdp.send('Profiler.start');
  }
  if (opts.trace) await browser.startTracing(page, { path: opts.trace, categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'toplevel', 'gpu', 'viz', 'cc', 'blink', 'disabled-by-default-gpu.service'] });
  // One slice step per animation frame. `work` is the main-thread time from the key event to the end of
  // the frame's callbacks that follow it (the view renders in a requestAnimationFrame callback).
  const cpu0 = chromiumCpuMs();
  const scroll = await page.evaluate(async ([n, mode]) => {
    const frame = () => new Promise((r) => requestAnimationFrame(r));
    const readout = document.querySelector('[data-testid="cursor-readout"]');
    const keys = { slice: ['ArrowDown', 'ArrowUp'], zoom: ['+', '-'] }[mode];
    const key = (k) => {
      if (keys) window.dispatchEvent(new KeyboardEvent('keydown', { key: k === 'ArrowDown' ? keys[0] : keys[1] }));
      else readout.textContent = `step ${performance.now().toFixed(3)}`;
    };
    const intervals = [];
    const work = [];
    const finish = [];
    // The canvas hands back vtk's own context: glFinish after the view's render waits for the GPU process
    // (SwiftShader, on the CPU here) to execute that frame's drawing.
    const canvas = document.querySelector('[data-testid="slice-view"] canvas');
    const gl = canvas.getContext('webgl2') ?? canvas.getContext('webgl');
    const watchers = [];
    let last = await frame();
    if (window.__glCalls) for (const k of Object.keys(window.__glCalls)) delete window.__glCalls[k];
    for (let s = 0; s < n; s++) {
      const t0 = performance.now();
      key(s % 16 < 8 ? 'ArrowDown' : 'ArrowUp');
      // Let Vue's scheduler run the watchers first (a microtask), so the view's render callback is
      // queued before ours.
      await Promise.resolve();
      await Promise.resolve();
      watchers.push(performance.now() - t0);
      const t = await frame();
      // Our callback runs right after the view's render in the same frame: the time since the frame began
      // is that render's main-thread cost.
      work.push(performance.now() - t);
      const t1 = performance.now();
      gl.finish();
      finish.push(performance.now() - t1);
      intervals.push(t - last);
      last = t;
    }
    const calls = window.__glCalls ? { ...window.__glCalls } : null;
    return { intervals, work, finish, watchers, calls };
  }, [steps, opts.mode]);
  const cpu1 = chromiumCpuMs();
  if (opts.trace) await browser.stopTracing();
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
  const cpu2 = chromiumCpuMs();

  const q = (a, p) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * p))];
  const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
  const fmt = (a) => `mean ${mean(a).toFixed(1)} ms, median ${q(a, 0.5).toFixed(1)} ms, p95 ${q(a, 0.95).toFixed(1)} ms`;
  const [l1, l5] = loadavg();
  console.log(`bench-viewer: ${opts.patient} ED (${dims}), layout ${opts.layout === '2' ? '1x2' : '1x1'}, layers ${opts.layers}${opts.outline ? ' (edited one as outline)' : ''}${opts.annotated ? ', reference copied into the annotation' : ''}, ${vw}x${vh}, ${steps} ${opts.mode} steps, Chromium ${browser.version()} (${found.source})`);
  console.log(`WebGL: ${context}${opts['chromium-arg'].length ? `; extra Chromium flags ${opts['chromium-arg'].join(' ')}` : ''}`);
  console.log(`machine: load average ${l1.toFixed(2)} (1 min), ${l5.toFixed(2)} (5 min)`);
  console.log(`${opts.mode} frame interval: ${fmt(scroll.intervals)}`);
  console.log(`key handler + Vue watchers: ${fmt(scroll.watchers)}`);
  console.log(`vtk render (main thread): ${fmt(scroll.work)}`);
  console.log(`glFinish after the render: ${fmt(scroll.finish)}`);
  console.log(`idle frame interval:   ${fmt(idle)}`);
  if (cpu0 !== null && cpu2 !== null) {
    // CPU time is what the frames cost the machine; unlike the intervals it hardly depends on the load.
    const per = (a, b) => ((b - a) / steps).toFixed(1);
    console.log(`Chromium CPU time (all its processes): ${per(cpu0, cpu1)} ms per ${opts.mode} step, ${per(cpu1, cpu2)} ms per idle frame`);
  }
  if (scroll.calls) {
    // glFinish of the measuring loop itself is one per step; everything else is the page's.
    const rows = Object.entries(scroll.calls).sort((a, b) => b[1] - a[1]);
    console.log(`WebGL calls per step: ${rows.map(([k, n]) => `${k} ${(n / steps).toFixed(1)}`).join(', ')}`);
  }
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
  if (opts.trace) summariseTrace(opts.trace, steps);
} finally {
  await browser?.close();
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
}
/**
 * User + system CPU time of every process this script started (Chromium's browser, renderer, GPU and utility
 * processes; the engine runs in this process and is not counted), in ms, from /proc; null without /proc.
 */
function chromiumCpuMs() {
  const root = process.pid;
  if (!existsSync('/proc/self/stat')) return null;
  const tick = 10; // USER_HZ is 100 on Linux
  const procs = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the command name, which is in parentheses and may hold spaces.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(name), { ppid: Number(f[1]), ms: (Number(f[11]) + Number(f[12])) * tick });
    } catch {
      // The process ended while we looked.
    }
  }
  let total = 0;
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop();
    if (pid !== root) total += procs.get(pid)?.ms ?? 0;
    for (const [child, p] of procs) if (p.ppid === pid) todo.push(child);
  }
  return total;
}

/** Busiest threads, and the longest-running event names on them, per step (complete events only). */
function summariseTrace(file, n) {
  const events = JSON.parse(readFileSync(file, 'utf8')).traceEvents;
  const names = new Map();
  for (const e of events) if (e.ph === 'M' && e.name === 'thread_name') names.set(`${e.pid}:${e.tid}`, e.args.name);
  const procs = new Map();
  for (const e of events) if (e.ph === 'M' && e.name === 'process_name') procs.set(e.pid, e.args.name);
  const busy = new Map();
  for (const e of events) {
    if (e.ph !== 'X' || !e.dur) continue;
    const th = `${procs.get(e.pid) ?? e.pid} / ${names.get(`${e.pid}:${e.tid}`) ?? e.tid}`;
    const byName = busy.get(th) ?? new Map();
    byName.set(e.name, (byName.get(e.name) ?? 0) + e.dur);
    busy.set(th, byName);
  }
  // Nested events overlap: a thread's time is the largest of its top-level-ish events, roughly.
  const rows = [...busy.entries()].map(([th, m]) => [th, [...m.entries()].sort((a, b) => b[1] - a[1])]).sort((a, b) => b[1][0][1] - a[1][0][1]).slice(0, 6);
  console.log(`trace: ${file}; per step, the longest event kinds of the busiest threads:`);
  for (const [th, list] of rows) console.log(`  ${th}: ${list.slice(0, 4).map(([k, d]) => `${k} ${(d / 1000 / n).toFixed(1)} ms`).join(', ')}`);
}

// Vite and the engine may leave handles open; the measurement is done.
process.exit(0);
