import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeNifti } from '../../../../main/io/nifti.js';
import { IDENTITY, type Volume } from '../../../../main/io/volume.js';
import { pretrainCommand } from '../../../../main/cli/commands/pretrain.js';
import { phantomSlices } from '../phantoms.js';

describe('pix2rep pretrain --workers', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'p2r-workers-cli-'));
    await mkdir(join(dir, 'data'));
    const slices = phantomSlices(4, 16, 30);
    const data = new Int16Array(16 * 16 * 4);
    slices.forEach((s, k) => s.forEach((x, i) => (data[k * 256 + i] = Math.round(x * 1000))));
    const vol: Volume = { dims: [16, 16, 4], frames: 1, spacing: [1.5, 1.5, 8], origin: [0, 0, 0], direction: [...IDENTITY], data };
    await writeNifti(join(dir, 'data', 'vol.nii.gz'), vol);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('trains data-parallel over 2 worker threads and leaves a checkpoint', async () => {
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    let code: number;
    try {
      code = await pretrainCommand.run(['--data', join(dir, 'data'), '--size', '16', '--batch', '2', '--steps', '2', '--workers', '2', '--json', '--out', join(dir, 'model')]);
    } finally {
      spy.mockRestore();
    }
    expect(code).toBe(0);
    const lines = out.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.event === 'step').map((l) => l.step)).toEqual([1, 2]);
    expect(lines[lines.length - 1]).toMatchObject({ event: 'done', step: 2, lastCheckpoint: join(dir, 'model', 'last.p2r') });
  }, 180_000);

  it('rejects a bad worker count', async () => {
    await expect(pretrainCommand.run(['--workers', '0'])).rejects.toThrow(/--workers must be a positive integer/);
  });
});
