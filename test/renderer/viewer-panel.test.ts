import { flushPromises, mount } from '@vue/test-utils';
import type { Pinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import ViewerPanel from '../../renderer/components/viewer/ViewerPanel.vue';
import { useAnnotationsStore } from '../../renderer/stores/annotations.js';
import { useStudiesStore } from '../../renderer/stores/studies.js';
import { useViewerStore } from '../../renderer/stores/viewer.js';
import { settle } from './support/loopback.js';
import { panelWorkspace, type PanelWorkspace } from './support/panel-workspace.js';

// The panel with its WebGL view stubbed out (happy-dom has no WebGL): what is tested here is the wiring of
// keys, buttons and stores around the view, against a real engine.
let fixture: PanelWorkspace;
let pinia: Pinia;

beforeEach(async () => {
  fixture = await panelWorkspace('panel', { 'vol.nii.gz': { dims: [6, 5, 4], data: Int16Array.from({ length: 120 }, (_, n) => n) } });
  pinia = fixture.pinia;
});

afterEach(() => fixture.dispose());

async function openPanel() {
  const studies = useStudiesStore();
  await studies.refresh();
  const id = Object.keys(studies.volumes)[0]!;
  studies.select(id);
  const w = mount(ViewerPanel, { global: { plugins: [pinia], stubs: { SliceView: true } }, attachTo: document.body });
  await settle(20);
  await flushPromises();
  // The volume's annotation (with its default palette) arrives from the engine; under load 20 turns were not
  // always enough (a palette edit then started from an empty palette).
  const ann = useAnnotationsStore();
  await vi.waitFor(() => expect(ann.palette.length).toBeGreaterThan(0), { timeout: 10_000 });
  return w;
}

const press = async (key: string, init: KeyboardEventInit = {}) => {
  window.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true, ...init }));
  await flushPromises();
};

describe('viewer panel', () => {
  it('drives tools, labels, slices, marks, undo/redo and the help overlay from the keyboard', async () => {
    const w = await openPanel();
    const viewer = useViewerStore();
    const ann = useAnnotationsStore();
    expect(w.get('[data-testid="viewer-volume-name"]').text()).toBe('vol');
    expect(w.get('[data-testid="slice-index"]').text()).toBe('3');
    expect(ann.palette.map((l) => l.name)).toEqual(['RV', 'MYO', 'LV']);

    await press('b');
    expect(viewer.tool).toBe('brush');
    await press('E');
    expect(viewer.tool).toBe('eraser');
    await press('2');
    expect(ann.activeLabel).toBe(2);
    await press('ArrowDown');
    expect(viewer.slice).toBe(3);
    await press('ArrowDown');
    expect(viewer.slice).toBe(3);
    await press(']');
    expect(viewer.brushMm).toBe(3.75);

    const e = ann.begin(0, 3, 'brush')!;
    e.set(7, 2);
    ann.end();
    await flushPromises();
    expect(w.get('[data-testid="slice-annotated"]').element).toHaveProperty('checked', true);
    await press('z', { ctrlKey: true });
    expect(ann.sliceOf(0, 3)![7]).toBe(0);
    await press('Z', { ctrlKey: true, shiftKey: true });
    expect(ann.sliceOf(0, 3)![7]).toBe(2);
    await press('a');
    expect(ann.isAnnotated(0, 3)).toBe(false);

    await press('?');
    expect(w.get('[data-testid="help-overlay"]').text()).toContain('Fill the unannotated slices between annotated ones');
    await press('Escape');
    expect(w.find('[data-testid="help-overlay"]').exists()).toBe(false);

    // Keys typed into a field are text, not shortcuts.
    const name = w.get('.label-name').element as HTMLInputElement;
    name.dispatchEvent(new KeyboardEvent('keydown', { key: 'b', bubbles: true }));
    await flushPromises();
    expect(viewer.tool).toBe('eraser');
    w.unmount();
  });

  it('edits the palette and adds labels from the side panel', async () => {
    const w = await openPanel();
    const ann = useAnnotationsStore();
    await w.get('[data-testid="add-label"]').trigger('click');
    expect(ann.palette.map((l) => [l.value, l.name])).toEqual([[1, 'RV'], [2, 'MYO'], [3, 'LV'], [4, 'Label 4']]);
    const first = w.findAll('.label-name')[0]!;
    await first.setValue('Right ventricle');
    await first.trigger('change');
    expect(ann.labels[1]!.name).toBe('Right ventricle');
    // Voxels 0..119: the full-range preset spans them exactly.
    await w.get('[data-testid="preset-full"]').trigger('click');
    expect(w.get('[data-testid="window-values"]').text()).toBe('W 119 · L 59.5');
    w.unmount();
  });
});
