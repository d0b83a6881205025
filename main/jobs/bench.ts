import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '../engine/create.js';
import { writeNifti } from '../io/nifti-write.js';
import type { Mat3 } from '../io/volume.js';
import { attachRunner } from './index.js';

/**
 * Benchmark (not a test): how long the engine takes to answer `library.listStudies` while a pretraining job
 * trains in its worker process, against the same request with no job. The runner lives in the engine's
 * process as under `pix2rep serve` and the app, so its IPC and progress writes compete with the request.
 */

export interface LatencyStats {
  samples: number;
  medianMs: number;
  p95Ms: number;
  maxMs: number;
}

export interface LibraryLatencyReport {
  machine: { cpus: number; model: string; node: string };
  job: {
    preset: string;
    batch: number;
    size: number;
    backend: string | null;
    stepsDuringSampling: number;
    /** CPU seconds the worker used while the requests were timed (Linux; null elsewhere): proof it was busy. */
    workerCpuSecondsDuringSampling: number | null;
    samplingSeconds: number;
  };
  idle: LatencyStats;
  duringPretraining: LatencyStats;
}

/** utime + stime of a process in seconds (Linux /proc; null when unavailable). */
function cpuSeconds(pid: number | null): number | null {
  if (!pid) return null;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // After the command name: state is field 3, utime field 14, stime field 15 (1-based, in clock ticks).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

function stats(ms: number[]): LatencyStats {
  const s = [...ms].sort((a, b) => a - b);
  const q = (f: number) => s[Math.min(s.length - 1, Math.floor(f * s.length))]!;
  return { samples: s.length, medianMs: +q(0.5).toFixed(2), p95Ms: +q(0.95).toFixed(2), maxMs: +s[s.length - 1]!.toFixed(2) };
}

async function syntheticLibrary(src: string, volumes: number): Promise<void> {
  const [ni, nj, nk, nt] = [160, 160, 8, 4];
  for (let v = 0; v < volumes; v++) {
    const data = new Int16Array(ni * nj * nk * nt);
    for (let i = 0; i < data.length; i++) {
      const x = i % ni;
      const y = Math.floor(i / ni) % nj;
      const r = Math.hypot(x - 80 - v, y - 80);
      data[i] = r < 20 ? 900 : r < 35 ? 400 : 60 + ((x * 7 + y * 3) % 40);
    }
    const dir = join(src, `patient${v}`);
    mkdirSync(dir, { recursive: true });
    await writeNifti(join(dir, 'cine.nii.gz'), { dims: [ni, nj, nk], frames: nt, spacing: [1.4, 1.4, 10], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] as Mat3, data });
  }
}

export async function benchLibraryLatency(opts: { samples?: number; intervalMs?: number; preset?: 'compact' | 'paper'; batch?: number; size?: number } = {}): Promise<LibraryLatencyReport> {
  const samples = opts.samples ?? 100;
  const interval = opts.intervalMs ?? 100;
  const preset = opts.preset ?? 'compact';
  const batch = opts.batch ?? 8;
  const size = opts.size ?? 128;
  const root = mkdtempSync(join(tmpdir(), 'p2r-bench-latency-'));
  const workspace = join(root, 'ws');
  const engine = createEngine({ workspace });
  let runner = null;
  try {
    await syntheticLibrary(join(root, 'src'), 4);
    await engine.call('library.import', { paths: [join(root, 'src')] });
    let ids = 0;
    const time = async () => {
      const t0 = performance.now();
      const res = await engine.handle({ id: `bench-${++ids}`, method: 'library.listStudies' });
      if (!res.ok) throw new Error(res.error.message);
      return performance.now() - t0;
    };
    const sample = async () => {
      const ms: number[] = [];
      for (let i = 0; i < samples; i++) {
        ms.push(await time());
        await new Promise((r) => setTimeout(r, interval));
      }
      return ms;
    };
    await time();
    const idle = await sample();

    let backend: string | null = null;
    let firstStep = -1;
    let lastStep = -1;
    engine.onEvent((event, data) => {
      if (event !== 'job.progress') return;
      const p = data as { step: number; backend: string | null };
      backend = p.backend;
      if (firstStep < 0) firstStep = p.step;
      lastStep = p.step;
    });
    runner = await attachRunner(engine, { workspace });
    if (!runner) throw new Error('another job runner holds this workspace');
    const job = await engine.call('jobs.enqueue', { kind: 'pretrain', params: { preset, batch, size, steps: 100_000 } });
    // Sample only while steps are really running (after the worker's start-up and first step).
    const t0 = Date.now();
    while (firstStep < 0) {
      if (Date.now() - t0 > 600_000) throw new Error('the pretraining job did not start within 10 minutes');
      const j = await engine.call('jobs.get', { id: job.id });
      if (j.status === 'failed') throw new Error(`the pretraining job failed: ${j.error}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const stepBefore = lastStep;
    const pid = (await engine.call('jobs.get', { id: job.id })).workerPid;
    const cpu0 = cpuSeconds(pid);
    const s0 = Date.now();
    const during = await sample();
    const samplingSeconds = (Date.now() - s0) / 1000;
    const cpu1 = cpuSeconds(pid);
    const steps = lastStep - stepBefore;
    await engine.call('jobs.cancel', { id: job.id });
    const cpu = cpus();
    return {
      machine: { cpus: cpu.length, model: cpu[0]?.model ?? 'unknown', node: process.version },
      job: {
        preset,
        batch,
        size,
        backend,
        stepsDuringSampling: steps,
        workerCpuSecondsDuringSampling: cpu0 !== null && cpu1 !== null ? +(cpu1 - cpu0).toFixed(2) : null,
        samplingSeconds: +samplingSeconds.toFixed(1),
      },
      idle: stats(idle),
      duringPretraining: stats(during),
    };
  } finally {
    await runner?.stop();
    rmSync(root, { recursive: true, force: true });
  }
}
