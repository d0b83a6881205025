import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNifti } from '../../../main/io/nifti.js';
import { IDENTITY, type Volume } from '../../../main/io/volume.js';
import { nextClockTime, pretrainCommand } from '../../../main/cli/commands/pretrain.js';
import { UsageError } from '../../../main/cli/command.js';
import { phantomSlices } from './phantoms.js';
import { jsonLinesOf } from '../../support/cli.js';

/** Runs the command, returning exit code and the JSON lines it printed. */
const run = (argv: string[]) => jsonLinesOf(() => pretrainCommand.run(argv));

describe('pix2rep pretrain', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'p2r-cli-'));
    await mkdir(join(dir, 'data'));
    // Two synthetic 16×16×3 volumes at 1.5 mm (the network spacing): resampling is an identity crop.
    for (const v of [0, 1]) {
      const slices = phantomSlices(3, 16, 10 + v);
      const data = new Int16Array(16 * 16 * 3);
      slices.forEach((s, k) => s.forEach((x, i) => (data[k * 256 + i] = Math.round(x * 1000))));
      const vol: Volume = { dims: [16, 16, 3], frames: 1, spacing: [1.5, 1.5, 8], origin: [0, 0, 0], direction: [...IDENTITY], data };
      await writeNifti(join(dir, 'data', `vol${v}.nii.gz`), vol);
    }
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('trains on --data by steps with JSON lines, then --resume continues the count', async () => {
    const out = join(dir, 'model');
    const common = ['--data', join(dir, 'data'), '--size', '16', '--batch', '2', '--json', '--out', out];
    const a = await run([...common, '--steps', '2']);
    expect(a.code).toBe(0);
    expect(a.lines.filter((l) => l.event === 'step').map((l) => l.step)).toEqual([1, 2]);
    const done = a.lines[a.lines.length - 1]!;
    expect(done).toMatchObject({ event: 'done', stopped: 'steps', step: 2, resumedFrom: null, lastCheckpoint: join(out, 'last.p2r') });
    const b = await run([...common, '--steps', '3', '--resume']);
    expect(b.lines.filter((l) => l.event === 'step').map((l) => l.step)).toEqual([3]);
    expect(b.lines[b.lines.length - 1]).toMatchObject({ event: 'done', step: 3, resumedFrom: 2 });
  });

  it('rejects bad options with usage errors', async () => {
    await expect(pretrainCommand.run(['--method', 'simclr'])).rejects.toThrow(UsageError);
    await expect(pretrainCommand.run(['--steps', '2', '--epochs', '1'])).rejects.toThrow(/not both/);
    await expect(pretrainCommand.run(['--size', '20', '--data', dir])).rejects.toThrow(/divisible by 8/);
    expect(() => nextClockTime('25:00')).toThrow(UsageError);
  });

  it('--until is the next occurrence of the clock time', () => {
    const now = new Date(2026, 0, 10, 22, 30);
    expect(nextClockTime('23:15', now)).toEqual(new Date(2026, 0, 10, 23, 15));
    expect(nextClockTime('06:00', now)).toEqual(new Date(2026, 0, 11, 6, 0));
  });
});
