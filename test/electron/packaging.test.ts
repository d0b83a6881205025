/**
 * electron-builder.yml cannot be exercised here (packaging downloads Electron), so it is checked the way
 * electron-builder itself checks it first, against its own configuration schema, plus the promises the
 * project makes about it: native modules and wasm outside the asar archive, the built bundles inside.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../support/data.js';

const require = createRequire(import.meta.url);

interface BuilderConfig {
  appId: string;
  productName: string;
  files: string[];
  asarUnpack: string[];
  npmRebuild: boolean;
  linux: { target: string[]; icon: string };
  win: { target: string[] };
  mac: { target: string[] };
}

function loadConfig(): BuilderConfig {
  const yaml = require('js-yaml') as { load(text: string): unknown };
  return yaml.load(readFileSync(join(projectRoot, 'electron-builder.yml'), 'utf8')) as BuilderConfig;
}

describe('electron-builder configuration', () => {
  it("passes electron-builder's own schema validation", async () => {
    const { validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as {
      validateConfiguration(config: unknown, logger: unknown): Promise<void>;
    };
    const { DebugLogger } = require('builder-util/out/DebugLogger.js') as { DebugLogger: new (enabled: boolean) => unknown };
    await expect(validateConfiguration(loadConfig(), new DebugLogger(false))).resolves.toBeUndefined();
    // The validator is real: a misspelt option is refused.
    await expect(validateConfiguration({ ...loadConfig(), asarUnpak: [] }, new DebugLogger(false))).rejects.toThrow(/asarUnpak/);
  });

  it('builds the four installers, ships the bundles and unpacks native modules and wasm', () => {
    const c = loadConfig();
    expect(c.productName).toBe('Pix2Rep Workstation');
    expect(c.linux.target).toEqual(['AppImage', 'deb']);
    expect(c.win.target).toEqual(['nsis']);
    expect(c.mac.target).toEqual(['dmg']);
    expect(c.npmRebuild).toBe(true);
    expect(c.files).toEqual(expect.arrayContaining(['dist/electron/**', 'dist/engine/**', 'dist/renderer/**', 'package.json']));
    expect(c.asarUnpack).toEqual(
      expect.arrayContaining([
        '**/*.node',
        '**/*.wasm',
        'node_modules/better-sqlite3/**',
        'node_modules/@tensorflow/tfjs-node/**',
        'node_modules/@tensorflow/tfjs-node-gpu/**',
        'node_modules/onnxruntime-node/**',
      ]),
    );
    const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as {
      main: string;
      scripts: Record<string, string>;
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    // electron-builder refuses electron among dependencies, and copies optional ones into the app.
    expect(pkg.dependencies?.electron).toBeUndefined();
    if (pkg.optionalDependencies?.electron) expect(c.files).toContain('!**/node_modules/electron/**');
    // package.json's main is the file build-electron writes.
    expect(pkg.main).toBe('dist/electron/main.js');
    expect(pkg.scripts.dist).toContain('electron-builder install-app-deps');
    expect(existsSync(join(projectRoot, c.linux.icon))).toBe(true);
  });

  it('ships a square 512×512 PNG icon', () => {
    const png = readFileSync(join(projectRoot, 'resources', 'icon.png'));
    expect(png.subarray(1, 4).toString('ascii')).toBe('PNG');
    expect(png.readUInt32BE(16)).toBe(512); // IHDR width
    expect(png.readUInt32BE(20)).toBe(512); // IHDR height
  });
});
