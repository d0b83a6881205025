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

/**
 * A real engine on a fresh workspace holding one imported 4×3×2 volume (two slices: one trains, one validates),
 * reached by the renderer's client through the loopback transport, with a fresh active Pinia: what the training
 * panels' component tests stand on.
 */
export async function panelWorkspace(name: string): Promise<PanelWorkspace> {
  const src = mkdtempSync(join(tmpdir(), `pix2rep-${name}-src-`));
  const workspace = mkdtempSync(join(tmpdir(), `pix2rep-${name}-ws-`));
  await writeNifti(join(src, 'vol.nii.gz'), {
    dims: [4, 3, 2],
    frames: 1,
    spacing: [1, 1, 5],
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    data: Int16Array.from({ length: 24 }, (_, n) => n),
  });
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
