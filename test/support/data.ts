import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Root of the shared real test data (`PIX2REP_TEST_DATA`, default `../shared/data`). */
export const TEST_DATA = resolve(process.env.PIX2REP_TEST_DATA ?? resolve(projectRoot, '..', 'shared', 'data'));

/** True when the shared data holds `rel`; tests use it with `describe.skipIf(!hasData(...))`. */
export function hasData(rel = ''): boolean {
  return existsSync(resolve(TEST_DATA, rel));
}

/** Absolute path inside the shared test data. */
export function dataPath(...parts: string[]): string {
  return resolve(TEST_DATA, ...parts);
}

/** Reason printed with a skipped test when data is missing. */
export const MISSING_DATA = `real test data not found at ${TEST_DATA} (set PIX2REP_TEST_DATA)`;

export { projectRoot };
