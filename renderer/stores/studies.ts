import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { StudySummary, VolumeSummary } from '../../main/contract/index.js';
import { describeApiError, useClient } from '../api/index.js';
import { liveList } from './liveList.js';

export interface StudyRecord {
  id: string;
  uid: string;
  patientId: string;
  patientName: string;
  date: string | null;
  description: string;
  seriesIds: string[];
}

export interface SeriesRecord {
  id: string;
  studyId: string;
  uid: string;
  description: string;
  modality: string;
  volumeIds: string[];
}

export type VolumeRecord = VolumeSummary;

/** Split the engine's nested study list into id-keyed tables, so views and later edits touch one record each. */
export function normalise(studies: StudySummary[]): {
  order: string[];
  studies: Record<string, StudyRecord>;
  series: Record<string, SeriesRecord>;
  volumes: Record<string, VolumeRecord>;
} {
  const out = { order: [] as string[], studies: {} as Record<string, StudyRecord>, series: {} as Record<string, SeriesRecord>, volumes: {} as Record<string, VolumeRecord> };
  for (const st of studies) {
    out.order.push(st.id);
    out.studies[st.id] = {
      id: st.id,
      uid: st.uid,
      patientId: st.patientId,
      patientName: st.patientName,
      date: st.date,
      description: st.description,
      seriesIds: st.series.map((s) => s.id),
    };
    for (const se of st.series) {
      out.series[se.id] = {
        id: se.id,
        studyId: st.id,
        uid: se.uid,
        description: se.description,
        modality: se.modality,
        volumeIds: se.volumes.map((v) => v.id),
      };
      for (const v of se.volumes) out.volumes[v.id] = v;
    }
  }
  return out;
}

/** The library's studies, series and volumes, kept in step with the engine (`library.changed`). */
export const useStudiesStore = defineStore('studies', () => {
  const order = ref<string[]>([]);
  const studies = shallowRef<Record<string, StudyRecord>>({});
  const series = shallowRef<Record<string, SeriesRecord>>({});
  const volumes = shallowRef<Record<string, VolumeRecord>>({});
  const loaded = ref(false);
  const loading = ref(false);
  const error = ref<string | null>(null);
  const selectedVolumeId = ref<string | null>(null);
  let inFlight: Promise<void> | null = null;
  let again = false;

  const studyList = computed(() => order.value.map((id) => studies.value[id]).filter((s): s is StudyRecord => !!s));
  const isEmpty = computed(() => loaded.value && order.value.length === 0);
  const volumeCount = computed(() => Object.keys(volumes.value).length);

  async function load(): Promise<void> {
    loading.value = true;
    try {
      const { studies: list } = await useClient().call('library.listStudies');
      const n = normalise(list);
      order.value = n.order;
      studies.value = n.studies;
      series.value = n.series;
      volumes.value = n.volumes;
      if (selectedVolumeId.value && !n.volumes[selectedVolumeId.value]) selectedVolumeId.value = null;
      loaded.value = true;
      error.value = null;
    } catch (err) {
      error.value = describeApiError(err, 'Could not list the studies');
    } finally {
      loading.value = false;
    }
  }

  /**
   * Reload the list. Bursts of `library.changed` (one per imported study) collapse into at most one reload
   * running and one queued, so the list never lags behind the last change and never floods the engine.
   */
  function refresh(): Promise<void> {
    if (inFlight) {
      again = true;
      return inFlight;
    }
    inFlight = (async () => {
      do {
        again = false;
        await load();
      } while (again);
    })().finally(() => {
      inFlight = null;
    });
    return inFlight;
  }

  function select(volumeId: string | null): void {
    selectedVolumeId.value = volumeId;
  }

  const { start, stop } = liveList(refresh, (client) => [client.on('library.changed', () => void refresh())]);

  return { order, studies, series, volumes, loaded, loading, error, selectedVolumeId, studyList, isEmpty, volumeCount, refresh, select, start, stop };
});
