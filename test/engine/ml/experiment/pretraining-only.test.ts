import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { experimentCommand } from '../../../../main/cli/commands/experiment.js';
import { runAcdcExperiment } from '../../../../main/ml/experiment/acdc.js';
import { leverSlug, parseLevers } from '../../../../main/ml/experiment/levers.js';
import { readCheckpoint } from '../../../../main/ml/pretrain/checkpoint.js';
import { EngineFailure } from '../../../../main/engine/errors.js';
import { dataPath, hasData } from '../../../support/data.js';
import { jsonLinesOf } from '../../../support/cli.js';

describe('the downstreamRuns lever', () => {
  it('is on or off, changes no folder, and is refused where there is no readout to measure', () => {
    expect(parseLevers(['downstreamRuns=off', 'readout=500'])).toEqual({ downstreamRuns: false, readout: 500 });
    expect(leverSlug(parseLevers(['downstreamRuns=off', 'steps=1000']))).toBe('steps-1000');
    expect(() => parseLevers(['downstreamRuns=off', 'readout=off'])).toThrow(/needs a pretraining \(not method=none\) with its readout on/);
    expect(() => parseLevers(['downstreamRuns=off', 'method=none'])).toThrow(/needs a pretraining/);
    expect(() => parseLevers(['downstreamRuns=off', 'backboneStep=3000'])).toThrow(/backboneStep .* no use with downstreamRuns=off/);
    expect(() => parseLevers(['downstreamRuns=maybe'])).toThrow(/downstreamRuns must be one of on, off/);
  });
});

/**
 * Smoke budget, v1, 4 pretraining steps with a readout every 2: the pretraining and its readouts, no downstream
 * run, no control, in a report section of its own beside (not over) the same levers' full section.
 */
describe.skipIf(!hasData('acdc'))('pix2rep experiment acdc with downstreamRuns=off', () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2r-ponly-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const work = join(dir, 'work');

  it('pretrains with its readouts, trains nothing downstream, and leaves the full section and saved result alone', async () => {
    const report = join(dir, 'EVALUATION.md');
    const full = '<!-- experiment:acdc:smoke:levers:method-v1_steps-4:eval-dev:start -->\nThe full run of these levers.\n<!-- experiment:acdc:smoke:levers:method-v1_steps-4:eval-dev:end -->\n';
    writeFileSync(report, `# Evaluation\n\nText written by hand.\n\n${full}`);
    const resultDir = join(work, 'levers', 'method-v1_steps-4_eval-dev');
    mkdirSync(resultDir, { recursive: true });
    writeFileSync(join(resultDir, 'result.json'), '{"saved":"by the full run"}');

    const { code, lines } = await jsonLinesOf<{ event: string; runs?: unknown[]; pretraining?: Array<{ method: string; steps: number; readout?: Array<{ step: number; mean: number }> }> }>(() =>
      experimentCommand.run(['acdc', '--budget', 'smoke', '--eval', 'dev', '--set', 'method=v1', '--set', 'steps=4', '--set', 'readout=2', '--set', 'downstreamRuns=off', '--data', dataPath('acdc'), '--work', work, '--report', report, '--json']),
    );
    expect(code).toBe(0);
    const done = lines.find((e) => e.event === 'done')!;
    expect(done.runs).toEqual([]);
    const pre = done.pretraining!;
    expect(pre.map((p) => [p.method, p.steps])).toEqual([['pix2rep', 4]]);
    expect(pre[0]!.readout!.map((p) => p.step)).toEqual([0, 2, 4]);
    for (const p of pre[0]!.readout!) expect(p.mean).toBeGreaterThanOrEqual(0);

    const pretrainDir = join(work, 'levers', 'pretrain_steps-4', 'pretrain-pix2rep');
    expect((await readCheckpoint(join(pretrainDir, 'last.p2r'))).header.step).toBe(4);
    expect(existsSync(join(work, 'levers', 'pretrain_steps-4', 'pretrain-control'))).toBe(false);
    expect(existsSync(join(work, 'pretrain-control'))).toBe(false);
    expect(existsSync(join(resultDir, 'runs'))).toBe(false);
    expect(readFileSync(join(resultDir, 'result.json'), 'utf8')).toBe('{"saved":"by the full run"}');
    // Its pretraining counts in what the lever's runs cost, as an invocation that trained no run.
    const invocations = JSON.parse(readFileSync(join(resultDir, 'invocations.json'), 'utf8')) as Array<{ trainedRuns: number; reusedRuns: number; seconds: number }>;
    expect(invocations.map((i) => [i.trainedRuns, i.reusedRuns])).toEqual([[0, 0]]);

    const text = readFileSync(report, 'utf8');
    expect(text).toContain('Text written by hand.');
    expect(text).toContain(full);
    expect(text).toContain('<!-- experiment:acdc:smoke:levers:method-v1_steps-4:eval-dev:pretraining-only:start -->');
    expect(text).toContain('### ACDC, budget `smoke`, pretraining only (readout), levers: `method=v1`, `readout=2`, `steps=4`');
    expect(text).toContain('No downstream run was trained (`downstreamRuns=off`).');
    expect(text).toMatch(/\| pix2rep \| 4 \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|/);
  }, 400_000);

  it('refuses a budget without a readout plan before pretraining', async () => {
    const other = join(dir, 'other');
    const err = await runAcdcExperiment({ dataDir: dataPath('acdc'), budget: 'smoke', workDir: other, evalOn: 'dev', levers: parseLevers(['method=v1', 'downstreamRuns=off']) }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EngineFailure);
    expect((err as EngineFailure).code).toBe('BAD_INPUT');
    expect((err as Error).message).toMatch(/downstreamRuns=off: budget smoke measures no readout along pretraining; give readout=N/);
    expect(existsSync(join(other, 'pretrain-pix2rep'))).toBe(false);
  });
});
