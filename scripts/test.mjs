#!/usr/bin/env node
// `npm test`: every check in one go, one closing line for CI.
//  1. type checks: tsc (engine, CLI, electron shell, tests) and vue-tsc (renderer)
//  2. the renderer build (the E2E tests serve it)
//  3. Vitest: unit (renderer), engine, e2e (headless Chromium on the browser twin) and electron projects
// Each type check and the build count as one test; Vitest's tests count one each.
// Last line: "N passed, N failed, N skipped".
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const vitestArgs = args.length ? args : [];
const tally = { passed: 0, failed: 0, skipped: 0 };
const failures = [];

function run(label, cmd, cmdArgs, env = {}) {
  process.stdout.write(`\n== ${label}: ${cmd} ${cmdArgs.join(' ')}\n`);
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status === 0;
}

function check(label, ok) {
  if (ok) tally.passed++;
  else {
    tally.failed++;
    failures.push(label);
  }
  process.stdout.write(`-- ${label}: ${ok ? 'passed' : 'FAILED'}\n`);
}

function electronTypesInstalled() {
  try {
    require.resolve('electron/package.json', { paths: [root] });
    return true;
  } catch {
    return false;
  }
}

const bin = (name) => join(root, 'node_modules', '.bin', name);

if (!vitestArgs.length) {
  if (electronTypesInstalled()) {
    check('typecheck (tsc)', run('typecheck', bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']));
  } else {
    // The electron package is optional (its postinstall download fails offline and npm drops it): without
    // it there are no Electron types, so the shell is left out of this check and counted as skipped.
    process.stdout.write('\n-- typecheck of electron/ skipped: the electron package is not installed (install with ELECTRON_SKIP_BINARY_DOWNLOAD=1 to get its types)\n');
    tally.skipped++;
    check('typecheck (tsc, without electron/)', run('typecheck', bin('tsc'), ['-p', 'tsconfig.no-electron.json', '--noEmit']));
  }
  check('typecheck (vue-tsc)', run('typecheck renderer', bin('vue-tsc'), ['-p', 'renderer/tsconfig.json', '--noEmit']));
  const built = run('build renderer', 'npm', ['run', '--silent', 'build:renderer']);
  check('renderer build', built);
  // The E2E tests serve this build; they rebuild only when run on their own.
  if (built) process.env.PIX2REP_RENDERER_BUILT = '1';
}

const outDir = join(root, 'test-results');
mkdirSync(outDir, { recursive: true });
const report = join(outDir, 'vitest.json');
rmSync(report, { force: true });
const vitestOk = run('vitest', bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...vitestArgs]);
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  tally.passed += r.numPassedTests ?? 0;
  tally.failed += r.numFailedTests ?? 0;
  tally.skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  // A suite that fails to load (syntax error, missing module) has no tests: count it as a failure.
  const brokenSuites = (r.testResults ?? []).filter((s) => s.status === 'failed' && (s.assertionResults ?? []).length === 0);
  for (const s of brokenSuites) {
    tally.failed++;
    failures.push(`suite failed to run: ${s.name}`);
  }
  if (!vitestOk && r.numFailedTests === 0 && brokenSuites.length === 0) {
    tally.failed++;
    failures.push('vitest exited non-zero');
  }
} else {
  tally.failed++;
  failures.push('vitest produced no report');
}

if (failures.length) process.stdout.write(`\nFailed:\n${failures.map((f) => `  - ${f}`).join('\n')}\n`);
process.stdout.write(`\n${tally.passed} passed, ${tally.failed} failed, ${tally.skipped} skipped\n`);
process.exitCode = tally.failed > 0 || tally.passed === 0 ? 1 : 0;
