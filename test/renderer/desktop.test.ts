import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Pix2RepBridge } from '../../main/contract/bridge.js';
import { Engine } from '../../main/engine/engine.js';
import App from '../../renderer/App.vue';
import { EngineClient, createTransport, provideClient } from '../../renderer/api/index.js';
import { sampleStatus, sampleStudies } from './support/fixtures.js';
import { settle } from './support/loopback.js';

/** What the Electron preload exposes, wired to a real in-process engine. */
function bridgeFor(engine: Engine, picked: string[]): Pix2RepBridge & { dialogs: string[] } {
  const dialogs: string[] = [];
  return {
    shell: 'electron',
    dialogs,
    request: async (m) => JSON.stringify(await engine.handle(m)),
    onEvent: (l) => engine.onEvent((event, data) => l(JSON.stringify({ event, data }))),
    openFolder: async () => {
      dialogs.push('folder');
      return picked;
    },
    openFiles: async () => {
      dialogs.push('files');
      return [];
    },
  };
}

describe('in the desktop shell (preload bridge present)', () => {
  let engine: Engine;
  let bridge: ReturnType<typeof bridgeFor>;

  beforeEach(() => {
    engine = new Engine();
    bridge = bridgeFor(engine, ['/picked/folder']);
    (globalThis as Record<string, unknown>).pix2rep = bridge;
    setActivePinia(createPinia());
  });
  afterEach(() => {
    delete (globalThis as Record<string, unknown>).pix2rep;
  });

  it('chooses the bridge transport and imports the folder picked in the native dialog', async () => {
    let imported: unknown = null;
    engine.register({
      'engine.status': () => sampleStatus(),
      'library.listStudies': () => ({ studies: imported ? sampleStudies() : [] }),
      'library.import': (p) => {
        imported = p;
        return { studiesAdded: 2, seriesAdded: 2, volumesAdded: 3, annotationsAdded: 0, alreadyPresent: 0, skipped: [], filesScanned: 3, seconds: 0.1 };
      },
    });
    const transport = createTransport();
    expect(transport.kind).toBe('desktop');
    provideClient(new EngineClient(transport));
    const w = mount(App, { global: { plugins: [createPinia()] } });
    await settle();
    expect(w.get('[data-testid="status-shell"]').text()).toBe('Desktop');
    expect(w.find('[data-testid="import-path"]').exists()).toBe(false);
    expect(w.get('[data-testid="study-list-empty"]').text()).toContain('Import a folder of DICOM or NIfTI files with “Import folder…” above');
    await w.get('[data-testid="import-open-folder"]').trigger('click');
    await settle();
    await flushPromises();
    expect(bridge.dialogs).toEqual(['folder']);
    expect(imported).toEqual({ paths: ['/picked/folder'] });
    expect(w.get('[data-testid="import-report-added"]').text()).toMatch(/^Added 2 studies, 2 series, 3 volumes/);
    expect(w.findAll('[data-testid="volume-row"]')).toHaveLength(3);
    w.unmount();
  });

  it('does nothing when the dialog is cancelled', async () => {
    bridge = bridgeFor(engine, []);
    (globalThis as Record<string, unknown>).pix2rep = bridge;
    const calls: unknown[] = [];
    engine.register({
      'engine.status': () => sampleStatus(),
      'library.listStudies': () => ({ studies: [] }),
      'library.import': (p) => {
        calls.push(p);
        throw new Error('not expected');
      },
    });
    provideClient(new EngineClient(createTransport()));
    const w = mount(App, { global: { plugins: [createPinia()] } });
    await settle();
    await w.get('[data-testid="import-open-folder"]').trigger('click');
    await settle();
    expect(bridge.dialogs).toEqual(['folder']);
    expect(calls).toEqual([]);
    expect(w.find('[data-testid="import-report"]').exists()).toBe(false);
    w.unmount();
  });

  it('says so when the native dialog fails, and stays usable', async () => {
    bridge.openFolder = () => Promise.reject(new Error('no window to attach the dialog to'));
    engine.register({ 'engine.status': () => sampleStatus(), 'library.listStudies': () => ({ studies: [] }) });
    provideClient(new EngineClient(createTransport()));
    const w = mount(App, { global: { plugins: [createPinia()] } });
    await settle();
    await w.get('[data-testid="import-open-folder"]').trigger('click');
    await settle();
    expect(w.get('[data-testid="import-hint"]').text()).toBe('The file dialog could not be opened: no window to attach the dialog to');
    expect(w.get('[data-testid="import-open-folder"]').attributes('disabled')).toBeUndefined();
    w.unmount();
  });
});
