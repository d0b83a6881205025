import { defineStore } from 'pinia';
import { computed, markRaw, ref, shallowRef, watch } from 'vue';
import { describeApiError, useClient } from '../api/index.js';
import { centreOf, indexToLps, type SliceCamera, type VolumeGeometry } from '../viewer/geometry.js';
import { decodeVoxels, windowFromPercentiles, type Dtype, type TypedArray } from '../viewer/voxels.js';

export type ToolName = 'navigate' | 'brush' | 'eraser' | 'fill' | 'polygon' | 'inspect';

export interface WindowPreset {
  id: string;
  name: string;
  /** Percentiles of the frame's intensities the window spans. */
  range: [number, number];
}

/** MRI has no fixed units, so presets are percentile ranges of the frame rather than absolute values. */
export const WINDOW_PRESETS: WindowPreset[] = [
  { id: 'auto', name: 'Auto (1–99 %)', range: [1, 99] },
  { id: 'soft', name: 'Soft (0.5–99.9 %)', range: [0.5, 99.9] },
  { id: 'contrast', name: 'High contrast (5–95 %)', range: [5, 95] },
  { id: 'full', name: 'Full range', range: [0, 100] },
];

export interface CursorInfo {
  i: number;
  j: number;
  k: number;
  value: number | null;
  lps: [number, number, number];
}

/** The views of the 1x1 and 1x2 layouts. `main` always exists and shows the volume selected in the study list. */
export type ViewId = 'main' | 'second';
export type Layout = '1x1' | '1x2';

/**
 * One view's own state. Volume data are not here: they live once per volume in the store's cache, so two
 * views of the same volume share its decoded frames.
 */
export interface ViewState {
  id: ViewId;
  /** The volume this view shows; null: the main view's volume (follows the study list). */
  volumeId: string | null;
  frame: number;
  slice: number;
  windowWidth: number;
  windowLevel: number;
  camera: SliceCamera;
  /** Draw the edited annotation (only where the view shows the annotated volume). */
  showLabels: boolean;
  /** Draw the reference annotation (ground truth, a prediction). */
  showReference: boolean;
  loading: boolean;
  error: string | null;
}

interface LoadedVolume {
  geometry: VolumeGeometry;
  dtype: Dtype;
  frames: Map<number, TypedArray>;
}

function blankView(id: ViewId): ViewState {
  return {
    id, volumeId: null, frame: 0, slice: 0, windowWidth: 1, windowLevel: 0, camera: { zoom: 1, center: [0, 0] },
    showLabels: true, showReference: true, loading: false, error: null,
  };
}

/**
 * What the slice viewer shows, normalised VolView-style: views keyed by id (slice, frame, window/level,
 * camera, which overlays) over a cache of loaded volumes (geometry and decoded frames, kept raw, never made
 * reactive). The tool, brush and threshold belong to the workstation, not to a view.
 *
 * The top-level `frame`, `slice`, `windowWidth`, `windowLevel`, `camera`, `image` and the actions without a
 * view id address the *focused* view: the active view (the one last used) when it shows the annotated
 * volume, else the main view. Panels that act on "the open volume" (training, review) keep working
 * unchanged whatever the second view shows.
 */
export const useViewerStore = defineStore('viewer', () => {
  const views = ref<Record<ViewId, ViewState>>({ main: blankView('main'), second: blankView('second') });
  const layout = ref<Layout>('1x1');
  const activeViewId = ref<ViewId>('main');
  /** Scrolling one view moves the other to the same slice index. */
  const linkSlices = ref(true);
  const loaded = shallowRef<Map<string, LoadedVolume>>(markRaw(new Map()));
  const tool = ref<ToolName>('navigate');
  const brushMm = ref(3);
  const threshold = ref({ enabled: false, min: 0, max: 0 });
  const cursor = ref<CursorInfo | null>(null);
  const playing = ref(false);
  const fps = ref(10);
  /** Bumped when a volume or frame finishes loading, so views re-read their image. */
  const frameRevision = ref(0);
  let timer: ReturnType<typeof setInterval> | null = null;
  const openSeq: Record<ViewId, number> = { main: 0, second: 0 };

  const viewIds = computed<ViewId[]>(() => (layout.value === '1x2' ? ['main', 'second'] : ['main']));
  const volumeId = computed(() => views.value.main.volumeId);
  const volumeOf = (id: ViewId): string | null => views.value[id].volumeId ?? views.value.main.volumeId;
  function volumeData(id: ViewId): LoadedVolume | null {
    void frameRevision.value;
    const vid = volumeOf(id);
    return vid ? (loaded.value.get(vid) ?? null) : null;
  }
  const geometryOf = (id: ViewId): VolumeGeometry | null => volumeData(id)?.geometry ?? null;
  function imageOf(id: ViewId): TypedArray | null {
    return volumeData(id)?.frames.get(views.value[id].frame) ?? null;
  }
  /** Whether the view shows the volume the annotation store edits (tools and label overlays work there). */
  const showsMainVolume = (id: ViewId): boolean => !!volumeOf(id) && volumeOf(id) === volumeId.value;

  const focusId = computed<ViewId>(() =>
    viewIds.value.includes(activeViewId.value) && showsMainVolume(activeViewId.value) ? activeViewId.value : 'main',
  );
  const focus = computed(() => views.value[focusId.value]);
  const geometry = computed(() => geometryOf('main'));
  const dtype = computed<Dtype>(() => volumeData('main')?.dtype ?? 'int16');
  const loading = computed(() => views.value.main.loading);
  const error = computed(() => views.value.main.error);
  const image = computed(() => imageOf(focusId.value));
  const sliceCount = computed(() => geometry.value?.dims[2] ?? 0);
  const frameCount = computed(() => geometry.value?.frames ?? 0);

  // Writable aliases of the focused view's state, for the panels written before views had ids.
  const frame = computed({ get: () => focus.value.frame, set: (f: number) => void setFrame(f) });
  const slice = computed({ get: () => focus.value.slice, set: (k: number) => setSlice(k) });
  const windowWidth = computed({ get: () => focus.value.windowWidth, set: (w: number) => setWindow(w, focus.value.windowLevel) });
  const windowLevel = computed({ get: () => focus.value.windowLevel, set: (l: number) => setWindow(focus.value.windowWidth, l) });
  const camera = computed({ get: () => focus.value.camera, set: (c: SliceCamera) => void (focus.value.camera = c) });

  async function readFrame(vid: string, f: number): Promise<{ values: TypedArray; geometry: VolumeGeometry; dtype: Dtype }> {
    const r = await useClient().call('library.readVolume', { volumeId: vid, frame: f });
    const values = markRaw(decodeVoxels(r.data, r.dtype, r.dims[0] * r.dims[1] * r.dims[2]));
    return { values, dtype: r.dtype, geometry: { dims: r.dims, spacing: r.spacing, origin: r.origin, direction: r.direction, frames: r.frames } };
  }

  /** Put a view on a volume: its first frame, the middle slice (or the linked one), a fitted camera, auto window. */
  async function load(id: ViewId, vid: string): Promise<void> {
    const seq = ++openSeq[id];
    const v = views.value[id];
    v.loading = true;
    v.error = null;
    if (id === activeViewId.value || id === 'main') cursor.value = null;
    try {
      let vol = loaded.value.get(vid);
      if (!vol) {
        const r = await readFrame(vid, 0);
        if (seq !== openSeq[id]) return;
        vol = loaded.value.get(vid) ?? markRaw({ geometry: r.geometry, dtype: r.dtype, frames: new Map([[0, r.values]]) });
        loaded.value.set(vid, vol);
      }
      const g = vol.geometry;
      const other = id === 'main' ? views.value.second : views.value.main;
      const linked = linkSlices.value && layout.value === '1x2' && id === 'second' && geometryOf('main')?.dims[2] === g.dims[2];
      v.frame = 0;
      v.slice = linked ? other.slice : Math.floor(g.dims[2] / 2);
      v.camera = { zoom: 1, center: centreOf(g) };
      frameRevision.value++;
      applyPreset('auto', id);
      if (id === 'main') {
        const range = windowFromPercentiles(vol.frames.get(0)!, 1, 99);
        threshold.value = { enabled: false, min: range.level - range.width / 4, max: range.level + range.width / 2 };
      }
    } catch (err) {
      if (seq === openSeq[id]) v.error = describeApiError(err, 'Could not open the volume');
    } finally {
      if (seq === openSeq[id]) v.loading = false;
    }
  }

  /** Volumes no view shows any more are dropped from the cache. */
  function evict(): void {
    const used = new Set(viewIds.value.map(volumeOf).filter((x): x is string => !!x));
    for (const vid of [...loaded.value.keys()]) if (!used.has(vid)) loaded.value.delete(vid);
  }

  async function open(id: string): Promise<void> {
    pause();
    views.value.main.volumeId = id;
    evict();
    const jobs = [load('main', id)];
    // A second view that follows the main one starts over on the new volume too.
    if (layout.value === '1x2' && views.value.second.volumeId === null) jobs.push(load('second', id));
    await Promise.all(jobs);
  }

  function close(): void {
    openSeq.main++;
    openSeq.second++;
    pause();
    views.value = { main: blankView('main'), second: { ...blankView('second'), showLabels: views.value.second.showLabels, showReference: views.value.second.showReference } };
    loaded.value = markRaw(new Map());
    cursor.value = null;
    frameRevision.value++;
  }

  /** Show another volume in a view (null: the main view's volume again). */
  async function setViewVolume(id: ViewId, vid: string | null): Promise<void> {
    if (id === 'main') {
      if (vid) await open(vid);
      return;
    }
    views.value[id].volumeId = vid && vid !== volumeId.value ? vid : null;
    evict();
    const target = volumeOf(id);
    if (target) await load(id, target);
  }

  /**
   * Switch between one view and two side by side. The second view starts on the main view's volume, slice and
   * window, without the overlays: the image next to the same image with its annotation or prediction.
   */
  function setLayout(next: Layout): void {
    if (next === layout.value) return;
    layout.value = next;
    if (next === '1x1') {
      openSeq.second++;
      views.value.second = { ...blankView('second'), showLabels: false, showReference: false };
      activeViewId.value = 'main';
      evict();
      return;
    }
    const m = views.value.main;
    views.value.second = { ...m, id: 'second', volumeId: null, camera: { ...m.camera }, showLabels: false, showReference: false, loading: false, error: null };
  }

  function setActiveView(id: ViewId): void {
    if (viewIds.value.includes(id)) activeViewId.value = id;
  }

  async function setFrame(f: number, id: ViewId = focusId.value): Promise<void> {
    const vol = volumeData(id);
    const vid = volumeOf(id);
    if (!vol || !vid) return;
    const n = vol.geometry.frames;
    const next = ((Math.round(f) % n) + n) % n;
    const v = views.value[id];
    v.frame = next;
    if (vol.frames.has(next)) return;
    const seq = openSeq[id];
    try {
      const r = await readFrame(vid, next);
      // Still the same volume (a view may have moved on while the frame was on its way).
      if (loaded.value.get(vid) === vol && seq === openSeq[id]) {
        vol.frames.set(next, r.values);
        frameRevision.value++;
      }
    } catch (err) {
      v.error = describeApiError(err, `Could not read frame ${next + 1}`);
      pause();
    }
  }

  function setSlice(k: number, id: ViewId = focusId.value): void {
    const n = geometryOf(id)?.dims[2] ?? 0;
    if (!n) return;
    const want = Math.min(n - 1, Math.max(0, Math.round(k)));
    const step = want - views.value[id].slice;
    views.value[id].slice = want;
    if (!linkSlices.value) return;
    for (const t of viewIds.value) {
      const m = geometryOf(t)?.dims[2] ?? 0;
      if (t === id || !m) continue;
      // Same slice count (the same volume, or ED and ES of one cine): the same index; otherwise the same step.
      const next = m === n ? want : views.value[t].slice + step;
      views.value[t].slice = Math.min(m - 1, Math.max(0, next));
    }
  }

  function setWindow(width: number, level: number, id: ViewId = focusId.value): void {
    const v = views.value[id];
    v.windowWidth = Math.max(width, 1e-6);
    v.windowLevel = level;
  }

  function applyPreset(presetId: string, id: ViewId = focusId.value): void {
    const p = WINDOW_PRESETS.find((x) => x.id === presetId);
    const values = imageOf(id) ?? volumeData(id)?.frames.get(0);
    if (!p || !values) return;
    const w = windowFromPercentiles(values, p.range[0], p.range[1]);
    setWindow(w.width, w.level, id);
  }

  function zoomBy(factor: number, id: ViewId = focusId.value): void {
    const v = views.value[id];
    v.camera = { ...v.camera, zoom: Math.min(40, Math.max(0.2, v.camera.zoom * factor)) };
  }

  function panBy(dxMm: number, dyMm: number, id: ViewId = focusId.value): void {
    const v = views.value[id];
    v.camera = { ...v.camera, center: [v.camera.center[0] + dxMm, v.camera.center[1] + dyMm] };
  }

  function resetCamera(id: ViewId = focusId.value): void {
    const g = geometryOf(id);
    if (g) views.value[id].camera = { zoom: 1, center: centreOf(g) };
  }

  function pointAt(i: number, j: number, id: ViewId = focusId.value): void {
    const g = geometryOf(id);
    if (!g) return;
    const ii = Math.round(i);
    const jj = Math.round(j);
    const k = views.value[id].slice;
    const insideGrid = ii >= 0 && jj >= 0 && ii < g.dims[0] && jj < g.dims[1];
    const values = imageOf(id);
    const value = insideGrid && values ? values[ii + jj * g.dims[0] + k * g.dims[0] * g.dims[1]]! : null;
    cursor.value = insideGrid ? { i: ii, j: jj, k, value, lps: indexToLps(g, [ii, jj, k]) } : null;
  }

  /** Play the cine in the focused view (the other view keeps its frame: ED next to a beating heart). */
  function play(): void {
    const id = focusId.value;
    const g = geometryOf(id);
    if (!g || g.frames < 2 || timer) return;
    playing.value = true;
    timer = setInterval(() => void setFrame(views.value[id].frame + 1, id), 1000 / Math.max(1, fps.value));
  }

  function pause(): void {
    playing.value = false;
    if (timer) clearInterval(timer);
    timer = null;
  }

  watch(fps, () => {
    if (timer) {
      pause();
      play();
    }
  });

  return {
    views, layout, activeViewId, linkSlices, viewIds, focusId,
    volumeId, geometry, dtype, frame, slice, windowWidth, windowLevel, camera, tool, brushMm, threshold, cursor, playing, fps,
    loading, error, image, sliceCount, frameCount, frameRevision,
    volumeOf, geometryOf, imageOf, showsMainVolume,
    open, close, setViewVolume, setLayout, setActiveView,
    setFrame, setSlice, setWindow, applyPreset, zoomBy, panBy, resetCamera, pointAt, play, pause,
  };
});
