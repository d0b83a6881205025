import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataPath, hasData, MISSING_DATA } from '../../support/data.js';
import { initBackend } from '../../../main/ml/backends/init.js';
import { pretrainConfig } from '../../../main/ml/config.js';
import { findNiftiImages, niftiSliceSource } from '../../../main/ml/pretrain/source.js';
import { readCheckpoint } from '../../../main/ml/pretrain/checkpoint.js';
import { runPretraining } from '../../../main/ml/pretrain/loop.js';

const ACDC = 'acdc/training';

describe.skipIf(!hasData(ACDC))(`pretraining on real ACDC slices${hasData(ACDC) ? '' : ` (skipped: ${MISSING_DATA})`}`, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'p2r-acdc-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists image volumes (not label maps) and loads normalised network-size slices', async () => {
    const files = await findNiftiImages(dataPath(ACDC, 'patient001'));
    expect(files.map((f) => f.split('/').pop())).toEqual(['patient001_frame01.nii.gz', 'patient001_frame12.nii.gz']);
    const cfg = pretrainConfig('compact');
    const src = await niftiSliceSource(files, cfg.preprocess);
    // patient001: 216×256×10 per frame file
    expect(src.slices).toHaveLength(20);
    const img = await src.load(4);
    expect(img).toHaveLength(128 * 128);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of img) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    expect(hi - lo).toBeGreaterThan(0.5);
    const prov = src.provenance();
    expect(prov.volumes[0]!.dims).toEqual([216, 256, 10]);
    expect(prov.volumes[0]!.spacing[0]).toBeCloseTo(1.5625, 3);
    await expect(src.load(99)).rejects.toThrow(/outside/);
    // A cache smaller than one volume still serves the same pixels (each volume is re-read when evicted).
    const tiny = await niftiSliceSource(files, cfg.preprocess, 1);
    expect(await tiny.load(15)).toEqual(await src.load(15));
    expect(await tiny.load(4)).toEqual(img);
    expect(await tiny.load(15)).toEqual(await src.load(15));
  });

  it('a short run lowers the validation loss and resumes from its checkpoint', async () => {
    // wasm with the training kernels: the cpu backend is far too slow even for this tiny network.
    await initBackend({ backend: 'wasm' });
    const files = (await findNiftiImages(dataPath(ACDC))).slice(0, 6);
    const cfg = pretrainConfig('compact', {
      model: { unet: { levels: 2, base: 8, embedding: 16 } },
      preprocess: { size: 32, spacingMm: 6 },
      loss: { samples: 128 },
      optimizer: { lr: 3e-3 },
      train: { batch: 4, validateEvery: 10, validationMaxSlices: 8, validationFraction: 0.15, seed: 3 },
    });
    const src = await niftiSliceSource(files, cfg.preprocess);
    const out = join(dir, 'run');
    const first = await runPretraining({ config: cfg, source: src, outDir: out, steps: 20 });
    expect(first.validation[0]!.step).toBe(0);
    const v = first.validation.map((p) => p.loss);
    expect(v[v.length - 1]!).toBeLessThan(v[0]!);
    const resumed = await runPretraining({ config: cfg, source: src, outDir: out, steps: 25, resume: true });
    expect(resumed.resumedFrom).toBe(20);
    expect(resumed.step).toBe(25);
    expect(resumed.history.slice(0, 20)).toEqual(first.history);
    const ck = await readCheckpoint(resumed.lastCheckpoint);
    expect(ck.header.backend).toBe('wasm');
    expect(ck.header.provenance.volumes).toHaveLength(6);
    expect(ck.header.provenance.volumes[0]!.path).toContain('patient001_frame01.nii.gz');
  });
});
