import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPinia, setActivePinia, type Pinia } from 'pinia';
import { createEngine } from '../../../main/engine/create.js';
import type { Engine } from '../../../main/engine/engine.js';
import { writeNifti } from '../../../main/io/nifti.js';
import { EngineClient, provideClient } from '../../../renderer/api/index.js';
import { LoopbackTransport } from './loopback.js';

export interface PanelWorkspace {
  engine: Engine;
  workspace: string;
  pinia: Pinia;
  /** Removes the workspace and the source folder. */
  dispose(): void;
}

/** A test volume: axis-aligned at the origin; frames 1 and spacing 1 × 1 × 5 mm unless given. */
export interface FixtureVolume {
  dims: [number, number, number];
  frames?: number;
  spacing?: [number, number, number];
  data: Int16Array;
}

/** One 4×3×2 volume (two slices: one trains, one validates): what the training panels stand on. */
const TWO_SLICES: Record<string, FixtureVolume> = { 'vol.nii.gz': { dims: [4, 3, 2], data: Int16Array.from({ length: 24 }, (_, n) => n) } };

/**
 * A real engine on a fresh workspace holding the given volumes (file name → volume), imported, reached by the
 * renderer's client through the loopback transport, with a fresh active Pinia: what the panels' and viewer
 * stores' component tests stand on.
 */
export async function panelWorkspace(name: string, volumes: Record<string, FixtureVolume> = TWO_SLICES): Promise<PanelWorkspace> {
  const src = mkdtempSync(join(tmpdir(), `pix2rep-${name}-src-`));
  const workspace = mkdtempSync(join(tmpdir(), `pix2rep-${name}-ws-`));
  for (const [file, v] of Object.entries(volumes)) {
    await writeNifti(join(src, file), {
      dims: v.dims,
      frames: v.frames ?? 1,
      spacing: v.spacing ?? [1, 1, 5],
      origin: [0, 0, 0],
      direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
      data: v.data,
    });
  }
  const engine = createEngine({ workspace });
  await engine.call('library.import', { paths: [src] });
  provideClient(new EngineClient(new LoopbackTransport(engine)));
  const pinia = createPinia();
  setActivePinia(pinia);
  return {
    engine,
    workspace,
    pinia,
    dispose() {
      for (const d of [src, workspace]) rmSync(d, { recursive: true, force: true });
    },
  };
}
