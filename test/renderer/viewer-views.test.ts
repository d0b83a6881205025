import { flushPromises, mount } from '@vue/test-utils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import SliceView from '../../renderer/components/viewer/SliceView.vue';
import ViewerPanel from '../../renderer/components/viewer/ViewerPanel.vue';
import { useStudiesStore } from '../../renderer/stores/studies.js';
import { useViewerStore } from '../../renderer/stores/viewer.js';
import { panelWorkspace, type PanelWorkspace } from './support/panel-workspace.js';

// Two volumes: a cine of 4 x 3 x 2 voxels and 3 frames (value = 100·frame + index), and a single-frame
// 2 x 2 x 5 volume (value = 1000 + index): another study, with a different slice count.
let fixture: PanelWorkspace;
let cineId: string;
let otherId: string;

beforeEach(async () => {
  fixture = await panelWorkspace('views', {
    'cine.nii.gz': { dims: [4, 3, 2], frames: 3, spacing: [1.5, 2, 6], data: Int16Array.from({ length: 72 }, (_, n) => 100 * Math.floor(n / 24) + (n % 24)) },
    'other.nii.gz': { dims: [2, 2, 5], spacing: [1, 1, 1], data: Int16Array.from({ length: 20 }, (_, n) => 1000 + n) },
  });
  const vols = (await fixture.engine.call('library.listStudies', {})).studies.flatMap((s) => s.series.flatMap((se) => se.volumes));
  cineId = vols.find((v) => v.frames === 3)!.id;
  otherId = vols.find((v) => v.frames === 1)!.id;
});

afterEach(() => fixture.dispose());

describe('viewer store: views', () => {
  it('gives each view its own frame, window, camera and overlays; links slices on request', async () => {
    const v = useViewerStore();
    await v.open(cineId);
    expect(v.layout).toBe('1x1');
    expect(v.viewIds).toEqual(['main']);

    v.setLayout('1x2');
    expect(v.viewIds).toEqual(['main', 'second']);
    // The second view starts as a copy of the first, without overlays.
    expect(v.views.second).toMatchObject({ volumeId: null, frame: 0, slice: 1, windowWidth: v.views.main.windowWidth, showLabels: false, showReference: false });
    expect(v.views.main).toMatchObject({ showLabels: true, showReference: true });

    await v.setFrame(2, 'second');
    expect([v.views.main.frame, v.views.second.frame]).toEqual([0, 2]);
    // Voxel (1, 2) of slice 1: index 1 + 2·4 + 12 = 21 in frame 0, 221 in frame 2.
    expect(v.imageOf('main')![21]).toBe(21);
    expect(v.imageOf('second')![21]).toBe(221);
    v.pointAt(1, 2, 'second');
    expect(v.cursor).toMatchObject({ i: 1, j: 2, k: 1, value: 221 });

    v.setWindow(50, 7, 'second');
    v.zoomBy(2, 'second');
    v.views.second.showReference = true;
    expect([v.views.main.windowWidth, v.views.main.windowLevel]).not.toEqual([50, 7]);
    expect(v.views.main.camera.zoom).toBe(1);
    expect(v.views.second.camera.zoom).toBe(2);
    expect(v.views.main.showReference).toBe(true);

    // The top-level state is the focused view's: the main one until the second is used.
    expect(v.frame).toBe(0);
    v.setActiveView('second');
    expect(v.focusId).toBe('second');
    expect([v.frame, v.windowWidth, v.windowLevel]).toEqual([2, 50, 7]);

    // Linked (the default): scrolling either view moves both. Unlinked: only the one scrolled.
    v.setSlice(0, 'second');
    expect([v.views.main.slice, v.views.second.slice]).toEqual([0, 0]);
    v.linkSlices = false;
    v.setSlice(1, 'main');
    expect([v.views.main.slice, v.views.second.slice]).toEqual([1, 0]);

    v.setLayout('1x1');
    expect(v.viewIds).toEqual(['main']);
    expect(v.activeViewId).toBe('main');
    expect(v.views.main).toMatchObject({ frame: 0, slice: 1 });
  });

  it('shows another study in the second view, read-only, and keeps the focus on the annotated volume', async () => {
    const v = useViewerStore();
    await v.open(cineId);
    v.setLayout('1x2');
    await v.setViewVolume('second', otherId);
    expect(v.volumeOf('second')).toBe(otherId);
    expect(v.geometryOf('second')!.dims).toEqual([2, 2, 5]);
    expect(v.views.second).toMatchObject({ frame: 0, slice: 2, error: null });
    expect(v.imageOf('second')![0]).toBe(1000);
    expect(v.showsMainVolume('second')).toBe(false);
    expect(v.showsMainVolume('main')).toBe(true);
    // Panels acting on "the open volume" keep addressing the main view while the other study is active.
    v.setActiveView('second');
    expect(v.focusId).toBe('main');
    expect(v.volumeId).toBe(cineId);

    // Different slice counts: linked views move by the same step, each within its own range.
    v.setSlice(4, 'second');
    expect([v.views.second.slice, v.views.main.slice]).toEqual([4, 1]);
    v.setSlice(0, 'main');
    expect([v.views.main.slice, v.views.second.slice]).toEqual([0, 3]);

    // Opening another volume in the main view leaves the second view's study alone.
    await v.open(otherId);
    expect(v.volumeOf('second')).toBe(otherId);
    // Back to "same as view 1": the second view follows the main one from then on.
    await v.setViewVolume('second', null);
    expect(v.views.second.volumeId).toBeNull();
    await v.open(cineId);
    expect(v.geometryOf('second')!.dims).toEqual([4, 3, 2]);
    expect(v.imageOf('second')![0]).toBe(0);
  });
});

describe('viewer panel: layout', () => {
  it('switches to two views with L or the toolbar button, and lists the shortcut in the help', async () => {
    const studies = useStudiesStore();
    await studies.refresh();
    studies.select(cineId);
    const w = mount(ViewerPanel, { global: { plugins: [fixture.pinia], stubs: { SliceView: true } }, attachTo: document.body });
    const v = useViewerStore();
    // The shortcuts act once the study's geometry is loaded (fetched from the loopback engine: under load, later).
    await vi.waitFor(() => expect(v.geometry).not.toBeNull(), { timeout: 10_000, interval: 20 });
    expect(w.findAll('slice-view-stub')).toHaveLength(1);

    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'l', bubbles: true }));
    await flushPromises();
    expect(v.layout).toBe('1x2');
    expect(w.findAllComponents(SliceView).map((s) => s.props('viewId'))).toEqual(['main', 'second']);
    expect(w.find('[data-testid="view-frame-second"]').exists()).toBe(true);

    // The arrow keys act on the view last used.
    v.linkSlices = false;
    v.setActiveView('second');
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));
    await vi.waitFor(() => expect([v.views.main.frame, v.views.second.frame]).toEqual([0, 1]), { timeout: 10_000, interval: 20 });

    await w.find('[data-testid="layout-toggle"]').trigger('click');
    expect(v.layout).toBe('1x1');
    await flushPromises();
    expect(w.findAll('slice-view-stub')).toHaveLength(1);

    window.dispatchEvent(new KeyboardEvent('keydown', { key: '?', bubbles: true }));
    await flushPromises();
    expect(w.find('[data-testid="help-overlay"]').text()).toMatch(/L\s*One view \/ two views side by side/);
    w.unmount();
  });
});
