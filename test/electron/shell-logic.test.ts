/**
 * The shell's pure decisions (who may talk to the engine, what a dialog accepts, the CSP, argument parsing,
 * logs, the preload bundle), tested in Node: none of these modules imports electron.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CSP_HEADER, CSP_META } from '../../electron/csp.js';
import { openLog } from '../../electron/log.js';
import { checkFileFilters, isAppPageUrl, methodOf, requestIdOf } from '../../electron/trust.js';
import { isEngineToHost, isHostToEngine, workspaceFromArgv } from '../../main/engine/process-protocol.js';
import { buildElectron, checkEngineDependencies } from '../../scripts/build-electron.mjs';
import { projectRoot } from '../support/data.js';

const scratch = mkdtempSync(join(tmpdir(), 'p2r-shell-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('sender check', () => {
  const index = pathToFileURL('/opt/Pix2Rep Workstation/resources/app.asar/dist/renderer/index.html').href;

  it('accepts our index page, whatever its hash or query', () => {
    expect(isAppPageUrl(index, index)).toBe(true);
    expect(isAppPageUrl(`${index}#/study/3`, index)).toBe(true);
    expect(isAppPageUrl(`${index}?x=1`, index)).toBe(true);
  });

  it('refuses other files, other schemes and junk', () => {
    expect(isAppPageUrl(pathToFileURL('/opt/Pix2Rep Workstation/resources/app.asar/dist/renderer/other.html').href, index)).toBe(false);
    expect(isAppPageUrl(pathToFileURL('/tmp/evil/index.html').href, index)).toBe(false);
    expect(isAppPageUrl('https://example.com/dist/renderer/index.html', index)).toBe(false);
    expect(isAppPageUrl('about:blank', index)).toBe(false);
    expect(isAppPageUrl('data:text/html,<p>hi</p>', index)).toBe(false);
    expect(isAppPageUrl('file://otherhost/opt/Pix2Rep%20Workstation/resources/app.asar/dist/renderer/index.html', index)).toBe(false);
    expect(isAppPageUrl('not a url', index)).toBe(false);
    expect(isAppPageUrl(index, 'https://example.com/')).toBe(false);
  });
});

describe('dialog filters from the renderer', () => {
  it('passes good filters through and defaults when none are given', () => {
    const good = [{ name: 'NIfTI', extensions: ['nii', 'nii.gz'] }, { name: 'All', extensions: ['*'] }];
    expect(checkFileFilters(good)).toEqual(good);
    expect(checkFileFilters(undefined)).toBeUndefined();
    expect(checkFileFilters(null)).toBeUndefined();
  });

  it('refuses malformed filters with the reason', () => {
    expect(() => checkFileFilters('nii')).toThrow(/list/);
    expect(() => checkFileFilters([{ name: '', extensions: ['nii'] }])).toThrow(/filter 0: name/);
    expect(() => checkFileFilters([{ name: 'x', extensions: [] }])).toThrow(/filter 0: extensions/);
    expect(() => checkFileFilters([{ name: 'x', extensions: ['.nii'] }])).toThrow(/no leading dot/);
    expect(() => checkFileFilters([{ name: 'x', extensions: ['../etc'] }])).toThrow(/extension 0/);
    expect(() => checkFileFilters([{ name: 'x', extensions: [3] }])).toThrow(/extension 0/);
    expect(() => checkFileFilters(Array.from({ length: 21 }, () => ({ name: 'x', extensions: ['a'] })))).toThrow(/at most 20/);
  });
});

describe('envelope peeking', () => {
  it('reads the id and method of a request when it can', () => {
    expect(requestIdOf('{"id":7,"method":"engine.status"}')).toBe(7);
    expect(requestIdOf('{"id":"a"}')).toBe('a');
    expect(requestIdOf('{"id":{"x":1}}')).toBeNull();
    expect(requestIdOf('{nope')).toBeNull();
    expect(requestIdOf(42)).toBeNull();
    expect(methodOf('{"id":7,"method":"library.import"}')).toBe('library.import');
    expect(methodOf('[]')).toBe('');
  });
});

describe('content security policy', () => {
  const directive = (csp: string, name: string) =>
    csp
      .split(';')
      .map((d) => d.trim())
      .find((d) => d.startsWith(`${name} `));

  it('allows scripts only from the app, with no inline code or eval', () => {
    for (const csp of [CSP_META, CSP_HEADER]) {
      expect(directive(csp, 'default-src')).toBe("default-src 'none'");
      expect(directive(csp, 'script-src')).toBe("script-src 'self' 'wasm-unsafe-eval'");
      expect(csp).not.toMatch(/'unsafe-eval'/);
      expect(directive(csp, 'object-src')).toBe("object-src 'none'");
      expect(directive(csp, 'frame-src')).toBe("frame-src 'none'");
      expect(directive(csp, 'connect-src')).toBe("connect-src 'self' data: blob:");
      expect(csp).not.toMatch(/https?:|\*/);
    }
  });

  it('keeps frame-ancestors out of the meta form, where browsers ignore it', () => {
    expect(CSP_META).not.toContain('frame-ancestors');
    expect(CSP_HEADER).toBe(`${CSP_META}; frame-ancestors 'none'`);
  });
});

describe('engine process protocol', () => {
  it('finds --workspace in either form, anywhere', () => {
    expect(workspaceFromArgv(['/usr/bin/electron', '.', '--workspace', '/data/ws'])).toBe('/data/ws');
    expect(workspaceFromArgv(['app', '--no-sandbox', '--workspace=/data/w s'])).toBe('/data/w s');
    expect(workspaceFromArgv(['app', '.'])).toBeUndefined();
    expect(() => workspaceFromArgv(['app', '--workspace'])).toThrow(/needs a folder/);
    expect(() => workspaceFromArgv(['app', '--workspace', '--other'])).toThrow(/needs a folder/);
    expect(() => workspaceFromArgv(['app', '--workspace='])).toThrow(/needs a folder/);
  });

  it('recognises well-formed messages only', () => {
    expect(isHostToEngine({ kind: 'request', seq: 1, message: '{}' })).toBe(true);
    expect(isHostToEngine({ kind: 'shutdown' })).toBe(true);
    expect(isHostToEngine({ kind: 'request', seq: 1.5, message: '{}' })).toBe(false);
    expect(isHostToEngine({ kind: 'request', seq: 1, message: {} })).toBe(false);
    expect(isHostToEngine(null)).toBe(false);
    expect(isEngineToHost({ kind: 'ready', workspace: '/w', pid: 3 })).toBe(true);
    expect(isEngineToHost({ kind: 'response', seq: 2, message: '{}' })).toBe(true);
    expect(isEngineToHost({ kind: 'event', message: '{}' })).toBe(true);
    expect(isEngineToHost({ kind: 'fatal', message: 'x' })).toBe(true);
    expect(isEngineToHost({ kind: 'event' })).toBe(false);
    expect(isEngineToHost({ kind: 'other', message: 'x' })).toBe(false);
    expect(isEngineToHost([])).toBe(false);
  });
});

describe('logs', () => {
  it('appends timestamped lines and rotates a log over 5 MB once at start', () => {
    const dir = join(scratch, 'logs');
    const log = openLog(dir, 'main.log', null);
    log('first  \n');
    log('second');
    const lines = readFileSync(join(dir, 'main.log'), 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z first$/);
    expect(lines[1]).toMatch(/ second$/);

    writeFileSync(join(dir, 'big.log'), Buffer.alloc(5 * 1024 * 1024 + 1, 0x61));
    const big = openLog(dir, 'big.log', null);
    big('fresh');
    expect(statSync(join(dir, 'big.log.1')).size).toBe(5 * 1024 * 1024 + 1);
    expect(readFileSync(join(dir, 'big.log'), 'utf8')).toMatch(/ fresh\n$/);
  });

  it('keeps working (silently) where the folder cannot be written', () => {
    const blocker = join(scratch, 'not-a-dir');
    writeFileSync(blocker, 'x');
    const log = openLog(join(blocker, 'logs'), 'main.log', null);
    expect(() => log('still fine')).not.toThrow();
  });
});

describe('bundles', () => {
  const meta = (externals: string[], inputs: string[] = ['main/engine/process-entry.ts']) => ({
    inputs: Object.fromEntries(inputs.map((i) => [i, {}])),
    outputs: { 'dist/engine/process-entry.js': { imports: externals.map((path) => ({ path, external: true })) } },
  });

  it('refuses an engine that would break only once packaged', () => {
    expect(() => checkEngineDependencies(meta(['node:fs', 'fs', 'better-sqlite3', '@itk-wasm/image-io', '@tensorflow/tfjs-node']))).not.toThrow();
    // A devDependency left external is not shipped by electron-builder.
    expect(() => checkEngineDependencies(meta(['vite']))).toThrow(/"vite" at run time/);
    // A native addon inlined into the bundle cannot load its .node file.
    expect(() => checkEngineDependencies(meta([], ['node_modules/better-sqlite3/lib/index.js']))).toThrow(/"better-sqlite3" has a native addon/);
  });

  it('builds a preload that needs only electron, and ESM main and engine bundles', async () => {
    const outdir = join(projectRoot, '.tmp', `electron-bundles-${process.pid}`);
    try {
      await buildElectron({ outdir, quiet: true });
      const preload = readFileSync(join(outdir, 'electron', 'preload.cjs'), 'utf8');
      expect([...preload.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1])).toEqual(['electron']);
      expect(preload).toContain('exposeInMainWorld');
      expect(preload).not.toMatch(/exposeInMainWorld\([^)]*ipcRenderer\s*\)/);
      const main = readFileSync(join(outdir, 'electron', 'main.js'), 'utf8');
      expect(main).toMatch(/from "electron"/);
      const engine = readFileSync(join(outdir, 'engine', 'process-entry.js'), 'utf8');
      // The engine bundle never pulls electron in, and leaves native packages to node_modules.
      expect(engine).not.toMatch(/from "electron"|require\("electron"\)/);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
