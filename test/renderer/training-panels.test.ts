import { flushPromises, mount } from '@vue/test-utils';
import type { Pinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Engine } from '../../main/engine/engine.js';
import FewShotPanel from '../../renderer/components/training/FewShotPanel.vue';
import LossChart from '../../renderer/components/training/LossChart.vue';
import PretrainPanel from '../../renderer/components/training/PretrainPanel.vue';
import { useJobsStore } from '../../renderer/stores/jobs.js';
import { useModelsStore } from '../../renderer/stores/models.js';
import { useStudiesStore } from '../../renderer/stores/studies.js';
import { bytesToBase64 } from '../../renderer/viewer/voxels.js';
import { settle } from './support/loopback.js';
import { panelWorkspace, type PanelWorkspace } from './support/panel-workspace.js';

let pinia: Pinia;
let engine: Engine;

let fixture: PanelWorkspace;
beforeEach(async () => {
  fixture = await panelWorkspace('tpanel');
  ({ engine, pinia } = fixture);
});

afterEach(() => fixture.dispose());

describe('loss chart', () => {
  it('draws the training and validation series in the plot area', () => {
    const w = mount(LossChart, {
      props: {
        points: [
          { step: 0, kind: 'step', loss: 0, validationLoss: null },
          { step: 10, kind: 'step', loss: 1, validationLoss: null },
          { step: 10, kind: 'validation', loss: null, validationLoss: 0.5 },
        ],
      },
    });
    // Default 340 × 180 with margins left 46, right 10, top 10, bottom 24: x 0..10 → 46..330, y 0..1 → 156..10.
    expect(w.get('[data-testid="loss-train"]').attributes('d')).toBe('M46.0,156.0L330.0,10.0');
    expect(w.get('[data-testid="loss-validation"]').attributes('d')).toBe('M330.0,83.0');
    expect(w.findAll('.axis text').map((t) => t.text())).toEqual(['0', '0.5', '1', '0', '2', '4', '6', '8', '10']);
  });
});

describe('pretraining panel', () => {
  it('queues a run from the form, shows live progress and controls it', async () => {
    const jobs = useJobsStore();
    const studies = useStudiesStore();
    jobs.start();
    await studies.refresh();
    const w = mount(PretrainPanel, { global: { plugins: [pinia] }, attachTo: document.body });
    await settle();
    // Each budget kind starts from its own amount: 1000 steps, 10 epochs, no epoch limit overnight.
    await w.get('[data-testid="pretrain-budget"]').setValue('epochs');
    expect((w.get('[data-testid="pretrain-amount"]').element as HTMLInputElement).value).toBe('10');
    await w.get('[data-testid="pretrain-budget"]').setValue('overnight');
    expect((w.get('[data-testid="pretrain-amount"]').element as HTMLInputElement).value).toBe('');
    expect(w.get('[data-testid="pretrain-start"]').text()).toBe('Schedule for tonight');
    await w.get('[data-testid="pretrain-budget"]').setValue('steps');
    await w.get('[data-testid="pretrain-method"]').setValue('pix2rep-v2');
    await w.get('[data-testid="pretrain-amount"]').setValue('10');
    await w.get('[data-testid="pretrain-start"]').trigger('click');
    await settle();
    await flushPromises();
    expect(w.get('[data-testid="pretrain-status"]').text()).toBe('Queued');
    const job = jobs.list[0]!;
    expect(job.params).toMatchObject({ method: 'pix2rep-v2', steps: 10, preset: 'compact' });

    engine.emit('job.progress', { jobId: job.id, kind: 'step', step: 3, totalSteps: 10, epoch: 0.5, loss: 1, smoothedLoss: 0.9, validationLoss: null, slicesPerSecond: 12.5, etaSeconds: 30, backend: 'wasm' });
    await flushPromises();
    expect(w.get('[data-testid="pretrain-progress"]').text()).toBe('step 3 of 10 · epoch 0.5 · 12.5 slices/s · backend wasm');
    expect(w.get('[data-testid="pretrain-progress"] progress').attributes('value')).toBe('0.3');
    expect(w.get('[data-testid="loss-train"]').attributes('d')).toMatch(/^M[\d.]+,[\d.]+$/);

    await w.get('[data-testid="pretrain-pause"]').trigger('click');
    await settle();
    expect(w.get('[data-testid="pretrain-status"]').text()).toBe('Paused');
    await w.get('[data-testid="pretrain-resume"]').trigger('click');
    await settle();
    await w.get('[data-testid="pretrain-cancel"]').trigger('click');
    await settle();
    expect(w.get('[data-testid="pretrain-status"]').text()).toBe('Cancelled');
    expect(w.find('[data-testid="pretrain-cancel"]').exists()).toBe(false);
    jobs.stop();
    w.unmount();
  });
});

describe('few-shot panel', () => {
  it('counts annotated slices from the library and enables training once there are some', async () => {
    const studies = useStudiesStore();
    studies.start();
    await settle();
    const w = mount(FewShotPanel, { global: { plugins: [pinia] }, attachTo: document.body });
    await settle();
    expect(w.get('[data-testid="fewshot-annotated"]').text()).toBe('0 annotated slices in 0 volumes');
    expect(w.get('[data-testid="fewshot-train"]').attributes('disabled')).toBeDefined();

    const volumeId = Object.keys(studies.volumes)[0]!;
    const slice = bytesToBase64(Uint8Array.from([0, 1, 1, 0, 0, 2, 2, 0, 0, 3, 3, 0]));
    await engine.call('library.saveAnnotation', { volumeId, slices: [{ k: 1, data: slice }], annotatedSlices: [1] });
    await settle(10);
    expect(w.get('[data-testid="fewshot-annotated"]').text()).toBe('1 annotated slice in 1 volume');
    expect(w.get('[data-testid="fewshot-train"]').attributes('disabled')).toBeUndefined();
    // Linear probing needs a backbone; the workspace has none, and the panel says where one comes from.
    expect(w.text()).toContain('No pretrained backbone yet: run one in the Pretraining tab.');
    studies.stop();
    w.unmount();
  });

  it('shows the linear probe caching its features, then the steps, in the progress line', async () => {
    const studies = useStudiesStore();
    studies.start();
    await settle();
    // ml.train stands in for the engine's: it reports the caching stage, then a step, each held until released.
    const gates: Array<() => void> = [];
    const hold = () => new Promise<void>((r) => gates.push(r));
    engine.register({
      'ml.listModels': () => ({ models: [{ id: 'bb', name: 'night-1', kind: 'pretrain', parentId: null, status: 'ready', createdAt: '2026-01-01T00:00:00Z', validationDice: null }] }),
      'ml.train': async (p, ctx) => {
        expect(p).toMatchObject({ mode: 'linear', backbone: 'bb', steps: 200 });
        ctx.progress('features', 40, 120, 'caching features 40/120');
        await hold();
        ctx.progress('train', 1, 200, 'loss 1.0986');
        await hold();
        return { modelId: 'm1', name: 'linear-1', training: { steps: 200, stopped: 'steps', bestStep: 180, validationDice: 0.5, seconds: 30, labeledSlices: 1 } };
      },
    });
    await useModelsStore().refresh();
    const w = mount(FewShotPanel, { global: { plugins: [pinia] }, attachTo: document.body });
    await settle();
    const volumeId = Object.keys(studies.volumes)[0]!;
    await engine.call('library.saveAnnotation', { volumeId, slices: [{ k: 1, data: bytesToBase64(Uint8Array.from([0, 1, 1, 0, 0, 2, 2, 0, 0, 3, 3, 0])) }], annotatedSlices: [1] });
    await settle(10);
    await w.get('[data-testid="mode-linear"]').setValue(true);
    await w.get('[data-testid="fewshot-train"]').trigger('click');
    await settle();
    const line = () => w.get('[data-testid="fewshot-train-progress"]');
    // Slices, not steps: "step 40 of 120" would be wrong on both counts.
    expect(line().text()).toBe('Caching features 40/120');
    expect(line().get('progress').attributes('value')).toBe(String(40 / 120));
    gates.shift()!();
    await settle();
    expect(line().text()).toBe('step 1 of 200 · loss 1.0986');
    expect(line().get('progress').attributes('value')).toBe(String(1 / 200));
    gates.shift()!();
    await settle();
    await flushPromises();
    expect(w.find('[data-testid="fewshot-train-progress"]').exists()).toBe(false);
    expect(w.get('[data-testid="fewshot-trained"]').text()).toBe('linear-1: 200 steps on 1 annotated slices in 30 s, validation Dice 0.500.');
    studies.stop();
    w.unmount();
  });
});
