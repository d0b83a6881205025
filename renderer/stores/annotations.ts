import { defineStore } from 'pinia';
import { computed, markRaw, ref, shallowRef } from 'vue';
import type { LabelSpec } from '../../main/contract/index.js';
import { ApiError, describeApiError, useClient } from '../api/index.js';
import { SliceEdit, applyDiff, type SliceDiff } from '../tools/edit.js';
import { labelBorders } from '../tools/borders.js';
import { interpolateSlice } from '../tools/distance.js';
import type { SliceGrid } from '../tools/grid.js';
import { EditHistory, type EditCommand, type MarkChange } from '../tools/history.js';
import { base64ToBytes, bytesToBase64 } from '../viewer/voxels.js';

export interface LabelRecord extends LabelSpec {
  visible: boolean;
}

/** ACDC's values, so imported ground truth and drawings share one palette. */
export const DEFAULT_PALETTE: LabelSpec[] = [
  { value: 1, name: 'RV', color: '#e6194b' },
  { value: 2, name: 'MYO', color: '#3cb44b' },
  { value: 3, name: 'LV', color: '#4363d8' },
];

const SAVE_DELAY_MS = 500;
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;
const TRANSIENT = new Set<string>(['DISCONNECTED', 'INTERNAL', 'BAD_RESPONSE']);
const EXTRA_COLOURS = ['#f58231', '#911eb4', '#46f0f0', '#f032e6', '#bcf60c', '#fabebe', '#008080', '#e6beff', '#9a6324'];

export type SaveState = 'saved' | 'pending' | 'saving' | 'error';

/**
 * The label map being drawn on the open volume: per-frame uint8 arrays (raw, edited in place by the tools),
 * the palette, the annotated slices, the undo history, and saving. Every edit is saved through the
 * contract within about half a second; the engine writes it atomically.
 */
export const useAnnotationsStore = defineStore('annotations', () => {
  const volumeId = ref<string | null>(null);
  const annotationId = ref<string | null>(null);
  const dims = ref<[number, number, number]>([0, 0, 0]);
  const frameCount = ref(1);
  const maps = shallowRef<Map<number, Uint8Array>>(markRaw(new Map()));
  /** Bumped on every change of voxels, so views re-upload the label texture. */
  const revision = ref(0);
  const labels = ref<Record<number, LabelRecord>>({});
  const labelOrder = ref<number[]>([]);
  const activeLabel = ref(1);
  const opacity = ref(0.5);
  const outline = ref(false);
  /** frame → sorted annotated slice indices. */
  const annotated = ref<Record<number, number[]>>({});
  const saveState = ref<SaveState>('saved');
  const saveError = ref<string | null>(null);
  /** A read-only annotation shown under the edited one (imported ground truth, a prediction). */
  const reference = ref<{ id: string; source: string } | null>(null);
  const refMaps = shallowRef<Map<number, Uint8Array>>(markRaw(new Map()));
  /** The reference's label boundaries per frame: what the view draws. */
  const refBorders = shallowRef<Map<number, Uint8Array>>(markRaw(new Map()));
  const refRevision = ref(0);
  const refError = ref<string | null>(null);
  const history = markRaw(new EditHistory());
  const historySize = ref({ undo: 0, redo: 0 });
  let stroke: { edit: SliceEdit; name: string } | null = null;
  const dirty = new Map<number, Set<number>>();
  const dirtyAnnotated = new Set<number>();
  let paletteDirty = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let saving: Promise<void> | null = null;
  let retryMs = RETRY_FIRST_MS;
  let openSeq = 0;

  const palette = computed(() => labelOrder.value.map((v) => labels.value[v]).filter((l): l is LabelRecord => !!l));
  const sliceLen = computed(() => dims.value[0] * dims.value[1]);

  function setPalette(list: LabelSpec[]): void {
    const recs: Record<number, LabelRecord> = {};
    for (const l of list) recs[l.value] = { ...l, visible: labels.value[l.value]?.visible ?? true };
    labels.value = recs;
    labelOrder.value = list.map((l) => l.value);
    if (!recs[activeLabel.value] && list[0]) activeLabel.value = list[0].value;
  }

  /** Open the volume's manual annotation (the latest), or an empty one saved on the first edit. */
  async function open(id: string, volumeDims: [number, number, number], frames: number, manualId: string | null): Promise<void> {
    await flush();
    const seq = ++openSeq;
    volumeId.value = id;
    annotationId.value = manualId;
    dims.value = volumeDims;
    frameCount.value = frames;
    maps.value = markRaw(new Map());
    reference.value = null;
    refMaps.value = markRaw(new Map());
    refBorders.value = markRaw(new Map());
    refError.value = null;
    annotated.value = {};
    history.clear();
    historySize.value = history.size;
    saveState.value = 'saved';
    saveError.value = null;
    setPalette(DEFAULT_PALETTE);
    await ensureFrame(0, seq);
  }

  async function ensureFrame(frame: number, seq = openSeq): Promise<Uint8Array | null> {
    const have = maps.value.get(frame);
    if (have) return have;
    const n = sliceLen.value * dims.value[2];
    let data: Uint8Array = new Uint8Array(n);
    if (annotationId.value) {
      try {
        const r = await useClient().call('library.readAnnotation', { annotationId: annotationId.value, frame });
        if (seq !== openSeq) return null;
        const bytes = base64ToBytes(r.data);
        if (bytes.length !== n) throw new Error(`annotation frame holds ${bytes.length} voxels, the volume ${n}`);
        data = bytes;
        if (r.labels.length) setPalette(r.labels);
        const byFrame: Record<number, number[]> = {};
        for (const [f, k] of r.annotatedSlices) (byFrame[f] ??= []).push(k);
        annotated.value = { ...byFrame, ...pendingAnnotated() };
      } catch (err) {
        saveError.value = describeApiError(err, 'Could not read the annotation');
        saveState.value = 'error';
      }
    }
    if (seq !== openSeq) return null;
    if (!maps.value.has(frame)) maps.value.set(frame, markRaw(data));
    revision.value++;
    return maps.value.get(frame)!;
  }

  /** Show another annotation of the volume (or none) as a read-only outline. */
  async function setReference(target: { id: string; source: string } | null, frame: number): Promise<void> {
    reference.value = target;
    refMaps.value = markRaw(new Map());
    refBorders.value = markRaw(new Map());
    refError.value = null;
    refRevision.value++;
    if (target) await ensureReferenceFrame(frame);
  }

  async function ensureReferenceFrame(frame: number): Promise<Uint8Array | null> {
    const r = reference.value;
    if (!r) return null;
    const have = refMaps.value.get(frame);
    if (have) return have;
    try {
      const res = await useClient().call('library.readAnnotation', { annotationId: r.id, frame });
      if (reference.value?.id !== r.id) return null;
      const bytes = base64ToBytes(res.data);
      if (bytes.length !== sliceLen.value * dims.value[2]) throw new Error(`reference frame holds ${bytes.length} voxels, the volume ${sliceLen.value * dims.value[2]}`);
      refMaps.value.set(frame, markRaw(bytes));
      refBorders.value.set(frame, markRaw(labelBorders(bytes, dims.value)));
      refRevision.value++;
      return bytes;
    } catch (err) {
      refError.value = describeApiError(err, 'Could not read the reference annotation');
      return null;
    }
  }

  /**
   * Copy the reference's labels on one frame into the edited annotation (one undoable command); slices
   * that receive labels become annotated. Returns how many slices changed. `only` limits it to some slices
   * (accepting a prediction slice by slice).
   */
  function copyReference(frame: number, only?: readonly number[]): number {
    end();
    const src = refMaps.value.get(frame);
    const dst = maps.value.get(frame);
    if (!src || !dst) return 0;
    const diffs: SliceDiff[] = [];
    for (let k = 0; k < dims.value[2]; k++) {
      if (only && !only.includes(k)) continue;
      const from = src.subarray(k * sliceLen.value, (k + 1) * sliceLen.value);
      if (!from.some((v) => v !== 0)) continue;
      const edit = new SliceEdit(sliceOf(frame, k)!, frame, k);
      for (let i = 0; i < from.length; i++) if (from[i] !== edit.slice[i]) edit.set(i, from[i]!);
      const d = edit.finish();
      if (d) diffs.push(d);
    }
    if (diffs.length === 0) return 0;
    history.push({ name: 'copy reference', diffs, marks: markDrawn(diffs) });
    historySize.value = history.size;
    touched(diffs);
    return diffs.length;
  }

  function pendingAnnotated(): Record<number, number[]> {
    const out: Record<number, number[]> = {};
    for (const f of dirtyAnnotated) out[f] = annotated.value[f] ?? [];
    return out;
  }

  function sliceOf(frame: number, k: number): Uint8Array | null {
    const m = maps.value.get(frame);
    return m ? m.subarray(k * sliceLen.value, (k + 1) * sliceLen.value) : null;
  }

  /**
   * A slice as far as finished edits go: a save that fires while a stroke is being drawn on that slice writes
   * it without the stroke, which is saved whole once it ends. A crash then loses at most that stroke.
   */
  function committedSlice(frame: number, k: number): Uint8Array {
    const e = stroke?.edit;
    return e && e.frame === frame && e.k === k ? e.original() : sliceOf(frame, k)!;
  }

  function isAnnotated(frame: number, k: number): boolean {
    return (annotated.value[frame] ?? []).includes(k);
  }

  function setAnnotated(frame: number, k: number, on: boolean): void {
    const cur = annotated.value[frame] ?? [];
    if (cur.includes(k) === on) return;
    annotated.value = { ...annotated.value, [frame]: on ? [...cur, k].sort((a, b) => a - b) : cur.filter((x) => x !== k) };
    dirtyAnnotated.add(frame);
    schedule();
  }

  /** Start an edit of one slice; tools write through `edit.set`. Returns null when the frame is not loaded. */
  function begin(frame: number, k: number, name: string): SliceEdit | null {
    end();
    const s = sliceOf(frame, k);
    if (!s) return null;
    stroke = { edit: new SliceEdit(s, frame, k), name };
    return stroke.edit;
  }

  function currentEdit(): SliceEdit | null {
    return stroke?.edit ?? null;
  }

  /** The slice changed under an edit in progress: show it now, record it at `end`. */
  function changed(): void {
    revision.value++;
  }

  function end(): void {
    if (!stroke) return;
    const { edit, name } = stroke;
    stroke = null;
    const diff = edit.finish();
    if (!diff) return;
    history.push({ name, diffs: [diff], marks: markDrawn([diff]) });
    historySize.value = history.size;
    touched([diff]);
  }

  /**
   * A slice someone drew on is an annotated slice: mark it, and return the marks made so that undoing the
   * drawing unmarks it again. Unmarking by hand stays possible.
   */
  function markDrawn(diffs: SliceDiff[]): MarkChange[] {
    const marks: MarkChange[] = [];
    for (const d of diffs) {
      if (isAnnotated(d.frame, d.k) || !d.after.some((v) => v !== 0)) continue;
      setAnnotated(d.frame, d.k, true);
      marks.push({ frame: d.frame, k: d.k, before: false, after: true });
    }
    return marks;
  }

  function touched(diffs: SliceDiff[]): void {
    for (const d of diffs) {
      let set = dirty.get(d.frame);
      if (!set) dirty.set(d.frame, (set = new Set()));
      set.add(d.k);
    }
    revision.value++;
    schedule();
  }

  function replay(cmd: EditCommand | null, side: 'before' | 'after'): EditCommand | null {
    if (!cmd) return null;
    for (const d of cmd.diffs) {
      const s = sliceOf(d.frame, d.k);
      if (s) applyDiff(s, d, side);
    }
    for (const m of cmd.marks ?? []) setAnnotated(m.frame, m.k, m[side]);
    historySize.value = history.size;
    touched(cmd.diffs);
    return cmd;
  }

  /**
   * Fill the unannotated slices between consecutive annotated ones of a frame by shape-based
   * interpolation, as one undoable command. The filled slices stay unmarked: nobody has checked them yet.
   * Returns how many slices changed.
   */
  function fillBetween(frame: number, grid: SliceGrid): number {
    end();
    const ks = annotated.value[frame] ?? [];
    const diffs: SliceDiff[] = [];
    for (let n = 0; n + 1 < ks.length; n++) {
      const ka = ks[n]!;
      const kb = ks[n + 1]!;
      const a = sliceOf(frame, ka);
      const b = sliceOf(frame, kb);
      if (!a || !b) continue;
      for (let k = ka + 1; k < kb; k++) {
        const target = sliceOf(frame, k)!;
        const edit = new SliceEdit(target, frame, k);
        const next = interpolateSlice(a, b, (k - ka) / (kb - ka), grid);
        for (let i = 0; i < next.length; i++) if (target[i] !== next[i]) edit.set(i, next[i]!);
        const d = edit.finish();
        if (d) diffs.push(d);
      }
    }
    if (diffs.length === 0) return 0;
    history.push({ name: 'fill between slices', diffs });
    historySize.value = history.size;
    touched(diffs);
    return diffs.length;
  }

  const undo = () => (end(), replay(history.undo(), 'before'));
  const redo = () => (end(), replay(history.redo(), 'after'));

  function renameLabel(value: number, name: string): void {
    const l = labels.value[value];
    if (!l) return;
    labels.value = { ...labels.value, [value]: { ...l, name: name.slice(0, 100) } };
    paletteChanged();
  }

  function recolourLabel(value: number, color: string): void {
    const l = labels.value[value];
    if (!l || !/^#[0-9a-fA-F]{6}$/.test(color)) return;
    labels.value = { ...labels.value, [value]: { ...l, color } };
    paletteChanged();
  }

  function toggleLabel(value: number): void {
    const l = labels.value[value];
    if (l) labels.value = { ...labels.value, [value]: { ...l, visible: !l.visible } };
  }

  function addLabel(): number | null {
    const used = new Set(labelOrder.value);
    let value = 1;
    while (used.has(value) && value <= 255) value++;
    if (value > 255) return null;
    const color = EXTRA_COLOURS[(value - 1) % EXTRA_COLOURS.length]!;
    labels.value = { ...labels.value, [value]: { value, name: `Label ${value}`, color, visible: true } };
    labelOrder.value = [...labelOrder.value, value];
    activeLabel.value = value;
    paletteChanged();
    return value;
  }

  function paletteChanged(): void {
    paletteDirty = true;
    schedule();
  }

  function schedule(): void {
    saveState.value = 'pending';
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      void flush();
    }, SAVE_DELAY_MS);
  }

  /** Save every pending change now (one request per frame, one at a time). */
  async function flush(): Promise<void> {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    while (saving) await saving;
    if (!volumeId.value || (dirty.size === 0 && dirtyAnnotated.size === 0 && !paletteDirty)) return;
    saving = (async () => {
      const vid = volumeId.value!;
      const framesToSave = new Set([...dirty.keys(), ...dirtyAnnotated]);
      if (framesToSave.size === 0) framesToSave.add(0);
      saveState.value = 'saving';
      try {
        for (const frame of framesToSave) {
          const ks = [...(dirty.get(frame) ?? [])];
          const withAnnotated = dirtyAnnotated.has(frame);
          dirty.delete(frame);
          dirtyAnnotated.delete(frame);
          const withPalette = paletteDirty;
          paletteDirty = false;
          try {
            const r = await useClient().call('library.saveAnnotation', {
              volumeId: vid,
              ...(annotationId.value ? { annotationId: annotationId.value } : {}),
              frame,
              slices: ks.map((k) => ({ k, data: bytesToBase64(committedSlice(frame, k)) })),
              ...(withAnnotated ? { annotatedSlices: annotated.value[frame] ?? [] } : {}),
              ...(withPalette || !annotationId.value ? { labels: palette.value.map(({ value, name, color }) => ({ value, name, color })) } : {}),
            });
            if (volumeId.value === vid) annotationId.value = r.annotationId;
          } catch (err) {
            // Keep what failed pending so the next save retries it.
            const set = dirty.get(frame) ?? new Set<number>();
            for (const k of ks) set.add(k);
            if (set.size) dirty.set(frame, set);
            if (withAnnotated) dirtyAnnotated.add(frame);
            if (withPalette) paletteDirty = true;
            throw err;
          }
        }
        saveState.value = dirty.size || dirtyAnnotated.size ? 'pending' : 'saved';
        saveError.value = null;
        retryMs = RETRY_FIRST_MS;
      } catch (err) {
        saveState.value = 'error';
        saveError.value = describeApiError(err, 'Could not save the annotation');
        // An engine restarting or a dropped link heals by itself: try again, less and less often. A refusal
        // (unknown volume, bad input) will not change by waiting; the next edit tries again.
        if (err instanceof ApiError && TRANSIENT.has(err.code) && !timer) {
          timer = setTimeout(() => {
            timer = null;
            void flush();
          }, retryMs);
          retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
        }
      }
    })().finally(() => {
      saving = null;
    });
    await saving;
  }

  return {
    volumeId, annotationId, dims, maps, revision, labels, labelOrder, palette, activeLabel, opacity, outline, annotated,
    saveState, saveError, historySize, reference, refMaps, refBorders, refRevision, refError,
    setReference, ensureReferenceFrame, copyReference,
    open, ensureFrame, sliceOf, isAnnotated, setAnnotated, begin, currentEdit, changed, end, undo, redo, fillBetween,
    renameLabel, recolourLabel, toggleLabel, addLabel, flush, setPalette,
  };
});
