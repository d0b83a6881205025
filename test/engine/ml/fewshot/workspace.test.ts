import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/ml/backends/init.js';
import { openLibrary } from '../../../../main/library/library.js';
import { importPaths } from '../../../../main/library/import/pipeline.js';
import { saveAnnotation } from '../../../../main/library/annotations.js';
import { readNifti, readNiftiFile } from '../../../../main/io/nifti.js';
import { sliceOf } from '../../../../main/io/resample.js';
import { workspaceTrainingData, listModels, findModel, exportModel, importModel } from '../../../../main/ml/fewshot/library.js';
import { trainInWorkspace } from '../../../../main/ml/fewshot/service.js';
import { predictLibraryVolume } from '../../../../main/ml/infer/index.js';
import { predictCommand } from '../../../../main/cli/commands/predict.js';
import { dataPath, hasData } from '../../../support/data.js';

/**
 * The workspace path: a real ACDC image imported without labels, a drawn annotation on two slices only (a
 * partially annotated volume) whose label list names a fourth label no voxel uses; training counts exactly
 * those two slices and all four classes; the model is stored, predicts a `predicted` annotation recording
 * its id, exports and imports; `pix2rep predict` writes a file in the input's geometry.
 */
const TINY = { preset: 'custom' as const, unet: { levels: 2, base: 4, embedding: 8, inChannels: 1, normalization: 'batch' as const, bnMomentum: 0.1, bnEpsilon: 1e-5 }, head: { hidden: 8, out: 8 } };
const PRE = { spacingMm: 3, size: 32, clipPercentiles: [0.5, 99.5] as [number, number] };
const LABELS = [
  { value: 1, name: 'RV cavity', color: '#e6194b' },
  { value: 2, name: 'LV myocardium', color: '#3cb44b' },
  { value: 3, name: 'LV cavity', color: '#4363d8' },
  { value: 4, name: 'scar', color: '#ffe119' },
];

describe.skipIf(!hasData('acdc'))('few-shot training in a workspace', () => {
  let ws = '';
  let volumeId = '';
  const image = dataPath('acdc', 'training', 'patient001', 'patient001_frame01.nii.gz');
  beforeAll(async () => {
    await initBackend({ backend: 'cpu' });
    ws = mkdtempSync(join(tmpdir(), 'p2r-ws-'));
    const lib = openLibrary(ws);
    try {
      await importPaths(lib, { paths: [image] });
      volumeId = lib.catalog.listStudies()[0]!.series[0]!.volumes[0]!.id;
      const gt = await readNifti(dataPath('acdc', 'training', 'patient001', 'patient001_frame01_gt.nii.gz'));
      const partial = new Uint8Array(gt.data.length);
      for (const k of [3, 5]) {
        const src = sliceOf(gt, k);
        partial.set(src, k * src.length);
      }
      await saveAnnotation(lib, { volumeId, data: partial, source: 'manual', labels: LABELS });
    } finally {
      lib.close();
    }
  });
  afterAll(() => rmSync(ws, { recursive: true, force: true }));

  it('counts only the annotated slices and every class of the label list', async () => {
    const lib = openLibrary(ws);
    try {
      const d = await workspaceTrainingData(lib, PRE);
      expect(d.labeled.map((s) => s.k).sort()).toEqual([3, 5]);
      expect(d.classes).toEqual([1, 2, 3, 4]);
      expect(d.unlabeled?.slices.length).toBe(10);
      // Labels are class indices 0..4 at network size.
      expect(Math.max(...d.labeled[0]!.label)).toBeLessThanOrEqual(4);
      expect(d.labeled[0]!.label.length).toBe(32 * 32);
    } finally {
      lib.close();
    }
  });

  it('trains, stores, predicts into the library, exports and imports; the CLI writes the input geometry', async () => {
    const res = await trainInWorkspace(ws, { mode: 'supervised', name: 'tiny-sup', overrides: { model: TINY, preprocess: PRE, steps: 3, batch: 2, validateEvery: 2 } });
    expect(res.modelId).toMatch(/^model-/);
    expect(res.record.data).toMatchObject({ labeledSlices: 2, trainSlices: 1, validationSlices: 1 });
    expect(res.record.curves.loss).toHaveLength(3);
    const lib = openLibrary(ws);
    try {
      const row = findModel(lib, 'tiny-sup')!;
      expect(row).toMatchObject({ id: res.modelId, kind: 'supervised', status: 'ready' });
      expect(existsSync(join(ws, row.path!, 'model.p2s'))).toBe(true);
      expect(row.metrics).toMatchObject({ classes: [1, 2, 3, 4], mode: 'supervised' });

      const p = await predictLibraryVolume(lib, 'tiny-sup', volumeId);
      const ann = lib.catalog.annotation(p.annotationId)!;
      expect(ann).toMatchObject({ source: 'predicted', modelId: res.modelId });
      expect(ann.labels.map((l) => l.value)).toEqual([1, 2, 3, 4]);
      expect(p.labels.length).toBe(216 * 256 * 10);
      // A prediction never trains: still two labeled slices.
      expect((await workspaceTrainingData(lib, PRE)).labeled).toHaveLength(2);

      const out = mkdtempSync(join(tmpdir(), 'p2r-export-'));
      try {
        const dir = exportModel(lib, 'tiny-sup', out);
        const id2 = await importModel(lib, dir);
        expect(listModels(lib).map((m) => m.id)).toEqual(expect.arrayContaining([res.modelId, id2]));
        expect(findModel(lib, id2)).toMatchObject({ kind: 'supervised', name: 'tiny-sup' });
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    } finally {
      lib.close();
    }

    const outDir = join(ws, 'pred');
    const code = await predictCommand.run(['--model', res.modelId!, image, '--out', outDir, '--workspace', ws, '--json']);
    expect(code).toBe(0);
    const src = await readNiftiFile(image);
    const back = await readNiftiFile(join(outDir, 'patient001_frame01_pred.nii.gz'));
    expect(back.header.srow).toEqual(src.header.srow);
    expect(back.volume.dims).toEqual(src.volume.dims);
  }, 90_000);
});
