import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { EventData, JobSummary, Params } from '../../main/contract/index.js';
import { describeApiError, useClient } from '../api/index.js';
import { liveList } from './liveList.js';

/** One point of a loss curve: training loss at a step, or a validation loss. */
export interface CurvePoint {
  step: number;
  kind: 'step' | 'validation';
  /** Smoothed training loss when the engine gives one (what the chart draws), else the raw loss. */
  loss: number | null;
  validationLoss: number | null;
}

/** The latest live figures of a running job (not stored by the engine: they arrive as events). */
export interface LiveProgress {
  step: number;
  totalSteps: number | null;
  epoch: number | null;
  slicesPerSecond: number | null;
  etaSeconds: number | null;
  backend: string | null;
}

export type BudgetKind = 'steps' | 'epochs' | 'overnight';

/** What the pretraining form holds. */
export interface PretrainForm {
  method: 'pix2rep' | 'pix2rep-v2';
  preset: 'compact' | 'paper';
  budget: BudgetKind;
  /** Steps or epochs; with `overnight`, an optional epoch budget that the nights add up to. */
  amount: number | null;
  /** Study ids; empty means every study. */
  studies: string[];
  name: string;
  /** Data-parallel workers (1 or 2 on this kind of machine); absent means 1. */
  workers?: number;
}

export const OVERNIGHT = { start: '22:00', stop: '07:00' } as const;

/** What the amount field starts at for each budget kind (overnight: no epoch limit, the nights decide). */
export const DEFAULT_AMOUNT: Record<BudgetKind, number | null> = { steps: 1000, epochs: 10, overnight: null };

/** Time left, rounded as a person would say it: "40 s", "12 min", "5 h 34 min". */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '';
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole} s`;
  const minutes = Math.round(whole / 60);
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes - h * 60;
  return m ? `${h} h ${m} min` : `${h} h`;
}

/** The `jobs.enqueue` request for a pretraining form (pure, so the rules are tested without an engine). */
export function pretrainRequest(form: PretrainForm): Params<'jobs.enqueue'> {
  const params: Record<string, unknown> = { method: form.method, preset: form.preset };
  if (form.studies.length) params.studies = [...form.studies];
  const amount = form.amount !== null && Number.isFinite(form.amount) && form.amount > 0 ? Math.round(form.amount) : null;
  if (form.budget === 'steps') {
    if (amount === null) throw new Error('Give the number of steps to train (a whole number above 0).');
    params.steps = amount;
  } else if (form.budget === 'epochs') {
    if (amount === null) throw new Error('Give the number of epochs to train (a whole number above 0).');
    params.epochs = amount;
  } else if (amount !== null) params.epochs = amount;
  const name = form.name.trim();
  if (name) params.out = name;
  if (form.workers !== undefined && form.workers > 1) params.workers = Math.round(form.workers);
  return {
    kind: 'pretrain',
    ...(name ? { name } : {}),
    params,
    priority: 0,
    autoResume: true,
    ...(form.budget === 'overnight' ? { schedule: { ...OVERNIGHT } } : {}),
  };
}

function pointFrom(p: { kind: 'step' | 'validation'; step: number; loss: number | null; smoothedLoss: number | null; validationLoss: number | null }): CurvePoint {
  return { step: p.step, kind: p.kind, loss: p.kind === 'step' ? (p.smoothedLoss ?? p.loss) : null, validationLoss: p.kind === 'validation' ? p.validationLoss : null };
}

/** Insert keeping steps ascending per kind; a repeated (kind, step) replaces the old point (a resumed run re-reports). */
export function mergePoints(into: CurvePoint[], add: CurvePoint[]): CurvePoint[] {
  const byKey = new Map<string, CurvePoint>();
  for (const p of into) byKey.set(`${p.kind}:${p.step}`, p);
  for (const p of add) byKey.set(`${p.kind}:${p.step}`, p);
  return [...byKey.values()].sort((a, b) => a.step - b.step || (a.kind === b.kind ? 0 : a.kind === 'step' ? -1 : 1));
}

/**
 * The workspace's jobs (VolView style: id-keyed records plus an order), the stored loss curve of each job
 * loaded on demand and extended by live `job.progress` events, and the job controls.
 */
export const useJobsStore = defineStore('jobs', () => {
  const jobs = shallowRef<Record<string, JobSummary>>({});
  const order = ref<string[]>([]);
  const curves = shallowRef<Record<string, CurvePoint[]>>({});
  const live = shallowRef<Record<string, LiveProgress>>({});
  const loaded = ref(false);
  const error = ref<string | null>(null);
  /** Job id → the control request in flight ('pause', …), so buttons show it and cannot double-fire. */
  const pending = ref<Record<string, string>>({});
  const submitting = ref(false);
  const selectedId = ref<string | null>(null);
  const curveLoads = new Map<string, Promise<void>>();

  const list = computed(() => order.value.map((id) => jobs.value[id]).filter((j): j is JobSummary => !!j));
  const pretrainJobs = computed(() => list.value.filter((j) => j.kind === 'pretrain'));
  /** The job the panel follows: the selected one, else the newest unfinished pretraining, else the newest. */
  const current = computed(() => {
    if (selectedId.value && jobs.value[selectedId.value]) return jobs.value[selectedId.value]!;
    const active = pretrainJobs.value.find((j) => j.status === 'running' || j.status === 'queued' || j.status === 'paused' || j.status === 'interrupted');
    return active ?? pretrainJobs.value[0] ?? null;
  });

  function upsert(job: JobSummary): void {
    const have = jobs.value[job.id];
    // A control call's answer can arrive after the job.state event of the change that followed it (resume
    // answers "queued" after the runner already announced "running"): never let an older record win.
    if (have && have.updatedAt > job.updatedAt) return;
    const isNew = !have;
    jobs.value = { ...jobs.value, [job.id]: job };
    if (isNew) order.value = [job.id, ...order.value];
  }

  async function refresh(): Promise<void> {
    try {
      const { jobs: all } = await useClient().call('jobs.list', { limit: 200 });
      const recs: Record<string, JobSummary> = {};
      for (const j of all) recs[j.id] = j;
      jobs.value = recs;
      order.value = all.map((j) => j.id);
      loaded.value = true;
      error.value = null;
    } catch (err) {
      error.value = describeApiError(err, 'Could not list the jobs');
    }
  }

  /** Load a job's stored curve (once; later points come as events). */
  function loadCurve(id: string, force = false): Promise<void> {
    const have = curveLoads.get(id);
    if (have && !force) return have;
    const p = (async () => {
      try {
        const { points } = await useClient().call('jobs.progress', { id });
        curves.value = { ...curves.value, [id]: mergePoints(curves.value[id] ?? [], points.map(pointFrom)) };
      } catch (err) {
        curveLoads.delete(id);
        error.value = describeApiError(err, 'Could not read the loss curve');
      }
    })();
    curveLoads.set(id, p);
    return p;
  }

  function onProgress(e: EventData<'job.progress'>): void {
    curves.value = { ...curves.value, [e.jobId]: mergePoints(curves.value[e.jobId] ?? [], [pointFrom(e)]) };
    const prev = live.value[e.jobId];
    live.value = {
      ...live.value,
      [e.jobId]: {
        step: e.step,
        totalSteps: e.totalSteps,
        epoch: e.epoch,
        // A validation event carries no throughput: keep the last known one on screen.
        slicesPerSecond: e.slicesPerSecond ?? prev?.slicesPerSecond ?? null,
        etaSeconds: e.etaSeconds ?? prev?.etaSeconds ?? null,
        backend: e.backend ?? prev?.backend ?? null,
      },
    };
    const j = jobs.value[e.jobId];
    if (j && e.step > j.step) upsert({ ...j, step: e.step, totalSteps: e.totalSteps ?? j.totalSteps, progress: e.totalSteps ? e.step / e.totalSteps : j.progress });
  }

  async function enqueuePretrain(form: PretrainForm): Promise<JobSummary | null> {
    error.value = null;
    let request: Params<'jobs.enqueue'>;
    try {
      request = pretrainRequest(form);
    } catch (err) {
      error.value = (err as Error).message;
      return null;
    }
    submitting.value = true;
    try {
      const job = await useClient().call('jobs.enqueue', request);
      upsert(job);
      selectedId.value = job.id;
      curves.value = { ...curves.value, [job.id]: curves.value[job.id] ?? [] };
      return job;
    } catch (err) {
      error.value = describeApiError(err, 'Could not queue the pretraining');
      return null;
    } finally {
      submitting.value = false;
    }
  }

  async function control(id: string, action: 'pause' | 'resume' | 'cancel'): Promise<void> {
    if (pending.value[id]) return;
    pending.value = { ...pending.value, [id]: action };
    error.value = null;
    try {
      const method = action === 'pause' ? 'jobs.pause' : action === 'resume' ? 'jobs.resume' : 'jobs.cancel';
      upsert(await useClient().call(method, { id }));
    } catch (err) {
      error.value = describeApiError(err, `Could not ${action} the job`);
    } finally {
      const { [id]: _, ...rest } = pending.value;
      pending.value = rest;
    }
  }

  function select(id: string | null): void {
    selectedId.value = id;
    if (id) void loadCurve(id);
  }

  const { start, stop } = liveList(refresh, (client) => [client.on('job.state', ({ job }) => upsert(job)), client.on('job.progress', onProgress)]);

  return {
    jobs, order, curves, live, loaded, error, pending, submitting, selectedId, list, pretrainJobs, current,
    refresh, loadCurve, enqueuePretrain, pause: (id: string) => control(id, 'pause'), resume: (id: string) => control(id, 'resume'),
    cancel: (id: string) => control(id, 'cancel'), select, start, stop,
  };
});
