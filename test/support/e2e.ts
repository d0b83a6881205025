import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { projectRoot } from './data.js';

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
