import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { experimentCommand } from '../../../../main/cli/commands/experiment.js';
import { loadSplit } from '../../../../main/ml/experiment/acdc.js';
import { readCheckpoint } from '../../../../main/ml/pretrain/checkpoint.js';
import { dataPath, hasData } from '../../../support/data.js';
import { jsonLinesOf } from '../../../support/cli.js';

/**
 * `pix2rep experiment acdc --budget smoke` end to end (pretraining v1 and v2, the untrained control, five methods and Mean Teacher,
 * test Dice): about 2 minutes on the shared 2-core machine. The report goes to a temporary file whose other
 * content must survive.
 */
describe('ACDC split', () => {
  it('keeps the test patients out of pretraining, training and selection, with ≥ 15 of them across all groups', () => {
    const s = loadSplit();
    expect(s.test.length).toBeGreaterThanOrEqual(15);
    const used = new Set([...s.pretrainingPool, ...s.dev, ...Object.values(s.labeled).flat()]);
    expect(s.test.filter((p) => used.has(p))).toEqual([]);
    for (const members of Object.values(s.groups)) expect(s.test.some((p) => members.includes(p))).toBe(true);
    expect(s.labeled['1']).toHaveLength(1);
    expect(s.labeled['2']).toHaveLength(2);
    expect(new Set(s.labeled['5'].map((p) => Object.entries(s.groups).find(([, m]) => m.includes(p))![0])).size).toBe(5);
  });
});

describe.skipIf(!hasData('acdc'))('pix2rep experiment acdc --budget smoke', () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2r-exp-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs end to end and writes its table into the report file', async () => {
    const report = join(dir, 'EVALUATION.md');
    writeFileSync(report, '# Evaluation\n\nText written by hand.\n');
    const run = async () => {
      const { code, lines } = await jsonLinesOf<{ event: string; text?: string; runs?: Array<{ method: string; base?: string; mean: Record<string, number> }> }>(() =>
        experimentCommand.run(['acdc', '--budget', 'smoke', '--data', dataPath('acdc'), '--work', join(dir, 'work'), '--report', report, '--json']),
      );
      expect(code).toBe(0);
      return lines;
    };
    const events = await run();
    const done = events.find((e) => e.event === 'done')!;
    expect(done.runs!.map((r) => r.method)).toEqual(['supervised', 'untrained-finetune', 'pix2rep-linear', 'pix2rep-finetune', 'pix2rep-v2-linear', 'pix2rep-v2-finetune', 'mean-teacher']);
    // The untrained control fine-tunes the pretraining network after one step, kept in a folder of its own.
    expect((await readCheckpoint(join(dir, 'work', 'pretrain-control', 'last.p2r'))).header.step).toBe(1);
    expect(done.runs!.find((r) => r.method === 'mean-teacher')!.base).not.toBe('untrained-finetune');
    for (const r of done.runs!) for (const k of ['RV', 'MYO', 'LV', 'mean']) expect(r.mean[k]).toBeGreaterThanOrEqual(0);
    const text = readFileSync(report, 'utf8');
    expect(text).toContain('Text written by hand.');
    expect(text).toContain('### ACDC, budget `smoke`');
    expect(text).toMatch(/\| 1 \| supervised \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|/);
    expect(text).toMatch(/\| 1 \| pix2rep-finetune − untrained-finetune \| [+−][0-9.]+ \|/);
    expect(text).toMatch(/\| 1 \| pix2rep-v2-finetune − untrained-finetune \| [+−][0-9.]+ \|/);

    // Run again on the same work folder: every finished run is taken from there (a long budget continues
    // where it stopped), the numbers are the same, and the section is replaced rather than appended.
    const again = await run();
    const cachedLogs = again.filter((e) => e.event === 'log' && e.text!.includes('from an earlier run'));
    expect(cachedLogs).toHaveLength(done.runs!.length);
    expect(again.find((e) => e.event === 'done')!.runs).toEqual(done.runs);
    expect(readFileSync(report, 'utf8').split('experiment:acdc:smoke:start').length).toBe(2);
  }, 400_000);
});
