import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../../main/ml/backends/init.js';
import { readNiftiFile, writeNifti } from '../../../../main/io/nifti.js';
import { planSlice, sourceToNetwork } from '../../../../main/io/resample.js';
import type { Mat3, Volume } from '../../../../main/io/volume.js';
import { createSegmenter, disposeSegmenter } from '../../../../main/ml/fewshot/segmenter.js';
import { decodeModel, encodeModel } from '../../../../main/ml/fewshot/model-file.js';
import { disposeModel, loadedModel, predictNiftiFile, predictVolume, type LoadedModel } from '../../../../main/ml/infer/index.js';
import { fewShotConfig } from '../../../../main/ml/fewshot/config.js';
import type { TrainingRecord } from '../../../../main/ml/fewshot/train.js';
import { tf } from '../../../../main/ml/tf.js';

/**
 * Inference geometry. A model whose head ignores the features (weights 0, bias favouring class 2, label
 * value 7) predicts value 7 wherever the network field covers a voxel and background elsewhere, so the
 * expected label map follows from the plan alone: voxel (i, j) is inside iff its network position
 * sourceToNetwork(i, j) lies in [−0.5, size − 0.5)². Checked on an anisotropic, oblique 4D volume whose
 * extent exceeds the field along i only.
 */
const PRE = { spacingMm: 2.5, size: 32, clipPercentiles: [0.5, 99.5] as [number, number] };
const TINY = { unet: { levels: 2, base: 4, embedding: 8, inChannels: 1, normalization: 'batch' as const, bnMomentum: 0.1, bnEpsilon: 1e-5 }, head: { hidden: 8, out: 8 }, preset: 'custom' as const };

function record(): TrainingRecord {
  return {
    mode: 'supervised',
    backbone: null,
    data: { labeledSlices: 0, trainSlices: 0, validationSlices: 0, volumes: [], unlabeledSlices: 0 },
    config: fewShotConfig('supervised', { model: TINY, preprocess: PRE }),
    curves: { loss: [], validation: [] },
    validationDice: null,
    bestStep: 0,
    steps: 0,
    stopped: 'steps',
    seconds: 0,
    backend: 'test',
  };
}

describe('inference maps predictions back to the input grid', () => {
  let dir = '';
  let model: LoadedModel;
  const c = Math.SQRT1_2;
  const direction: Mat3 = [c, -c, 0, c, c, 0, 0, 0, 1];
  const volume: Volume = {
    dims: [70, 23, 3],
    frames: 2,
    spacing: [1.7, 0.8, 9],
    origin: [-12.5, 40.25, 3],
    direction,
    data: Int16Array.from({ length: 70 * 23 * 3 * 2 }, (_, n) => (n * 37) % 501),
  };
  beforeAll(async () => {
    await initBackend({ backend: 'cpu' });
    dir = mkdtempSync(join(tmpdir(), 'p2r-infer-'));
    const s = createSegmenter(TINY, [3, 7], 1);
    s.head.w.assign(tf.zerosLike(s.head.w));
    s.head.b.assign(tf.tensor1d([0, 0, 5]));
    // Through the file format, as `pix2rep predict` loads it.
    const file = decodeModel(encodeModel(s, { preprocess: PRE, labels: [], record: record() }), 'memory');
    disposeSegmenter(s);
    model = loadedModel(file);
  });
  afterAll(() => {
    disposeModel(model);
    rmSync(dir, { recursive: true, force: true });
  });

  it('labels every voxel of an anisotropic volume where the network field covers it', async () => {
    const labels = await predictVolume(model, volume, { batch: 4 });
    expect(labels.length).toBe(70 * 23 * 3 * 2);
    const plan = planSlice(volume, { spacingMm: PRE.spacingMm, size: PRE.size });
    let inside = 0;
    for (let f = 0; f < 2; f++)
      for (let k = 0; k < 3; k++)
        for (let j = 0; j < 23; j++)
          for (let i = 0; i < 70; i++) {
            const [u, v] = sourceToNetwork(plan, i, j);
            const expected = u >= -0.5 && u < PRE.size - 0.5 && v >= -0.5 && v < PRE.size - 0.5 ? 7 : 0;
            if (expected) inside++;
            expect(labels[((f * 3 + k) * 23 + j) * 70 + i]).toBe(expected);
          }
    // 32 px × 2.5 mm = 80 mm of the 119 mm along i: some voxels on both sides fall outside.
    expect(inside).toBeGreaterThan(0);
    expect(inside).toBeLessThan(labels.length);
  });

  it('a prediction written and read back has the input affine and grid', async () => {
    const input = join(dir, 'case_01.nii.gz');
    await writeNifti(input, volume);
    const out = await predictNiftiFile(model, input, dir);
    expect(out).toBe(join(dir, 'case_01_pred.nii.gz'));
    const src = await readNiftiFile(input);
    const back = await readNiftiFile(out);
    expect(back.header.srow).toEqual(src.header.srow);
    expect(back.header.dims).toEqual(src.header.dims);
    expect(back.volume.frames).toBe(2);
    expect(back.volume.origin).toEqual(src.volume.origin);
    expect(back.volume.direction).toEqual(src.volume.direction);
    expect(back.volume.spacing).toEqual(src.volume.spacing);
    expect(new Set(back.volume.data)).toEqual(new Set([0, 7]));
  });
});
