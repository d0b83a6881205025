import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImportReport } from '../contract/library.js';
import { importPaths } from './import/pipeline.js';
import { openLibrary } from './library.js';

export interface ImportBenchCase {
  name: string;
  paths: string[];
  labels?: string;
}

export interface ImportBenchResult {
  name: string;
  files: number;
  volumes: number;
  annotations: number;
  skipped: number;
  /** Median wall seconds of a first import into an empty workspace. */
  seconds: number;
  filesPerSecond: number;
  volumesPerSecond: number;
  /** Median wall seconds of importing the same files again (idempotent: adds nothing). */
  reimportSeconds: number;
  runs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * Import `paths` into a fresh temporary workspace `runs` times (each run its own workspace, so every run is a
 * first import), then once more into the last one to time an idempotent re-import. Workspaces are removed.
 */
export async function benchImport(c: ImportBenchCase, runs = 1): Promise<ImportBenchResult> {
  const times: number[] = [];
  const reimports: number[] = [];
  let report: ImportReport | undefined;
  for (let r = 0; r < runs; r++) {
    const dir = mkdtempSync(join(tmpdir(), 'pix2rep-bench-import-'));
    const lib = openLibrary(dir);
    try {
      const t0 = performance.now();
      report = await importPaths(lib, { paths: c.paths, ...(c.labels ? { labels: c.labels } : {}) });
      times.push((performance.now() - t0) / 1000);
      const t1 = performance.now();
      const again = await importPaths(lib, { paths: c.paths, ...(c.labels ? { labels: c.labels } : {}) });
      reimports.push((performance.now() - t1) / 1000);
      if (again.volumesAdded !== 0) throw new Error(`re-import of ${c.name} added ${again.volumesAdded} volumes: import is not idempotent`);
    } finally {
      lib.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const seconds = median(times);
  const volumes = report!.volumesAdded;
  return {
    name: c.name,
    files: report!.filesScanned,
    volumes,
    annotations: report!.annotationsAdded,
    skipped: report!.skipped.length,
    seconds,
    filesPerSecond: report!.filesScanned / seconds,
    volumesPerSecond: volumes / seconds,
    reimportSeconds: median(reimports),
    runs,
  };
}
