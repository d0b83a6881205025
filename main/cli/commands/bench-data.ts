import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { UsageError } from '../command.js';

/** Shared test data (real ACDC and DICOM) for the import benchmark: PIX2REP_TEST_DATA or ../shared/data. */
function testData(): string {
  const dir = resolve(process.env.PIX2REP_TEST_DATA ?? join(process.cwd(), '..', 'shared', 'data'));
  if (!existsSync(join(dir, 'acdc'))) throw new UsageError(`no test data at ${dir}: set PIX2REP_TEST_DATA (the folder holding acdc/ and dicom/)`);
  return dir;
}

/**
 * The benchmarks that are not about the U-Net: import speed (the 100 ACDC volumes with their label maps, and
 * the 150-file GE MR series), the library's latency while a pretraining job runs, the embedding inspector, and
 * the augmentation of a training slice. Each prints one JSON object with --json, else a short summary.
 */
export async function runDataBench(
  kind: 'import' | 'library' | 'embed' | 'augment',
  opts: { json: boolean; runs: number; samples: number; size?: number },
): Promise<number> {
  const log = (s: string) => {
    if (!opts.json) process.stderr.write(s + '\n');
  };
  let report: unknown;
  if (kind === 'import') {
    const data = testData();
    const { benchImport } = await import('../../library/bench-import.js');
    const acdc = await benchImport({ name: 'ACDC, 50 patients (100 ED/ES volumes + label maps + 1 cine)', paths: [join(data, 'acdc')], labels: '*_gt.nii.gz' }, opts.runs);
    log(`${acdc.name}: ${acdc.seconds.toFixed(1)} s, ${acdc.filesPerSecond.toFixed(1)} files/s, ${acdc.volumesPerSecond.toFixed(1)} volumes/s; re-import ${acdc.reimportSeconds.toFixed(1)} s`);
    const mr = await benchImport({ name: 'GE EPI MR series, 150 files', paths: [join(data, 'dicom', 'mr-series', 'ge-epi-15slices-10vols')] }, opts.runs);
    log(`${mr.name}: ${mr.seconds.toFixed(2)} s, ${mr.filesPerSecond.toFixed(0)} files/s; re-import ${mr.reimportSeconds.toFixed(2)} s`);
    report = { bench: 'import', cases: [acdc, mr] };
  } else if (kind === 'library') {
    const { benchLibraryLatency } = await import('../../jobs/bench.js');
    report = { bench: 'library', ...(await benchLibraryLatency({ samples: opts.samples })) };
  } else if (kind === 'augment') {
    const { benchAugment } = await import('../../ml/bench/augment.js');
    const r = benchAugment({ size: opts.size, runs: opts.runs, onRun: (name, run, ms) => log(`${name} run ${run + 1}: ${ms.toFixed(2)} ms per slice`) });
    for (const c of r.cases) log(`${c.name}: ${c.ms_per_slice} ms per slice (CPU ${c.cpu_ms_per_slice} ms), median of ${r.runs} runs of ${r.slices_per_run}`);
    report = { bench: 'augment', ...r };
  } else {
    const { runEmbedBench } = await import('../../embed/bench.js');
    report = { bench: 'embed', ...(await runEmbedBench(log)) };
  }
  process.stdout.write(JSON.stringify(report, null, opts.json ? undefined : 2) + '\n');
  return 0;
}
