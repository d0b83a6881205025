import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import { Engine } from '../../main/engine/engine.js';
import App from '../../renderer/App.vue';
import { EngineClient, provideClient } from '../../renderer/api/index.js';
import { sampleStatus, sampleStudies } from './support/fixtures.js';
import { LoopbackTransport, settle } from './support/loopback.js';

let engine: Engine;
let pinia: ReturnType<typeof createPinia>;

beforeEach(() => {
  engine = new Engine();
  provideClient(new EngineClient(new LoopbackTransport(engine)));
  pinia = createPinia();
  setActivePinia(pinia);
});

async function mountApp() {
  const w = mount(App, { global: { plugins: [pinia] }, attachTo: document.body });
  await settle();
  await flushPromises();
  return w;
}

describe('App shell', () => {
  it('shows the empty library with the import hint and the engine status', async () => {
    engine.register({ 'engine.status': () => sampleStatus(), 'library.listStudies': () => ({ studies: [] }) });
    const w = await mountApp();
    expect(w.get('[data-testid="study-list-empty"]').text()).toContain('Import a folder of DICOM or NIfTI files: type its path in the field above');
    expect(w.get('[data-testid="status-connection"]').text()).toBe('Engine connected');
    expect(w.get('[data-testid="status-backend"]').text()).toBe('Compute wasm');
    expect(w.get('[data-testid="status-version"]').text()).toBe('Version 0.1.0');
    expect(w.get('[data-testid="status-workspace"]').text()).toBe('Workspace /tmp/ws');
    expect(w.get('[data-testid="status-shell"]').text()).toBe('Browser twin');
    expect(w.find('[data-testid="import-open-folder"]').exists()).toBe(false);
    w.unmount();
  });

  it('lists studies with patient, date, series, modality, dimensions, frames and annotation status', async () => {
    engine.register({ 'engine.status': () => sampleStatus(), 'library.listStudies': () => ({ studies: sampleStudies() }) });
    const w = await mountApp();
    expect(w.find('[data-testid="study-list-empty"]').exists()).toBe(false);
    const groups = w.findAll('[data-testid="study-row"]');
    expect(groups).toHaveLength(2);
    expect(groups[0]!.get('[data-testid="study-patient"]').text()).toBe('patient001');
    expect(groups[1]!.get('[data-testid="study-patient"]').text()).toBe('DOE^JANE');
    expect(groups[1]!.text()).toContain('2019-04-02');
    const rows = w.findAll('[data-testid="volume-row"]');
    expect(rows.map((r) => r.get('[data-testid="volume-dims"]').text())).toEqual(['216 × 256 × 10', '216 × 256 × 10', '192 × 192 × 12']);
    expect(rows.map((r) => r.get('[data-testid="volume-frames"]').text())).toEqual(['1', '30', '25']);
    expect(rows.map((r) => r.get('[data-testid="volume-annotations"]').text())).toEqual([
      'imported, 10 slices',
      'not annotated',
      'predicted by fewshot-3, 0 slices',
    ]);
    expect(rows[2]!.get('[data-testid="volume-series"]').text()).toBe('SAX SSFP');
    expect(rows[0]!.text()).toContain('MR');
    expect(w.get('[data-testid="study-count"]').text()).toBe('2 studies, 3 volumes');
    await rows[1]!.trigger('click');
    expect(rows[1]!.classes()).toContain('selected');
    w.unmount();
  });

  it('says in plain words when the engine cannot list studies, without breaking the page', async () => {
    engine.register({ 'engine.status': () => sampleStatus() });
    const w = await mountApp();
    expect(w.get('[data-testid="study-list-error"]').text()).toBe(
      'Could not list the studies: this version of the engine cannot do that yet (library.listStudies is not available).',
    );
    expect(w.get('[data-testid="status-backend"]').text()).toBe('Compute wasm');
    w.unmount();
  });

  it('imports a typed path, shows progress, then the report and the new study', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let imported = false;
    engine.register({
      'engine.status': () => sampleStatus(),
      'library.listStudies': () => ({ studies: imported ? sampleStudies().slice(0, 1) : [] }),
      'library.import': async (_p, ctx) => {
        ctx.progress('reading', 1, 4);
        await gate;
        imported = true;
        ctx.emit('library.changed', { reason: 'import' });
        return {
          studiesAdded: 1,
          seriesAdded: 1,
          volumesAdded: 2,
          annotationsAdded: 1,
          alreadyPresent: 0,
          skipped: [{ path: '/data/p1/Info.cfg', reason: 'not a DICOM or NIfTI file' }],
          filesScanned: 4,
          seconds: 2.5,
        };
      },
    });
    const w = await mountApp();
    expect(w.get('[data-testid="import-submit"]').attributes('disabled')).toBeDefined();
    await w.get('[data-testid="import-path"]').setValue('/data/p1');
    await w.get('[data-testid="import-labels"]').setValue('*_gt.nii.gz');
    await w.get('form').trigger('submit');
    await settle();
    expect(w.get('[data-testid="import-progress-text"]').text()).toBe('reading · 1 of 4');
    expect(w.get('[data-testid="import-progress-bar"]').element.getAttribute('value')).toBe('0.25');
    expect((w.get('[data-testid="import-path"]').element as HTMLInputElement).disabled).toBe(true);
    release();
    await settle();
    await flushPromises();
    expect(w.find('[data-testid="import-progress"]').exists()).toBe(false);
    expect(w.get('[data-testid="import-report-added"]').text()).toBe('Added 1 study, 1 series, 2 volumes, 1 label map (4 files scanned in 2.5 s)');
    expect(w.get('[data-testid="import-report-present"]').text()).toBe('Nothing was already in the library.');
    expect(w.get('[data-testid="import-skipped-item"]').text()).toBe('/data/p1/Info.cfg: not a DICOM or NIfTI file');
    expect(w.findAll('[data-testid="study-row"]')).toHaveLength(1);
    w.unmount();
  });

  it('shows an import the engine cannot run yet as a failure in plain words', async () => {
    engine.register({ 'engine.status': () => sampleStatus(), 'library.listStudies': () => ({ studies: [] }) });
    const w = await mountApp();
    await w.get('[data-testid="import-path"]').setValue('/data/p1');
    await w.get('form').trigger('submit');
    await settle();
    await flushPromises();
    expect(w.get('[data-testid="import-error"]').text()).toBe(
      'Import failed: this version of the engine cannot do that yet (library.import is not available).',
    );
    w.unmount();
  });

  it('takes a path from text dropped on the import control, and explains when a drop carries none', async () => {
    engine.register({ 'engine.status': () => sampleStatus(), 'library.listStudies': () => ({ studies: [] }) });
    const w = await mountApp();
    const control = w.get('[data-testid="import-control"]');
    const withText = new DataTransfer();
    withText.setData('text/uri-list', 'file:///data/My%20Scans/p1\r\nfile:///data/p2');
    await control.trigger('drop', { dataTransfer: withText });
    expect((w.get('[data-testid="import-path"]').element as HTMLInputElement).value).toBe('/data/My Scans/p1');
    expect(w.get('[data-testid="import-hint"]').text()).toBe('Only the first of 2 dropped items was taken; import the others one by one.');
    const filesOnly = new DataTransfer();
    filesOnly.items.add(new File(['x'], 'a.nii'));
    await control.trigger('drop', { dataTransfer: filesOnly });
    expect(w.get('[data-testid="import-hint"]').text()).toBe(
      'This browser does not tell the page where dropped files are on disk: type or paste the folder path instead.',
    );
    w.unmount();
  });
});
