import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { ModelSummary, Params, Result, TrainStage } from '../../main/contract/index.js';
import { ApiError, describeApiError, useClient, type RunningCall } from '../api/index.js';
import { useStudiesStore } from './studies.js';
import { liveList } from './liveList.js';

export type FewShotMode = Params<'ml.train'>['mode'];

export const FEWSHOT_MODES: Array<{ id: FewShotMode; name: string; needsBackbone: boolean; hint: string }> = [
  { id: 'linear', name: 'Linear probe', needsBackbone: true, hint: 'frozen backbone, a new 1×1 head: fastest' },
  { id: 'finetune', name: 'Fine-tune', needsBackbone: true, hint: 'the whole network, starting from the backbone' },
  { id: 'mean-teacher', name: 'Mean Teacher', needsBackbone: false, hint: 'also learns from unannotated slices: the best measured with one annotated patient' },
  { id: 'supervised', name: 'Supervised', needsBackbone: false, hint: 'from scratch: the baseline' },
];

/** A long call's state for a progress bar: done of total, with the engine's message. */
export interface TaskState {
  running: boolean;
  done: number;
  total: number | null;
  message: string;
  error: string | null;
}

const idle = (): TaskState => ({ running: false, done: 0, total: null, message: '', error: null });

/**
 * A training's state: which stage its done/total count (TrainStage: `features`, slices whose backbone features
 * the linear probe caches before step 1; `train`, steps), null before the first progress event.
 */
export interface TrainingState extends TaskState {
  stage: TrainStage | null;
}

const idleTraining = (): TrainingState => ({ ...idle(), stage: null });

/** The stage of an ml.train progress event; a stage this renderer does not know counts as steps. */
export const trainStage = (stage: string): TrainStage => (stage === 'features' ? 'features' : 'train');

/** Pretrained backbones have kind 'pretrain'; everything else in the models table segments. */
export const isBackbone = (m: Pick<ModelSummary, 'kind'>): boolean => m.kind === 'pretrain';

/**
 * Models of the workspace (id-keyed records), and the few-shot actions on them: train a segmenter, predict
 * volumes with one. Each action is one contract call whose progress events drive a TaskState.
 */
export const useModelsStore = defineStore('models', () => {
  const models = shallowRef<Record<string, ModelSummary>>({});
  const order = ref<string[]>([]);
  const error = ref<string | null>(null);
  const training = ref<TrainingState>(idleTraining());
  const predicting = ref<TaskState>(idle());
  const lastTraining = ref<Result<'ml.train'> | null>(null);
  /** Volume id → the prediction made for it in this session (annotation and model). */
  const predictions = ref<Record<string, { annotationId: string; modelId: string }>>({});
  let trainCall: RunningCall<'ml.train'> | null = null;
  let predictCall: RunningCall<'ml.predict'> | null = null;

  const list = computed(() => order.value.map((id) => models.value[id]).filter((m): m is ModelSummary => !!m));
  const backbones = computed(() => list.value.filter(isBackbone));
  const segmenters = computed(() => list.value.filter((m) => !isBackbone(m)));

  /** A model's name for display; the id itself when the model is unknown (deleted, or not loaded yet). */
  function nameOf(id: string | null | undefined): string {
    if (!id) return '';
    return models.value[id]?.name ?? id;
  }

  async function refresh(): Promise<void> {
    try {
      const { models: all } = await useClient().call('ml.listModels');
      const recs: Record<string, ModelSummary> = {};
      for (const m of all) recs[m.id] = m;
      models.value = recs;
      order.value = all.map((m) => m.id);
      error.value = null;
    } catch (err) {
      error.value = describeApiError(err, 'Could not list the models');
    }
  }

  async function train(params: Params<'ml.train'>): Promise<Result<'ml.train'> | null> {
    if (training.value.running) return null;
    const mode = FEWSHOT_MODES.find((m) => m.id === params.mode);
    if (mode?.needsBackbone && !params.backbone) {
      training.value = { ...idleTraining(), error: `${mode.name} starts from a pretrained backbone: pick one first (run a pretraining if the list is empty).` };
      return null;
    }
    training.value = { ...idleTraining(), running: true, total: params.steps ?? null, message: 'Preparing the annotated slices…' };
    lastTraining.value = null;
    const call = useClient().start('ml.train', params);
    trainCall = call;
    call.onProgress((p) => {
      training.value = { ...training.value, stage: trainStage(p.stage), done: p.done ?? 0, total: p.total ?? training.value.total, message: p.message ?? p.stage };
    });
    try {
      const res = await call.result;
      lastTraining.value = res;
      training.value = { ...training.value, running: false, done: res.training.steps, total: res.training.steps, message: `Trained ${res.name}` };
      await refresh();
      return res;
    } catch (err) {
      if (err instanceof ApiError && err.code === 'CANCELLED') {
        training.value = { ...training.value, running: false, message: 'Training cancelled: no model was stored.' };
        return null;
      }
      training.value = { ...training.value, running: false, error: describeApiError(err, 'Training failed') };
      return null;
    } finally {
      trainCall = null;
    }
  }

  async function predict(model: string, volumeIds: string[]): Promise<Result<'ml.predict'> | null> {
    if (predicting.value.running) return null;
    if (!volumeIds.length) {
      predicting.value = { ...idle(), error: 'Nothing to predict: import a study first.' };
      return null;
    }
    predicting.value = { ...idle(), running: true, total: volumeIds.length, message: 'Loading the model…' };
    const call = useClient().start('ml.predict', { model, volumeIds });
    predictCall = call;
    call.onProgress((p) => {
      predicting.value = { ...predicting.value, done: p.done ?? 0, total: p.total ?? predicting.value.total, message: `Segmenting volume ${Math.min((p.done ?? 0) + 1, p.total ?? 1)} of ${p.total ?? '?'}` };
    });
    try {
      const res = await call.result;
      const next = { ...predictions.value };
      for (const a of res.annotations) next[a.volumeId] = { annotationId: a.annotationId, modelId: res.modelId };
      predictions.value = next;
      predicting.value = { ...predicting.value, running: false, done: volumeIds.length, message: `Segmented ${res.annotations.length} volume${res.annotations.length === 1 ? '' : 's'}` };
      // ml.predict does not announce library changes: reload so the new annotations show in the lists.
      await useStudiesStore().refresh();
      return res;
    } catch (err) {
      if (err instanceof ApiError && err.code === 'CANCELLED') {
        predicting.value = { ...predicting.value, running: false, message: 'Prediction cancelled.' };
        // Volumes finished before the cancel are stored: show them.
        await useStudiesStore().refresh();
        return null;
      }
      predicting.value = { ...predicting.value, running: false, error: describeApiError(err, 'Prediction failed') };
      return null;
    } finally {
      predictCall = null;
    }
  }

  /** Keep the list current: on connect, engine restart, and when a job that makes a model finishes. */
  const { start, stop } = liveList(refresh, (client) => [
    client.on('job.state', ({ job }) => {
      if (job.status === 'done' && (job.kind === 'pretrain' || job.kind === 'train')) void refresh();
    }),
  ]);

  async function cancelTraining(): Promise<void> {
    await trainCall?.cancel();
  }

  async function cancelPrediction(): Promise<void> {
    await predictCall?.cancel();
  }

  return {
    models, order, error, training, predicting, lastTraining, predictions, list, backbones, segmenters,
    nameOf, refresh, train, predict, cancelTraining, cancelPrediction, start, stop,
  };
});

/**
 * Annotated slices training will see, per the library summary: per volume the largest count among its drawn
 * and imported annotations (the engine merges them slice by slice, so this is exact for a volume with one
 * annotation and a lower bound otherwise).
 */
export function labeledSlices(volumes: Iterable<{ annotations: Array<{ source: string; annotatedSlices: number }> }>): { slices: number; volumes: number } {
  let slices = 0;
  let count = 0;
  for (const v of volumes) {
    let best = 0;
    for (const a of v.annotations) if (a.source !== 'predicted') best = Math.max(best, a.annotatedSlices);
    slices += best;
    if (best > 0) count++;
  }
  return { slices, volumes: count };
}
