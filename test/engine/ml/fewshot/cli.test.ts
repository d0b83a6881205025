import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../../../main/cli/command.js';
import { trainCommand } from '../../../../main/cli/commands/train.js';
import { predictCommand } from '../../../../main/cli/commands/predict.js';
import { modelsCommand } from '../../../../main/cli/commands/models.js';
import { experimentCommand } from '../../../../main/cli/commands/experiment.js';

/** Command-line refusals (in process, no engine work) and `models list --json` of an empty workspace. */
describe('train / predict / models / experiment command lines', () => {
  const ws = mkdtempSync(join(tmpdir(), 'p2r-mlcli-'));
  afterAll(() => rmSync(ws, { recursive: true, force: true }));

  it('refuses bad usage with a reason', async () => {
    await expect(trainCommand.run(['--workspace', ws])).rejects.toThrow(UsageError);
    await expect(trainCommand.run(['--mode', 'magic', '--workspace', ws])).rejects.toThrow(/--mode must be one of linear, finetune, mean-teacher, supervised, got "magic"/);
    await expect(trainCommand.run(['--mode', 'supervised', '--steps', '0', '--workspace', ws])).rejects.toThrow(/--steps must be a positive integer/);
    await expect(predictCommand.run(['x.nii.gz', '--out', ws, '--workspace', ws])).rejects.toThrow(/--model NAME is required/);
    await expect(predictCommand.run(['--model', 'm', '--out', ws, '--workspace', ws])).rejects.toThrow(/at least one INPUT/);
    await expect(modelsCommand.run(['frobnicate', '--workspace', ws])).rejects.toThrow(/unknown models action/);
    await expect(modelsCommand.run(['export', 'm', '--workspace', ws])).rejects.toThrow(/--out DIR/);
    await expect(experimentCommand.run(['mnist'])).rejects.toThrow(/acdc is the only experiment/);
    await expect(experimentCommand.run(['acdc', '--budget', 'week'])).rejects.toThrow(/--budget must be one of smoke, 2h, night, paper/);
  });

  it('lists no models as JSON in a new workspace', async () => {
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((c: string | Uint8Array) => {
      out.push(String(c));
      return true;
    }) as typeof process.stdout.write;
    try {
      expect(await modelsCommand.run(['list', '--json', '--workspace', ws])).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    expect(JSON.parse(out.join(''))).toEqual({ models: [] });
  });
});
