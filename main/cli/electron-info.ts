import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

export interface ElectronInfo {
  /** Version of the installed `electron` npm package, or null. */
  version: string | null;
  /** Absolute path of the Electron binary when it was downloaded, else null. */
  binary: string | null;
  /** Why the binary is unavailable (download failed or skipped at install). */
  reason?: string;
}

/**
 * Where the Electron binary is, read from the `electron` package's own files (path.txt + dist/) without
 * requiring it: requiring it throws when the binary download failed, and main/ never imports electron.
 */
export function electronInfo(): ElectronInfo {
  let dir: string;
  try {
    dir = dirname(require.resolve('electron/package.json'));
  } catch {
    return { version: null, binary: null, reason: 'the electron package is not installed (it is optional: its binary download failed at npm install)' };
  }
  const version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  const pathFile = join(dir, 'path.txt');
  if (!existsSync(pathFile)) return { version, binary: null, reason: 'the Electron binary was not downloaded at install (no network access to its release host?)' };
  const binary = join(dir, 'dist', readFileSync(pathFile, 'utf8').trim());
  if (!existsSync(binary)) return { version, binary: null, reason: `the Electron binary is missing at ${binary}` };
  return { version, binary };
}
