// Benchmark: library.listStudies round trip while a pretraining job trains (main/jobs/bench.ts).
// Usage: node scripts/bench-library-latency.mjs [samples] [--size PX] [--batch B]   (prints one JSON object)
import { register } from 'tsx/esm/api';

register();
const { benchLibraryLatency } = await import('../main/jobs/bench.ts');
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const samples = Number(args.find((a) => /^\d+$/.test(a)) ?? 100);
const report = await benchLibraryLatency({ samples, size: opt('size', 128), batch: opt('batch', 8) });
process.stdout.write(JSON.stringify(report, null, 2) + '\n');
