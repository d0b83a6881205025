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

/**
 * What the slice viewer shows: the open volume's geometry and decoded frames (kept raw, never made
 * reactive), the slice and frame, window/level, camera, the active tool and the cursor read-out.
 */
export const useViewerStore = defineStore('viewer', () => {
  const volumeId = ref<string | null>(null);
  const geometry = shallowRef<VolumeGeometry | null>(null);
  const dtype = ref<Dtype>('int16');
  const frames = shallowRef<Map<number, TypedArray>>(markRaw(new Map()));
  const frame = ref(0);
  const slice = ref(0);
  const windowWidth = ref(1);
  const windowLevel = ref(0);
  const camera = ref<SliceCamera>({ zoom: 1, center: [0, 0] });
  const tool = ref<ToolName>('navigate');
  const brushMm = ref(3);
  const threshold = ref({ enabled: false, min: 0, max: 0 });
  const cursor = ref<CursorInfo | null>(null);
  const playing = ref(false);
  const fps = ref(10);
  const loading = ref(false);
  const error = ref<string | null>(null);
  /** Bumped when a frame finishes loading, so views re-read `image`. */
  const frameRevision = ref(0);
  let timer: ReturnType<typeof setInterval> | null = null;
  let openSeq = 0;

  const image = computed<TypedArray | null>(() => {
    void frameRevision.value;
    return frames.value.get(frame.value) ?? null;
  });
  const sliceCount = computed(() => geometry.value?.dims[2] ?? 0);
  const frameCount = computed(() => geometry.value?.frames ?? 0);

  async function fetchFrame(id: string, f: number, seq: number): Promise<TypedArray | null> {
    const r = await useClient().call('library.readVolume', { volumeId: id, frame: f });
    if (seq !== openSeq) return null;
    const values = markRaw(decodeVoxels(r.data, r.dtype, r.dims[0] * r.dims[1] * r.dims[2]));
    frames.value.set(f, values);
    frameRevision.value++;
    return values;
  }

  async function open(id: string): Promise<void> {
    const seq = ++openSeq;
    pause();
    volumeId.value = id;
    loading.value = true;
    error.value = null;
    frames.value = markRaw(new Map());
    cursor.value = null;
    try {
      const r = await useClient().call('library.readVolume', { volumeId: id, frame: 0 });
      if (seq !== openSeq) return;
      const values = markRaw(decodeVoxels(r.data, r.dtype, r.dims[0] * r.dims[1] * r.dims[2]));
      frames.value.set(0, values);
      dtype.value = r.dtype;
      geometry.value = { dims: r.dims, spacing: r.spacing, origin: r.origin, direction: r.direction, frames: r.frames };
      frame.value = 0;
      slice.value = Math.floor(r.dims[2] / 2);
      camera.value = { zoom: 1, center: centreOf(r) };
      applyPreset('auto');
      const range = windowFromPercentiles(values, 1, 99);
      threshold.value = { enabled: false, min: range.level - range.width / 4, max: range.level + range.width / 2 };
      frameRevision.value++;
    } catch (err) {
      if (seq === openSeq) error.value = describeApiError(err, 'Could not open the volume');
    } finally {
      if (seq === openSeq) loading.value = false;
    }
  }

  function close(): void {
    openSeq++;
    pause();
    volumeId.value = null;
    geometry.value = null;
    frames.value = markRaw(new Map());
    cursor.value = null;
  }

  async function setFrame(f: number): Promise<void> {
    const g = geometry.value;
    const id = volumeId.value;
    if (!g || !id) return;
    const next = ((Math.round(f) % g.frames) + g.frames) % g.frames;
    frame.value = next;
    if (!frames.value.has(next)) {
      try {
        await fetchFrame(id, next, openSeq);
      } catch (err) {
        error.value = describeApiError(err, `Could not read frame ${next + 1}`);
        pause();
      }
    }
  }

  function setSlice(k: number): void {
    const n = sliceCount.value;
    if (!n) return;
    slice.value = Math.min(n - 1, Math.max(0, Math.round(k)));
  }

  function setWindow(width: number, level: number): void {
    windowWidth.value = Math.max(width, 1e-6);
    windowLevel.value = level;
  }

  function applyPreset(id: string): void {
    const p = WINDOW_PRESETS.find((x) => x.id === id);
    const values = image.value ?? frames.value.get(0);
    if (!p || !values) return;
    const w = windowFromPercentiles(values, p.range[0], p.range[1]);
    setWindow(w.width, w.level);
  }

  function zoomBy(factor: number): void {
    camera.value = { ...camera.value, zoom: Math.min(40, Math.max(0.2, camera.value.zoom * factor)) };
  }

  function panBy(dxMm: number, dyMm: number): void {
    camera.value = { ...camera.value, center: [camera.value.center[0] + dxMm, camera.value.center[1] + dyMm] };
  }

  function resetCamera(): void {
    if (geometry.value) camera.value = { zoom: 1, center: centreOf(geometry.value) };
  }

  function pointAt(i: number, j: number): void {
    const g = geometry.value;
    if (!g) return;
    const ii = Math.round(i);
    const jj = Math.round(j);
    const k = slice.value;
    const insideGrid = ii >= 0 && jj >= 0 && ii < g.dims[0] && jj < g.dims[1];
    const values = image.value;
    const value = insideGrid && values ? values[ii + jj * g.dims[0] + k * g.dims[0] * g.dims[1]]! : null;
    cursor.value = insideGrid ? { i: ii, j: jj, k, value, lps: indexToLps(g, [ii, jj, k]) } : null;
  }

  function play(): void {
    const g = geometry.value;
    if (!g || g.frames < 2 || timer) return;
    playing.value = true;
    timer = setInterval(() => void setFrame(frame.value + 1), 1000 / Math.max(1, fps.value));
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
    volumeId, geometry, dtype, frame, slice, windowWidth, windowLevel, camera, tool, brushMm, threshold, cursor, playing, fps,
    loading, error, image, sliceCount, frameCount, frameRevision,
    open, close, setFrame, setSlice, setWindow, applyPreset, zoomBy, panBy, resetCamera, pointAt, play, pause,
  };
});
