#!/usr/bin/env node
/**
 * Bundles the desktop shell and the engine process with esbuild:
 *   dist/electron/main.js         Electron main process (ESM: package.json says "type": "module")
 *   dist/electron/preload.cjs     sandboxed preload (one CommonJS file: a sandboxed preload cannot load modules)
 *   dist/engine/process-entry.js  engine utilityProcess (Node ESM; native and wasm packages stay external so
 *                                 they load from node_modules, unpacked from the asar archive when packaged)
 * and writes the placeholder icon into resources/ when it is missing.
 *
 * Usage: node scripts/build-electron.mjs [--outdir DIR]   (default: dist)
 */
import { build } from 'esbuild';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeIcon } from './make-icon.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Packages the engine loads at run time from node_modules: native addons, wasm payloads, optional backends. */
export const ENGINE_EXTERNALS = [
  'electron',
  'better-sqlite3',
  '@itk-wasm/*',
  'itk-wasm',
  '@tensorflow/*',
  'onnxruntime-node',
  'onnxruntime-common',
  'ws',
  'bufferutil',
  'utf-8-validate',
];

// ESM bundles may contain CommonJS code that calls require(); give it a real one.
const requireShim = "import { createRequire as __p2rCreateRequire } from 'node:module'; const require = __p2rCreateRequire(import.meta.url);";

/** @param {{ outdir?: string, quiet?: boolean }} [options] */
export async function buildElectron(options = {}) {
  const outdir = resolve(root, options.outdir ?? 'dist');
  const common = {
    absWorkingDir: root,
    bundle: true,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: options.quiet ? 'error' : 'warning',
  };
  await Promise.all([
    build({
      ...common,
      entryPoints: ['electron/main.ts'],
      outfile: join(outdir, 'electron', 'main.js'),
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: ['electron'],
      banner: { js: requireShim },
    }),
    build({
      ...common,
      entryPoints: ['electron/preload.ts'],
      outfile: join(outdir, 'electron', 'preload.cjs'),
      platform: 'node',
      format: 'cjs',
      target: 'chrome120',
      external: ['electron'],
      sourcemap: false,
    }),
    build({
      ...common,
      entryPoints: ['main/engine/process-entry.ts'],
      outfile: join(outdir, 'engine', 'process-entry.js'),
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: ENGINE_EXTERNALS,
      banner: { js: requireShim },
    }),
  ]);
  checkPreload(join(outdir, 'electron', 'preload.cjs'));
  const icon = join(root, 'resources', 'icon.png');
  if (!existsSync(icon)) writeIcon(icon);
  if (!options.quiet) console.log(`build-electron: wrote ${join(outdir, 'electron')} and ${join(outdir, 'engine')}`);
  return outdir;
}

/**
 * A sandboxed preload gets a require() that knows only electron and a few Node built-ins; anything else
 * would fail on users' machines only, so the build refuses it here.
 */
function checkPreload(file) {
  const text = readFileSync(file, 'utf8');
  const required = [...text.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]);
  const foreign = required.filter((name) => name !== 'electron');
  if (foreign.length) {
    throw new Error(`the preload bundle requires ${foreign.join(', ')}; a sandboxed preload may only require "electron"`);
  }
}

function argValue(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  buildElectron({ outdir: argValue('--outdir') }).catch((err) => {
    console.error(`build-electron: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
