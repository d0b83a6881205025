import { existsSync } from 'node:fs';
import { chromium, type Browser, type LaunchOptions } from 'playwright-core';

export interface FoundChromium {
  executablePath: string;
  /** Where it came from, for logs and skip reasons. */
  source: 'PIX2REP_CHROMIUM' | 'system' | '@sparticuz/chromium';
}

const SYSTEM_CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/snap/bin/chromium',
];

/**
 * Flags for a headless run on a machine without a GPU or a network:
 * - WebGL2 (vtk.js) through SwiftShader's software Vulkan behind ANGLE; Chromium only falls back to it when
 *   told it is acceptable (`--enable-unsafe-swiftshader`). `--disable-gpu` is deliberately absent: it turns
 *   WebGL off.
 * - Chromium's own background traffic (component updates, sync, field trials, QUIC probes) switched off: on a
 *   closed network each of those attempts fails and some stall the first page load.
 * - `--no-sandbox`: CI and containers run as root, where Chromium refuses to start sandboxed.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  // Composite the page in software too: with SwiftShader doing the GL, GPU compositing only adds a second
  // software pass (docs/PERFORMANCE.md, viewer: about half the time per frame under load).
  '--disable-gpu-compositing',
  '--ignore-gpu-blocklist',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-domain-reliability',
  '--disable-field-trial-config',
  '--disable-quic',
  '--no-first-run',
  '--no-default-browser-check',
  '--metrics-recording-only',
  '--mute-audio',
];

/**
 * PIX2REP_CHROMIUM (a path, or `@sparticuz/chromium` to force that one), else a system Chromium/Chrome, else the
 * one shipped (brotli-packed) by @sparticuz/chromium.
 */
export async function findChromium(): Promise<FoundChromium> {
  const forced = process.env.PIX2REP_CHROMIUM;
  if (forced === '@sparticuz/chromium') return { executablePath: await sparticuzChromium(), source: '@sparticuz/chromium' };
  if (forced) {
    if (!existsSync(forced)) throw new Error(`PIX2REP_CHROMIUM points to ${forced}, which does not exist`);
    return { executablePath: forced, source: 'PIX2REP_CHROMIUM' };
  }
  for (const p of SYSTEM_CANDIDATES) if (existsSync(p)) return { executablePath: p, source: 'system' };
  return { executablePath: await sparticuzChromium(), source: '@sparticuz/chromium' };
}

/** Unpack @sparticuz/chromium's binary (first call: a few seconds, into the OS temp folder). */
export async function sparticuzChromium(): Promise<string> {
  let mod: { default: { executablePath(input?: string): Promise<string> } };
  try {
    mod = (await import('@sparticuz/chromium')) as typeof mod;
  } catch (err) {
    throw new Error(
      `no Chromium found: set PIX2REP_CHROMIUM, install chromium (apt-get install chromium), or run npm install so that the @sparticuz/chromium devDependency is present (${String(err)})`,
    );
  }
  return mod.default.executablePath();
}

export interface LaunchResult {
  browser: Browser;
  found: FoundChromium;
}

/** Launch headless Chromium with the flags above (plus any extra ones). */
export async function launchChromium(extra: Partial<LaunchOptions> = {}): Promise<LaunchResult> {
  const found = await findChromium();
  // The same flags serve both Debian's chromium and @sparticuz's chrome-headless-shell (which finds the
  // SwiftShader it unpacked next to its binary); both were checked to give WebGL2 here.
  const args = [...CHROMIUM_ARGS];
  const browser = await chromium.launch({
    executablePath: found.executablePath,
    headless: true,
    args: [...args, ...(extra.args ?? [])],
    timeout: 60_000,
    ...withoutArgs(extra),
  });
  return { browser, found };
}

function withoutArgs(o: Partial<LaunchOptions>): Partial<LaunchOptions> {
  const { args: _args, ...rest } = o;
  return rest;
}
