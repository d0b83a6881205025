#!/usr/bin/env node
/**
 * `npm start`: build the renderer and the Electron bundles, then launch the desktop app. Where the Electron
 * binary is missing (its download fails on machines without access to its release host), say so in one line
 * and start the browser twin (`pix2rep serve`) instead, which prints the address to open.
 *
 * Arguments after `--` go to the app or to `serve`: `npm start -- --workspace DIR`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';
import { buildElectron } from './build-electron.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);

function buildRenderer() {
  if (!existsSync(join(root, 'renderer', 'vite.config.ts'))) {
    console.log('start: renderer/vite.config.ts does not exist yet; skipping the renderer build');
    return;
  }
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['run', '--silent', 'build:renderer'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) {
    console.error(`start: the renderer build failed (exit ${r.status ?? r.signal}); fix it and run npm start again`);
    process.exit(r.status || 1);
  }
}

/** Run a child in the foreground: Ctrl+C reaches it through the terminal, and its exit code becomes ours. */
function foreground(command, commandArgs, env = process.env) {
  const child = spawn(command, commandArgs, { cwd: root, stdio: 'inherit', env });
  // Ctrl+C already reaches the child through the terminal's process group: forwarding it too would make the
  // child see two and skip its clean shutdown. A SIGTERM sent to this process alone is passed on.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('error', (err) => {
    console.error(`start: could not run ${command}: ${err.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

async function main() {
  buildRenderer();
  await buildElectron({ quiet: true });

  // The lead's electron-info reads the electron package's files without requiring it (requiring it throws
  // when the download failed); it is TypeScript, loaded the same way the CLI loads its sources.
  register();
  const { electronInfo } = await import('../main/cli/electron-info.ts');
  const info = electronInfo();
  if (info.binary) {
    const electronArgs = ['.', ...args];
    // Chromium refuses to run as root with its sandbox on; only then is it turned off, and loudly.
    if (process.getuid?.() === 0) {
      console.log('start: running as root, so Electron starts with --no-sandbox (do not do this on a workstation)');
      electronArgs.unshift('--no-sandbox');
    }
    foreground(info.binary, electronArgs);
    return;
  }
  console.log(`start: Electron binary not installed: ${info.reason ?? 'reason unknown'}; starting the browser twin instead.`);
  const cli = join(root, 'bin', 'pix2rep.js');
  if (!existsSync(cli)) {
    console.error(`start: ${cli} is missing, so the browser twin cannot start either`);
    process.exit(1);
  }
  foreground(process.execPath, [cli, 'serve', ...args]);
}

main().catch((err) => {
  console.error(`start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
