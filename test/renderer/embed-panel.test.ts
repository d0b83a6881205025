import { flushPromises, mount } from '@vue/test-utils';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPinia, setActivePinia } from 'pinia';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createEngine } from '../../main/engine/create.js';
import type { Engine } from '../../main/engine/engine.js';
import { writeNifti } from '../../main/io/nifti.js';
import { EngineClient, provideClient } from '../../renderer/api/index.js';
import EmbedPanel from '../../renderer/components/embed/EmbedPanel.vue';
import { againstOf, MAX_AGAINST, useEmbedStore } from '../../renderer/stores/embed.js';
import { useStudiesStore } from '../../renderer/stores/studies.js';
import { useViewerStore } from '../../renderer/stores/viewer.js';
import { saveUntrainedBackbone } from '../engine/embed/fixture.js';
import { useCpu } from '../engine/ml/cpu.js';
import { LoopbackTransport, settle } from './support/loopback.js';

describe('againstOf', () => {
  const q = { volumeId: 'a', frame: 0, slice: 2 };
  it('lists the chosen frames at the query slice, then other volumes’ slices, without the query slice or repeats', () => {
    expect(
      againstOf({
        ...q,
        againstFrames: [0, 3],
        againstSlices: [
          { volumeId: 'b', frame: 0, slice: 5 },
          { volumeId: 'a', frame: 3, slice: 2 },
          { volumeId: 'a', frame: 0, slice: 2 },
          { volumeId: 'b', frame: 0, slice: 5 },
          { volumeId: 'a', frame: 0, slice: 4 },
        ],
      }),
    ).toEqual([
      { volumeId: 'a', frame: 3, slice: 2 },
      { volumeId: 'b', frame: 0, slice: 5 },
      { volumeId: 'a', frame: 0, slice: 4 },
    ]);
  });

  it('stops at the contract’s limit', () => {
    const againstSlices = Array.from({ length: 40 }, (_, k) => ({ volumeId: 'b', frame: 0, slice: k }));
    const out = againstOf({ ...q, againstFrames: [1], againstSlices });
    expect(out).toHaveLength(MAX_AGAINST);
    expect(out[0]).toEqual({ volumeId: 'a', frame: 1, slice: 2 });
    expect(out[MAX_AGAINST - 1]).toEqual({ volumeId: 'b', frame: 0, slice: MAX_AGAINST - 2 });
  });
});

// A real engine on a temp workspace with two studies (a 2-frame disc phantom and a 1-frame, 3-slice ring
// phantom of another size) and an untrained tiny backbone; the panel runs against it, its projection part stubbed.
const S = 16;
let engine: Engine;
let dirs: string[] = [];
let first: string;
let second: string;

function phantom(dims: [number, number, number], frames: number, inside: (i: number, j: number, k: number, f: number) => boolean): Float32Array {
  const [ni, nj, nk] = dims;
  return Float32Array.from({ length: ni * nj * nk * frames }, (_, n) => {
    const i = n % ni;
    const j = Math.floor(n / ni) % nj;
    const k = Math.floor(n / (ni * nj)) % nk;
    const f = Math.floor(n / (ni * nj * nk));
    return inside(i, j, k, f) ? 100 : 10;
  });
}

beforeAll(async () => {
  await useCpu();
  const a = mkdtempSync(join(tmpdir(), 'pix2rep-embedpanel-a-'));
  const b = mkdtempSync(join(tmpdir(), 'pix2rep-embedpanel-b-'));
  const ws = mkdtempSync(join(tmpdir(), 'pix2rep-embedpanel-ws-'));
  dirs = [a, b, ws];
  const geometry = { spacing: [1.5, 1.5, 8] as [number, number, number], origin: [0, 0, 0] as [number, number, number], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] as const };
  await writeNifti(join(a, 'disc.nii.gz'), { dims: [S, S, 2], frames: 2, ...geometry, direction: [...geometry.direction], data: phantom([S, S, 2], 2, (i, j, _k, f) => Math.hypot(i - 7 - f, j - 8) < 4) });
  await writeNifti(join(b, 'ring.nii.gz'), {
    dims: [20, 18, 3],
    frames: 1,
    ...geometry,
    direction: [...geometry.direction],
    data: phantom([20, 18, 3], 1, (i, j) => Math.abs(Math.hypot(i - 10, j - 9) - 5) < 1.5),
  });
  await saveUntrainedBackbone(ws, { size: S, spacingMm: 1.5, seed: 1 });
  engine = createEngine({ workspace: ws });
  await engine.call('library.import', { paths: [a] });
  first = (await engine.call('library.listStudies', {})).studies[0]!.series[0]!.volumes[0]!.id;
  await engine.call('library.import', { paths: [b] });
  const all = (await engine.call('library.listStudies', {})).studies.flatMap((s) => s.series.flatMap((se) => se.volumes.map((v) => v.id)));
  second = all.find((id) => id !== first)!;
}, 120_000);

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let pinia: ReturnType<typeof createPinia>;
beforeEach(() => {
  provideClient(new EngineClient(new LoopbackTransport(engine)));
  pinia = createPinia();
  setActivePinia(pinia);
});

describe('the “against” picker offers other studies’ slices', () => {
  it('adds a slice of another study, shows its best match, and keeps the maps when that study is shown', async () => {
    const studies = useStudiesStore();
    await studies.refresh();
    const viewer = useViewerStore();
    await viewer.open(first);
    viewer.setSlice(1);
    const embed = useEmbedStore();
    const w = mount(EmbedPanel, { global: { plugins: [pinia], stubs: { EmbedProjection: true } }, attachTo: document.body });
    await settle(20);
    await flushPromises();
    // The panel lists the backbones when mounted.
    await vi.waitFor(() => expect(embed.modelId).toBe('models/tiny'), { timeout: 30_000 });

    // The picker lists the other study's volume, not the one on screen.
    const select = w.get('[data-testid="embed-pick-volume"]');
    const options = select.findAll('option').map((o) => o.element.value);
    expect(options).toEqual(['', second]);
    expect(select.text()).toContain('ring');
    await select.setValue(second);
    // Slice 2 of 2 here is the apical end: the picker starts at the same relative position, slice 3 of 3.
    expect((w.get('[data-testid="embed-pick-slice"]').element as HTMLInputElement).value).toBe('3');
    expect(w.find('[data-testid="embed-pick-frame"]').exists()).toBe(false);
    await w.get('[data-testid="embed-pick-slice"]').setValue(2);
    await w.get('[data-testid="embed-pick-add"]').trigger('click');
    expect(embed.againstSlices).toEqual([{ volumeId: second, frame: 0, slice: 1 }]);
    expect(w.get('[data-testid="embed-chosen"]').text()).toMatch(/ring.*frame 1, slice 2/);

    // A click on the disc: the maps of its own slice and of the ring study's slice 2, best match marked.
    await embed.ask({ volumeId: first, frame: 0, slice: 1, at: [7, 8] });
    await flushPromises();
    expect(embed.error).toBeNull();
    expect(embed.maps.map((m) => [m.volumeId, m.frame, m.slice, m.dims])).toEqual([
      [first, 0, 1, [S, S]],
      [second, 0, 1, [20, 18]],
    ]);
    const ring = embed.mapOf(second, 0, 1)!;
    const [bi, bj] = ring.best.at;
    expect(ring.values[bj * 20 + bi]).toBeCloseTo(Math.max(...ring.values), 5);
    const rows = w.findAll('[data-testid="embed-matches"] li');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.text()).toBe(`${rows[0]!.text().split(',')[0]}, frame 1, slice 2: best (${bi}, ${bj}) · ${ring.best.value.toFixed(3)}`);
    expect(rows[0]!.text()).toContain('ring');

    // Showing the match opens the other study at that slice, and the maps stay (its overlay and marker draw there).
    await rows[0]!.trigger('click');
    await settle(20);
    await flushPromises();
    expect(viewer.volumeId).toBe(second);
    expect(viewer.slice).toBe(1);
    expect(embed.maps).toHaveLength(2);
    expect(embed.query?.volumeId).toBe(first);
    // The frames offered are still the query volume's (the disc has 2), not the ring's (1).
    expect(w.findAll('[data-testid="embed-frames"] input')).toHaveLength(1);
    // The picker now offers the disc (the query's volume is excluded, the one on screen is not chosen twice).
    expect(w.get('[data-testid="embed-pick-volume"]').findAll('option').map((o) => o.element.value)).toEqual(['', second]);

    // Removing the slice drops it from the next answer.
    await w.get('[data-testid="embed-chosen"] button').trigger('click');
    expect(embed.againstSlices).toEqual([]);
    await embed.ask({ volumeId: first, frame: 0, slice: 1, at: [7, 8] });
    expect(embed.maps.map((m) => m.volumeId)).toEqual([first]);
    // Opening a volume the answer has no map of clears it; reopening the first volume asks afresh.
    await viewer.open(first);
    await flushPromises();
    expect(embed.maps).toHaveLength(1);
    w.unmount();
  }, 120_000);
});
