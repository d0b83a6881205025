import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { EngineStatus, EventData } from '../../main/contract/index.js';
import { describeApiError, useClient, type ConnectionState } from '../api/index.js';

export interface Notice {
  id: number;
  level: EventData<'engine.notice'>['level'];
  message: string;
  at: number;
}

/** The link to the engine and what the engine says about itself: connection, status, notices. */
export const useEngineStore = defineStore('engine', () => {
  const connection = ref<ConnectionState>('connecting');
  const problem = ref<string | null>(null);
  const shell = ref<'desktop' | 'browser'>('browser');
  const status = shallowRef<EngineStatus | null>(null);
  const statusError = ref<string | null>(null);
  const notices = ref<Notice[]>([]);
  let noticeSeq = 0;
  let stops: (() => void)[] = [];

  const connected = computed(() => connection.value === 'open');
  const backend = computed(() => status.value?.backend.selected ?? null);

  async function refreshStatus(): Promise<void> {
    try {
      status.value = await useClient().call('engine.status');
      statusError.value = null;
    } catch (err) {
      statusError.value = describeApiError(err, 'Engine status unavailable');
    }
  }

  function addNotice(level: Notice['level'], message: string): void {
    notices.value.push({ id: ++noticeSeq, level, message, at: Date.now() });
  }

  function dismissNotice(id: number): void {
    notices.value = notices.value.filter((n) => n.id !== id);
  }

  /** Subscribe to the client; idempotent. */
  function start(): void {
    if (stops.length) return;
    const client = useClient();
    shell.value = client.kind;
    connection.value = client.state;
    stops = [
      client.onState((state, why) => {
        const wasOpen = connection.value === 'open';
        connection.value = state;
        problem.value = why;
        if (state === 'open' && !wasOpen) void refreshStatus();
      }),
      client.on('engine.ready', (d) => {
        if (d.restarted) addNotice('warning', 'The engine restarted; anything it was doing was stopped.');
        void refreshStatus();
      }),
      client.on('engine.notice', (d) => addNotice(d.level, d.message)),
    ];
    // Otherwise the 'open' transition above fetches it; asking earlier would only queue a duplicate.
    if (client.state === 'open') void refreshStatus();
  }

  function stop(): void {
    for (const s of stops) s();
    stops = [];
  }

  return { connection, problem, shell, status, statusError, notices, connected, backend, refreshStatus, dismissNotice, addNotice, start, stop };
});
