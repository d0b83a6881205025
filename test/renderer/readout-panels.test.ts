import { mount } from '@vue/test-utils';
import type { Pinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Engine } from '../../main/engine/engine.js';
import { writeReadout } from '../../main/ml/pretrain/readout.js';
import FewShotPanel from '../../renderer/components/training/FewShotPanel.vue';
import PretrainPanel from '../../renderer/components/training/PretrainPanel.vue';
import { pretrainRequest, useJobsStore } from '../../renderer/stores/jobs.js';
import { useModelsStore } from '../../renderer/stores/models.js';
import { readoutCurve, readoutLine } from '../../renderer/stores/readouts.js';
import { useStudiesStore } from '../../renderer/stores/studies.js';
import { finishedPretrainRun } from '../support/pretrain-runs.js';
import { settle } from './support/loopback.js';
import { panelWorkspace, type PanelWorkspace } from './support/panel-workspace.js';

let pinia: Pinia;
let engine: Engine;
let ws: string;

/** The form asks the engine after a 200 ms pause in typing. */
const afterDebounce = async () => {
  await new Promise((r) => setTimeout(r, 260));
  await settle();
  await settle();
};

const READOUT = {
  version: 1 as const,
  description: 'linear probe trained on patient001, scored on patient002',
  structures: ['RV', 'MYO', 'LV'],
  labeledSlices: 20,
  validationSlices: 18,
  points: [
    { step: 0, epoch: 0, dice: { RV: 0.1, MYO: 0.2, LV: 0.3 }, mean: 0.2, probeSteps: 60, probe: 'balanced-full-batch' as const, seconds: 3 },
    { step: 500, epoch: 4.2, dice: { RV: 0.2, MYO: 0.35, LV: 0.65 }, mean: 0.4, probeSteps: 60, probe: 'balanced-full-batch' as const, seconds: 3 },
  ],
};

let fixture: PanelWorkspace;
beforeEach(async () => {
  fixture = await panelWorkspace('rpanel');
  ({ engine, pinia, workspace: ws } = fixture);
});

afterEach(() => fixture.dispose());

describe('readout helpers', () => {
  it('words the latest point and draws mean Dice against the step', () => {
    const r = { ...READOUT, points: READOUT.points.map(({ step, epoch, dice, mean }) => ({ step, epoch, dice, mean })) };
    expect(readoutLine(r)).toBe('0.400 (RV 0.200, MYO 0.350, LV 0.650) at step 500');
    expect(readoutLine(null)).toBeNull();
    expect(readoutLine({ ...r, points: [] })).toBeNull();
    expect(readoutCurve(r)).toEqual([
      { step: 0, kind: 'step', loss: 0.2, validationLoss: null },
      { step: 500, kind: 'step', loss: 0.4, validationLoss: null },
    ]);
  });
});

describe('pretraining request: workers', () => {
  it('passes 2 workers and leaves 1 (the default) out', () => {
    const form = { method: 'pix2rep' as const, preset: 'compact' as const, budget: 'steps' as const, amount: 10, studies: [], name: '' };
    expect(pretrainRequest({ ...form, workers: 2 }).params).toEqual({ method: 'pix2rep', preset: 'compact', steps: 10, workers: 2 });
    expect(pretrainRequest({ ...form, workers: 1 }).params).toEqual({ method: 'pix2rep', preset: 'compact', steps: 10 });
    expect(pretrainRequest(form).params).toEqual({ method: 'pix2rep', preset: 'compact', steps: 10 });
  });
});

describe('pretraining panel: expectation, workers and readouts', () => {
  it('says what the budget buys before the run, follows the form, and queues the chosen workers', async () => {
    const jobs = useJobsStore();
    const studies = useStudiesStore();
    jobs.start();
    await studies.refresh();
    const w = mount(PretrainPanel, { global: { plugins: [pinia] }, attachTo: document.body });
    await afterDebounce();
    // The expectation's own sentence; with none, whatever the box holds (nothing, or the error).
    const text = () => {
      const t = w.find('[data-testid="pretrain-expectation-text"]');
      return t.exists() ? t.text() : w.get('[data-testid="pretrain-expectation"]').text();
    };
    const gain = () => {
      const g = w.find('[data-testid="pretrain-expectation-gain"]');
      return g.exists() ? g.text() : null;
    };
    // The engine answers in its own time (a loaded machine makes the first answer slow): wait for the words.
    const shows = (words: string | RegExp) => vi.waitFor(() => (typeof words === 'string' ? expect(text()).toBe(words) : expect(text()).toMatch(words)), { timeout: 10_000, interval: 50 });
    // 1000 steps × 5.42 s (the compact reference at batch 8, 128²) = 5420 s; 1 training slice, 1 step per epoch.
    await shows('1,000 steps: about 1 h 30 min, 1000.0 epochs of 1 training slice at 5.42 s/step (reference step time, docs/PERFORMANCE.md).');
    // The form's defaults are the configuration the fine-tuning gain was measured for: its line is under the sentence.
    expect(gain()).toBe(
      "Measured on ACDC (docs/EVALUATION.md): after 900 pretraining steps with these settings (the longest measured length within this run's 1,000), " +
        'fine-tuning for 600 steps at one labeled patient scored +0.005 mean Dice over an untrained start (3 seeds: −0.021, +0.038, −0.001; ' +
        'single runs differ by up to 0.4 between seeds): no clear gain in segmentation at that length; the linear-probe readout measures what the backbone itself learns.',
    );
    expect(w.get('[data-testid="pretrain-expectation-gain"]').classes()).toContain('dim');
    // v2 was never measured so: no gain line at all (v2's step time is v1's reference, so the sentence stays).
    await w.get('[data-testid="pretrain-method"]').setValue('pix2rep-v2');
    await afterDebounce();
    await vi.waitFor(() => expect(gain()).toBeNull(), { timeout: 10_000, interval: 50 });
    expect(text()).toBe('1,000 steps: about 1 h 30 min, 1000.0 epochs of 1 training slice at 5.42 s/step (reference step time, docs/PERFORMANCE.md).');
    await w.get('[data-testid="pretrain-method"]').setValue('pix2rep');
    await afterDebounce();
    await vi.waitFor(() => expect(gain()).not.toBeNull(), { timeout: 10_000, interval: 50 });

    await w.get('[data-testid="pretrain-budget"]').setValue('overnight');
    await w.get('[data-testid="pretrain-workers"]').setValue('2');
    await afterDebounce();
    // 32400 s / 2.59 s = 12509.7 → 12,509 steps.
    await shows('Overnight (22:00–07:00, 9 h): about 12,509 steps, 12509.0 epochs of 1 training slice at 2.59 s/step (reference step time, docs/PERFORMANCE.md, 2 workers); without an epoch limit it stops after 200 epochs, about 1 night.');
    expect(w.get('[data-testid="pretrain-workers"]').element.parentElement!.textContent).toContain('2 trains data-parallel on both cores');
    // The whole run is 200 epochs of one step, shorter than any measured pretraining.
    expect(gain()).toMatch(/^Measured on ACDC \(docs\/EVALUATION\.md\): this run's 200 steps are fewer than any measured; after 900 pretraining steps/);

    // An empty amount cannot describe a steps run: no stale sentence stays on screen.
    await w.get('[data-testid="pretrain-budget"]').setValue('steps');
    await w.get('[data-testid="pretrain-amount"]').setValue('');
    await afterDebounce();
    expect(text()).toBe('');
    expect(gain()).toBeNull();
    await w.get('[data-testid="pretrain-amount"]').setValue('4');
    await afterDebounce();
    await shows(/^4 steps: about 10 s, 4\.0 epochs/);

    await w.get('[data-testid="pretrain-start"]').trigger('click');
    await settle();
    const queued = (await engine.call('jobs.list', {})).jobs.find((j) => j.kind === 'pretrain')!;
    expect(queued.params).toMatchObject({ method: 'pix2rep', preset: 'compact', steps: 4, workers: 2 });
    w.unmount();
  });

  it("shows each past run's readout (or none), and a comparable backbone's readout in the expectation", async () => {
    const withReadout = finishedPretrainRun(ws, 'night-1', [1.6]);
    writeReadout(withReadout.dir, READOUT);
    finishedPretrainRun(ws, 'night-2', [1.6]);
    const jobs = useJobsStore();
    const studies = useStudiesStore();
    jobs.start();
    await studies.refresh();
    const w = mount(PretrainPanel, { global: { plugins: [pinia] }, attachTo: document.body });
    await afterDebounce();
    // night-2 is the newest run: the panel follows it; night-1 is in the history with its readout and curve.
    expect(w.get('[data-testid="pretrain-current-readout"]').text()).toBe('No readout');
    const rows = w.findAll('[data-testid="pretrain-history"] li');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.get('[data-testid="pretrain-history-readout"]').text()).toBe('readout 0.400 (RV 0.200, MYO 0.350, LV 0.650) at step 500');
    // Loss thumbnail + readout thumbnail; the readout's two points draw one segment.
    const charts = rows[0]!.findAll('[data-testid="loss-chart"]');
    expect(charts).toHaveLength(2);
    expect(charts[1]!.get('[data-testid="loss-train"]').attributes('d')).toMatch(/^M[\d.]+,[\d.]+L[\d.]+,[\d.]+$/);
    // The newest of the same configuration, night-2, measured 5 s/step (8 / 1.6) and has no readout: night-1's is quoted.
    await vi.waitFor(() => expect(w.get('[data-testid="pretrain-expectation"]').text()).toContain("at 5.00 s/step (this machine's last run, night-2)"), { timeout: 10_000, interval: 50 });
    expect(w.get('[data-testid="pretrain-expectation-readout"]').text()).toBe('A comparable backbone here, night-1, reached a linear-probe mean Dice of 0.400 at step 500 (epoch 4.2).');

    await rows[0]!.trigger('click');
    await settle();
    expect(w.get('[data-testid="pretrain-current-readout"]').text()).toBe(
      'Linear-probe Dice 0.400 (RV 0.200, MYO 0.350, LV 0.650) at step 500 · linear probe trained on patient001, scored on patient002',
    );
    w.unmount();
  });
});

describe('few-shot panel: backbone readouts', () => {
  it('shows the readout of each backbone in the picker and of the chosen one below it', async () => {
    const a = finishedPretrainRun(ws, 'night-1', [1.6]);
    writeReadout(a.dir, READOUT);
    const b = finishedPretrainRun(ws, 'night-2', [1.6]);
    const models = useModelsStore();
    await models.refresh();
    const w = mount(FewShotPanel, { global: { plugins: [pinia] }, attachTo: document.body });
    await settle();
    await settle();
    // Mean Teacher from scratch is the default (the best measured recipe): no backbone chosen, none shown.
    expect((w.get('[data-testid="mode-mean-teacher"]').element as HTMLInputElement).checked).toBe(true);
    expect(w.findAll('[data-testid="fewshot-backbone"] option').map((o) => o.text())).toEqual(['None (from scratch)', 'night-1 (readout 0.40)', 'night-2 (no readout)']);
    expect(w.find('[data-testid="fewshot-backbone-readout"]').exists()).toBe(false);
    // A mode that needs a backbone starts from the first one.
    await w.get('[data-testid="mode-finetune"]').setValue(true);
    await settle();
    const options = w.findAll('[data-testid="fewshot-backbone"] option').map((o) => o.text());
    expect(options).toEqual(['night-1 (readout 0.40)', 'night-2 (no readout)']);
    expect(w.get('[data-testid="fewshot-backbone-readout"]').text()).toBe(
      'Linear-probe readout 0.400 (RV 0.200, MYO 0.350, LV 0.650) at step 500 · linear probe trained on patient001, scored on patient002',
    );
    await w.get('[data-testid="fewshot-backbone"]').setValue(b.modelId);
    expect(w.get('[data-testid="fewshot-backbone-readout"]').text()).toBe('No readout stored for this backbone.');
    w.unmount();
  });
});
