#!/usr/bin/env node
/**
 * Bundles the desktop shell and the engine process with esbuild:
 *   dist/electron/main.js         Electron main process (ESM: package.json says "type": "module")
 *   dist/electron/preload.cjs     sandboxed preload (one CommonJS file: a sandboxed preload cannot load modules)
 *   dist/engine/process-entry.js  engine utilityProcess (Node ESM; native and wasm packages stay external so
 *                                 they load from node_modules, unpacked from the asar archive when packaged)
 *   dist/engine/job-worker.js     a job's worker process, forked by the engine's job runner (same externals)
 *   dist/engine/train-worker.js   a data-parallel training thread (main/ml/parallel)
 * and writes the placeholder icon into resources/ when it is missing.
 *
 * Usage: node scripts/build-electron.mjs [--outdir DIR]   (default: dist)
 */
import { build } from 'esbuild';
import { existsSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
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
  const engineBundle = (entry, name) =>
    build({
      ...common,
      entryPoints: [entry],
      outfile: join(outdir, 'engine', name),
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: ENGINE_EXTERNALS,
      banner: { js: requireShim },
      metafile: true,
    });
  const [, , engine, worker, trainWorker] = await Promise.all([
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
    engineBundle('main/engine/process-entry.ts', 'process-entry.js'),
    // The runner finds it next to process-entry.js (main/jobs/worker-entry.ts); tsx is not shipped.
    engineBundle('main/jobs/worker.ts', 'job-worker.js'),
    // Data-parallel training threads (main/ml/parallel/trainer.ts starts it from beside the bundle).
    engineBundle('main/ml/parallel/worker.ts', 'train-worker.js'),
  ]);
  checkPreload(join(outdir, 'electron', 'preload.cjs'));
  checkEngineDependencies(engine.metafile);
  checkEngineDependencies(worker.metafile);
  checkEngineDependencies(trainWorker.metafile);
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

/**
 * What the engine bundle leaves to node_modules must be a production dependency (electron-builder ships only
 * those), and what it inlines must not carry a native addon (a .node file cannot be bundled). Both mistakes
 * would only show on users' machines, in the packaged app; here they fail the build with the fix.
 */
export function checkEngineDependencies(metafile) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const shipped = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})]);
  const problems = [];
  const packageOf = (spec) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
  for (const output of Object.values(metafile.outputs)) {
    for (const imp of output.imports) {
      if (!imp.external || isBuiltin(imp.path) || imp.path.startsWith('.') || imp.path.startsWith('/')) continue;
      const name = packageOf(imp.path);
      if (!shipped.has(name)) problems.push(`the engine loads "${name}" at run time, but package.json does not list it in dependencies`);
    }
  }
  const bundled = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
    if (m) bundled.add(m[1]);
  }
  for (const name of bundled) {
    const dir = join(root, 'node_modules', name);
    if (existsSync(join(dir, 'binding.gyp')) || existsSync(join(dir, 'prebuilds'))) {
      problems.push(`"${name}" has a native addon and cannot be bundled: add it to ENGINE_EXTERNALS in scripts/build-electron.mjs`);
    }
  }
  if (problems.length) throw new Error(problems.join('\n'));
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
