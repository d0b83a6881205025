import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pairedDifference, tQuantile975 } from '../../../main/ml/experiment/paired.js';
import { experimentMarkdown } from '../../../main/ml/experiment/report.js';
import { BUDGETS } from '../../../main/ml/experiment/budgets.js';
import { recordInvocation, type ExperimentResult, type MethodId, type RunResult } from '../../../main/ml/experiment/acdc.js';
import { wallTimeText } from '../../../main/ml/experiment/dice-table.js';

describe('paired differences', () => {
  it('pairs by patient and gives the Student-t interval computed by hand', () => {
    const a = new Map([['p1', 0.5], ['p2', 0.7], ['p3', 0.6]]);
    const b = new Map([['p1', 0.4], ['p2', 0.5], ['p3', 0.6], ['p4', 0.9]]); // p4 has no pair: ignored
    const d = pairedDifference(a, b);
    // differences 0.1, 0.2, 0.0: mean 0.1, SD 0.1, half width t(2) 4.303 × 0.1 / √3 = 0.248438
    expect(d.n).toBe(3);
    expect(d.wins).toBe(2);
    expect(d.mean).toBeCloseTo(0.1, 12);
    expect(d.ci![0]).toBeCloseTo(0.1 - 0.248438, 5);
    expect(d.ci![1]).toBeCloseTo(0.1 + 0.248438, 5);
  });

  it('has no interval with one patient and no mean with none', () => {
    expect(pairedDifference(new Map([['p', 1]]), new Map([['p', 0.5]]))).toEqual({ n: 1, mean: 0.5, ci: null, wins: 1 });
    expect(pairedDifference(new Map([['p', 1]]), new Map([['q', 0.5]])).n).toBe(0);
  });

  it('uses the t table, not the normal quantile, at small samples', () => {
    expect(tQuantile975(1)).toBe(12.706);
    expect(tQuantile975(9)).toBe(2.262);
    expect(tQuantile975(1000)).toBe(1.96);
    expect(() => tQuantile975(0)).toThrow(/positive integer/);
  });
});

describe('experiment report', () => {
  const run = (regime: string, seed: number, method: MethodId, scores: number[], validationDice = 0.5): RunResult => {
    const patients = scores.map((x, i) => ({ patient: `patient${i}`, dice: { RV: x, MYO: x, LV: x } }));
    const m = scores.reduce((a, b) => a + b, 0) / scores.length;
    return { regime, seed, method, validationDice, steps: 10, bestStep: 10, seconds: 1, patients, mean: { RV: m, MYO: m, LV: m, mean: m } };
  };

  it('prints paired rows against the baseline and the baseline with more labels', () => {
    const result: ExperimentResult = {
      budget: BUDGETS['2h'],
      backend: 'wasm',
      wallSeconds: 60,
      pretraining: [],
      split: { pool: 30, dev: ['d'], test: ['patient0', 'patient1'], labeled: { '1': ['a'], '2': ['a', 'b'], '5': ['a', 'b', 'c', 'd', 'e'] } },
      runs: [
        run('1', 1, 'supervised', [0.4, 0.6]),
        run('1', 2, 'supervised', [0.6, 0.6]), // seed mean per patient: 0.5, 0.6
        run('1', 1, 'pix2rep-finetune', [0.7, 0.7], 0.8),
        run('1', 1, 'pix2rep-linear', [0.1, 0.1], 0.2),
        run('2', 1, 'supervised', [0.6, 0.7]),
        run('5', 1, 'supervised', [0.8, 0.9]),
      ],
    };
    const md = experimentMarkdown(result, 'pix2rep experiment acdc --budget 2h');
    // pix2rep-finetune − supervised: differences 0.2 and 0.1 → mean +0.150, half width 12.706 × 0.0707 / √2 = 0.635
    expect(md).toContain('| 1 | pix2rep-finetune − supervised | +0.150 | −0.485 to +0.785 | 2 of 2 |');
    expect(md).toContain('| 1 | pix2rep-linear − supervised | −0.450 |');
    // the dev patients prefer fine-tuning (validation 0.8): it is the one compared with more labels
    expect(md).toContain('| 2 vs 1 | pix2rep-finetune at 1 − supervised at 2 | +0.050 |');
    expect(md).toContain('| 5 vs 1 | pix2rep-finetune at 1 − supervised at 5 | −0.150 |');
    expect(md).toContain('the supervised baseline alone also at 2 and 5 labeled patients');

    // Mean Teacher built on the supervised network is no Pix2Rep method, even when the dev patients prefer it.
    result.runs.push({ ...run('1', 1, 'mean-teacher', [0.9, 0.9], 0.95), base: 'supervised' });
    expect(experimentMarkdown(result, 'x')).toContain('| 5 vs 1 | pix2rep-finetune at 1 − supervised at 5 |');
    result.runs[result.runs.length - 1]!.base = 'pix2rep-finetune';
    expect(experimentMarkdown(result, 'x')).toContain('| 5 vs 1 | mean-teacher at 1 − supervised at 5 | +0.050 |');
  });

  it('separates what pretraining adds from what the fine-tune recipe adds, with the untrained control', () => {
    const result: ExperimentResult = {
      budget: BUDGETS.night,
      backend: 'wasm',
      wallSeconds: 60,
      pretraining: [{ method: 'pix2rep', steps: 12000, lastLoss: 6.5, bestValidationLoss: 6.4, checkpoint: '/w/pretrain-pix2rep/best.p2r' }],
      control: { method: 'pix2rep', steps: 1, checkpoint: '/w/pretrain-control/last.p2r' },
      split: { pool: 30, dev: ['d'], test: ['patient0', 'patient1', 'patient2'], labeled: { '1': ['a'], '2': ['a', 'b'], '5': ['a', 'b', 'c', 'd', 'e'] } },
      runs: [
        run('1', 1, 'supervised', [0.5, 0.4, 0.6]),
        run('1', 1, 'untrained-finetune', [0.6, 0.5, 0.6], 0.9),
        run('1', 1, 'pix2rep-finetune', [0.7, 0.5, 0.7], 0.6),
        run('5', 1, 'supervised', [0.7, 0.7, 0.7]),
      ],
    };
    const md = experimentMarkdown(result, 'x');
    expect(md).toContain('Untrained control: `untrained-finetune` is the fine-tune recipe (the same rates, augmentation and steps) from the pix2rep network after 1 pretraining step:');
    // Rows in METHOD_ORDER: the control right after the baseline.
    expect(md.indexOf('| 1 | untrained-finetune | ')).toBeGreaterThan(md.indexOf('| 1 | supervised | '));
    expect(md.indexOf('| 1 | untrained-finetune | ')).toBeLessThan(md.indexOf('| 1 | pix2rep-finetune | '));
    // The control against the baseline: differences 0.1, 0.1, 0.0 → mean +0.067, SD 0.0577, half width 4.303 × 0.0577 / √3 = 0.143.
    expect(md).toContain('| 1 | untrained-finetune − supervised | +0.067 | −0.077 to +0.210 | 2 of 3 |');
    // Pretraining's own share: differences 0.1, 0.0, 0.1 → the same numbers, the other patients better.
    expect(md).toContain('| 1 | pix2rep-finetune − untrained-finetune | +0.067 | −0.077 to +0.210 | 2 of 3 |');
    // The control is no Pix2Rep method: the dev patients prefer it (0.9), yet fine-tuning is compared with more labels.
    expect(md).toContain('| 5 vs 1 | pix2rep-finetune at 1 − supervised at 5 | −0.067 |');
    expect(md).not.toContain('untrained-finetune at 1');
  });

  it('reports the time of every invocation on the work folder, not only the last', () => {
    const dir = mkdtempSync(join(tmpdir(), 'p2r-inv-'));
    try {
      recordInvocation(dir, { finishedAt: '2026-11-26T05:51:00Z', seconds: 5982, trainedRuns: 24, reusedRuns: 0 });
      const all = recordInvocation(dir, { finishedAt: '2026-11-26T06:00:00Z', seconds: 6, trainedRuns: 0, reusedRuns: 24 });
      expect(JSON.parse(readFileSync(join(dir, 'invocations.json'), 'utf8'))).toEqual(all);
      const r = { wallSeconds: 6, invocations: all } as ExperimentResult;
      // 5982 + 6 s = 99.8 min
      expect(wallTimeText(r)).toBe('wall time 99.8 min over 2 invocations on the same work folder: 99.7 min (24 runs trained) + 0.1 min (0 runs trained, 24 reused)');
      expect(wallTimeText({ wallSeconds: 90, invocations: all.slice(0, 1) } as ExperimentResult)).toBe('wall time 1.5 min');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
