import { defineStore } from 'pinia';
import { ref, shallowRef } from 'vue';
import type { Params, PretrainExpectation, ReadoutSummary } from '../../main/contract/index.js';
import { describeApiError, useClient } from '../api/index.js';
import type { CurvePoint } from './jobs.js';
import { liveList } from './liveList.js';

/** A running job's readout is re-read at most this often (a readout comes every few hundred steps). */
const LIVE_REFRESH_MS = 20_000;

/** "0.400 (RV 0.200, MYO 0.350, LV 0.650) at step 500"; null without a point. */
export function readoutLine(r: ReadoutSummary | null | undefined): string | null {
  const last = r?.points.at(-1);
  if (!last) return null;
  const per = Object.entries(last.dice).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ');
  return `${last.mean.toFixed(3)}${per ? ` (${per})` : ''} at step ${last.step.toLocaleString('en-US')}`;
}

/** The readout's mean Dice against the step, as LossChart draws a training series. */
export function readoutCurve(r: ReadoutSummary | null | undefined): CurvePoint[] {
  return (r?.points ?? []).map((p) => ({ step: p.step, kind: 'step', loss: p.mean, validationLoss: null }));
}

/**
 * Linear-probe readouts of backbones and pretraining jobs (ml.readouts: readout.json beside each run's
 * checkpoints), re-read when a pretraining ends and, while one runs, now and then as it reports progress.
 */
export const useReadoutsStore = defineStore('readouts', () => {
  const models = shallowRef<Record<string, ReadoutSummary | null>>({});
  const jobs = shallowRef<Record<string, ReadoutSummary | null>>({});
  const problems = ref<Array<{ id: string; path: string; reason: string }>>([]);
  const error = ref<string | null>(null);
  let lastRefresh = 0;
  let inFlight: Promise<void> | null = null;

  function refresh(): Promise<void> {
    if (inFlight) return inFlight;
    lastRefresh = Date.now();
    inFlight = (async () => {
      try {
        const r = await useClient().call('ml.readouts');
        models.value = r.models;
        jobs.value = r.jobs;
        problems.value = r.problems;
        error.value = null;
      } catch (err) {
        error.value = describeApiError(err, 'Could not read the readouts');
      } finally {
        inFlight = null;
      }
    })();
    return inFlight;
  }

  /** Subscribed once (the training panels call start when they mount); later calls do nothing. */
  const { start, stop } = liveList(refresh, (client) => [
    client.on('job.state', ({ job }) => {
      if (job.kind === 'pretrain' && job.status !== 'queued') void refresh();
    }),
    client.on('job.progress', () => {
      if (Date.now() - lastRefresh > LIVE_REFRESH_MS) void refresh();
    }),
  ]);

  return { models, jobs, problems, error, refresh, start, stop };
});

/**
 * What the pretraining form's budget buys on this machine (ml.pretrainExpectation), asked again as the form
 * changes; an answer to an older form never replaces a newer one.
 */
export const useExpectationStore = defineStore('expectation', () => {
  const value = shallowRef<PretrainExpectation | null>(null);
  const error = ref<string | null>(null);
  const loading = ref(false);
  let seq = 0;

  async function load(params: Params<'ml.pretrainExpectation'> | null): Promise<void> {
    const mine = ++seq;
    if (!params) {
      value.value = null;
      error.value = null;
      loading.value = false;
      return;
    }
    loading.value = true;
    try {
      const r = await useClient().call('ml.pretrainExpectation', params);
      if (mine !== seq) return;
      value.value = r;
      error.value = null;
    } catch (err) {
      if (mine !== seq) return;
      value.value = null;
      error.value = describeApiError(err, 'Could not estimate the run');
    } finally {
      if (mine === seq) loading.value = false;
    }
  }

  return { value, error, loading, load };
});
