import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { ImportReport } from '../../main/contract/index.js';
import { ApiError, describeApiError, useClient } from '../api/index.js';
import { useStudiesStore } from './studies.js';

export interface RunningImport {
  requestId: string;
  paths: string[];
  stage: string;
  done: number;
  total: number | null;
  message: string | null;
  startedAt: number;
  cancelling: boolean;
}

export type ImportOutcome =
  | { kind: 'done'; paths: string[]; report: ImportReport }
  | { kind: 'cancelled'; paths: string[]; message: string }
  | { kind: 'failed'; paths: string[]; message: string };

/** The running import (one at a time), its progress, and how the last one ended. */
export const useImportsStore = defineStore('imports', () => {
  const running = ref<RunningImport | null>(null);
  const last = shallowRef<ImportOutcome | null>(null);
  let cancelCall: (() => Promise<boolean>) | null = null;

  const busy = computed(() => running.value !== null);
  /** 0..1 when the engine knows the total, else null (indeterminate bar). */
  const fraction = computed(() => {
    const r = running.value;
    if (!r || r.total === null || r.total <= 0) return null;
    return Math.min(1, Math.max(0, r.done / r.total));
  });

  async function start(paths: string[], labels?: string): Promise<ImportOutcome> {
    const clean = paths.map((p) => p.trim()).filter((p) => p.length > 0);
    if (running.value) throw new Error('an import is already running');
    if (clean.length === 0) {
      const outcome: ImportOutcome = { kind: 'failed', paths: [], message: 'Give at least one folder or file to import.' };
      last.value = outcome;
      return outcome;
    }
    const call = useClient().start('library.import', labels?.trim() ? { paths: clean, labels: labels.trim() } : { paths: clean });
    cancelCall = call.cancel;
    running.value = { requestId: call.id, paths: clean, stage: 'starting', done: 0, total: null, message: null, startedAt: Date.now(), cancelling: false };
    const off = call.onProgress((p) => {
      if (!running.value || running.value.requestId !== call.id) return;
      running.value.stage = p.stage;
      running.value.done = p.done;
      running.value.total = p.total;
      running.value.message = p.message ?? null;
    });
    let outcome: ImportOutcome;
    try {
      outcome = { kind: 'done', paths: clean, report: await call.result };
    } catch (err) {
      outcome =
        err instanceof ApiError && err.code === 'CANCELLED'
          ? { kind: 'cancelled', paths: clean, message: 'Import cancelled; what was already imported stays in the library.' }
          : { kind: 'failed', paths: clean, message: describeApiError(err, 'Import failed') };
    } finally {
      off();
      running.value = null;
      cancelCall = null;
    }
    last.value = outcome;
    // The engine also announces library.changed; refreshing here covers engines that do not.
    void useStudiesStore().refresh();
    return outcome;
  }

  async function cancel(): Promise<void> {
    if (!running.value || !cancelCall) return;
    running.value.cancelling = true;
    try {
      await cancelCall();
    } catch (err) {
      if (running.value) running.value.cancelling = false;
      last.value = { kind: 'failed', paths: running.value?.paths ?? [], message: describeApiError(err, 'Could not cancel the import') };
    }
  }

  function dismiss(): void {
    last.value = null;
  }

  return { running, last, busy, fraction, start, cancel, dismiss };
});
