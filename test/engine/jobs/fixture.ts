import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '../../../main/engine/create.js';
import type { Engine } from '../../../main/engine/engine.js';
import { writeNifti } from '../../../main/io/nifti-write.js';
import type { Mat3 } from '../../../main/io/volume.js';
import { openLibrary, type Library } from '../../../main/library/library.js';
import { JobStore, type JobRow } from '../../../main/jobs/store.js';

/**
 * A workspace holding two small synthetic cine volumes (24×24 px, 3 slices, 2 frames: 12 slices), imported
 * through the library like real data, and the parameters of a tiny pretraining job on it.
 */
export async function syntheticWorkspace(tag: string): Promise<{ workspace: string; cleanup: () => void }> {
  const root = mkdtempSync(join(tmpdir(), `p2r-jobs-${tag}-`));
  const src = join(root, 'src');
  const workspace = join(root, 'ws');
  for (let v = 0; v < 2; v++) {
    const [ni, nj, nk, nt] = [24, 24, 3, 2];
    const data = new Int16Array(ni * nj * nk * nt);
    for (let t = 0; t < nt; t++)
      for (let k = 0; k < nk; k++)
        for (let j = 0; j < nj; j++)
          for (let i = 0; i < ni; i++) {
            const r = Math.hypot(i - 11 - v, j - 12 + k);
            data[((t * nk + k) * nj + j) * ni + i] = r < 4 + t ? 900 : r < 7 + t ? 400 : 60 + ((i * 7 + j * 3) % 40);
          }
    mkdirSync(join(src, `patient${v}`), { recursive: true });
    await writeNifti(join(src, `patient${v}`, `cine${v}.nii.gz`), {
      dims: [ni, nj, nk],
      frames: nt,
      spacing: [1.5, 1.5, 8],
      origin: [0, 0, 0],
      direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] as Mat3,
      data,
    });
  }
  const report = await createEngine({ workspace }).call('library.import', { paths: [src] });
  if (report.volumesAdded !== 2) throw new Error(`fixture import added ${report.volumesAdded} volumes`);
  return { workspace, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** A pretraining job small enough for a test: 16² slices, a 2-level base-4 U-Net. */
export function tinyPretrain(steps: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    steps,
    batch: 2,
    size: 16,
    config: {
      model: { unet: { levels: 2, base: 4, embedding: 8 }, head: { hidden: 8, out: 8 } },
      loss: { samples: 48 },
      train: { seed: 3, validationFraction: 0.2 },
    },
    ...extra,
  };
}

export const WORKER_ENV = { PIX2REP_BACKEND: 'wasm' };

/** A second connection to the catalogue, as another process would have. */
export function openStore(workspace: string): { lib: Library; store: JobStore } {
  const lib = openLibrary(workspace);
  return { lib, store: new JobStore(lib.db, lib.layout.root) };
}

export async function waitFor<T>(what: string, probe: () => T | null | undefined | false, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function jobIn(store: JobStore, id: string, ...status: JobRow['status'][]): JobRow | null {
  const row = store.get(id);
  return row && status.includes(row.status) ? row : null;
}

const BIN = join(__dirname, '..', '..', '..', 'bin', 'pix2rep.js');

export interface CliRun {
  child: ChildProcess;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Start `pix2rep ARGS…` as a real process with the workers' backend; `children` collects it for cleanup. */
export function startCli(args: string[], children: ChildProcess[]): CliRun {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...WORKER_ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((r) => child.on('close', (code) => r({ code, stdout, stderr })));
  return { child, done };
}

/** Poll a job through the contract until it leaves queued/running (or 50 s pass). */
export async function settle(engine: Engine, id: string, timeoutMs = 50_000) {
  let j = await engine.call('jobs.get', { id });
  const t0 = Date.now();
  while (!['done', 'failed', 'cancelled', 'paused', 'interrupted'].includes(j.status) && Date.now() - t0 < timeoutMs) {
    await new Promise((r) => setTimeout(r, 100));
    j = await engine.call('jobs.get', { id });
  }
  return j;
}

/** A synthetic workspace seen as a detached CLI run sees it: its catalogue opened as a second process would, and the `pix2rep` processes started on it. */
export interface CliWorkspace {
  workspace: string;
  store: JobStore;
  /** The workspace's root folder (job logs are relative to it). */
  root: string;
  /** {@link startCli}, remembered so that `close` can kill what is still running. */
  cli(args: string[]): CliRun;
  /** Kills the processes still running, closes the catalogue and deletes the workspace. */
  close(): void;
}

export async function cliWorkspace(tag: string): Promise<CliWorkspace> {
  const ws = await syntheticWorkspace(tag);
  const { lib, store } = openStore(ws.workspace);
  const children: ChildProcess[] = [];
  return {
    workspace: ws.workspace,
    store,
    root: lib.layout.root,
    cli: (args) => startCli(args, children),
    close: () => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      lib.close();
      ws.cleanup();
    },
  };
}
