import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deriveSeed } from '../../../main/ml/augment/rng.js';
import { initBackend } from '../../../main/ml/backends/init.js';
import { pretrainConfig, type PretrainConfig } from '../../../main/ml/config.js';
import { readCheckpoint, restoreInto } from '../../../main/ml/pretrain/checkpoint.js';
import { runPretraining } from '../../../main/ml/pretrain/loop.js';
import { arraySliceSource, findNiftiImages, niftiSliceSource, type SliceSource } from '../../../main/ml/pretrain/source.js';
import { createNet, disposeNet, type Net } from '../../../main/ml/unet.js';
import { dataPath, hasData } from '../../support/data.js';
import { phantomSlices } from '../ml/phantoms.js';
import { rotationAgreement, type RotationAgreement } from './rotation.js';

/**
 * Issue 8: "for a backbone that has been pretrained even briefly, rotating the input image rotates the
 * similarity map". A tiny U-Net (3 levels, base 8, D 16) is pretrained for 40 steps (batch 4, 32² at 6 mm) with
 * the project's own Pix2Rep loop; then, for the 64 queries of an 8×8 grid, the map of the rotated image is
 * compared with the rotated map (rotation.ts: 90° turns are exact on the pixel grid, so any disagreement is the
 * network's). The baseline is the same run's initial weights.
 *
 * The views are rotations (±90°) and flips only. Measured first with the default views (also zoom-crop,
 * elastic and intensity changes): over 40–160 steps the loss hardly moved (5.65 → 5.50) and the agreement was
 * noise, mean correlation −0.03…0.51 by seed and step count, at times below the untrained net's; 320 steps gave
 * 0.40 and 0.64 for two seeds of three and 0.09 for the third. Brief pretraining with the default views does
 * NOT make the maps equivariant. With rotation and flip views only, the loss falls to 4.5–4.7 within 40 steps:
 *
 *   40 steps, wasm, load 7–10          mean correlation     twin − unrelated cosine   best match ≤ 3 px
 *   ACDC seed 3 (this test)            0.777 (untr. 0.212)  0.240 (untr. 0.030)       36% (untr. 47%)
 *   ACDC seeds 5 / 7                   0.772 / 0.802        0.583 / 0.555             20% / 31%
 *   ACDC 64² at 3 mm, seeds 3 / 5      0.838 / 0.761        0.462 / 0.603             27% / 14%
 *   phantoms seed 3 (no ACDC)          0.687 (untr. 0.224)  0.442 (untr. 0.033)       30% (untr. 52%)
 *   ACDC seeds 3 / 5 / 7, 160 steps    0.947 / 0.934 / 0.952
 *
 * (ACDC: trained on 16 ED/ES volumes of patients 3–10, tested on patient001 ED and ES slice 6, never trained
 * on.) Mean |difference| between the two maps is 0.14–0.24 trained and 0.14 untrained: flat untrained maps
 * differ little in value while not correlating at all, so it is stated, not asserted. Nor is the best match on
 * the other slice: on near-flat stretches of a map the single best pixel jumps, and 40 steps do not fix that
 * (it came out below the untrained fraction). Asserted, with margin under the worst case measured: mean
 * correlation > 0.5 and ≥ 0.3 above untrained; a pixel's rotated twin ≥ 0.1 closer than an unrelated pixel
 * and ≥ 0.1 more so than untrained.
 */

const SIDE = 32;
const SPACING = 6;
const STEPS = 40;
const SEED = 3;
const ACDC = 'acdc/training';
const onAcdc = hasData(ACDC);

function config(): PretrainConfig {
  const still = { p: 0 };
  return pretrainConfig('compact', {
    model: { unet: { levels: 3, base: 8, embedding: 16 }, head: { hidden: 16, out: 16 } },
    preprocess: { size: SIDE, spacingMm: onAcdc ? SPACING : 1.5 },
    loss: { samples: 128 },
    train: { batch: 4, seed: SEED, validationFraction: 0 },
    optimizer: { lr: 3e-3 },
    // Rotation and flip views only (see above); the default rotation range ±90° and flip weights are kept.
    augment: {
      spatial: { zoomScale: [1, 1], elastic: { p: 0, magnitude: 0, controlPoints: 4 } },
      intensity: {
        noise: { ...still, sigmaMax: 0 },
        blur: { ...still, sigma: [0, 0] },
        gamma: { ...still, logGamma: [0, 0] },
        biasField: { ...still, coefficient: 0, order: 1 },
        inversion: still,
      },
    },
  });
}

/** Training slices and the two test slices (never trained on): ACDC when present, else phantoms. */
async function data(cfg: PretrainConfig): Promise<{ source: SliceSource; x: Float32Array; y: Float32Array }> {
  if (!onAcdc) {
    const ph = phantomSlices(14, SIDE, 3);
    return { source: arraySliceSource(ph.slice(0, 12), SIDE), x: ph[12]!, y: ph[13]! };
  }
  const files = await findNiftiImages(dataPath(ACDC));
  const train = files.filter((f) => !/patient00[12]_/.test(f)).slice(0, 16);
  const test = await niftiSliceSource(
    files.filter((f) => /patient001_/.test(f)),
    cfg.preprocess,
  );
  // patient001 has 10 slices per frame: slice 6 of ED, then of ES.
  return { source: await niftiSliceSource(train, cfg.preprocess), x: await test.load(5), y: await test.load(15) };
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe(`a briefly pretrained backbone's similarity maps follow a rotation of the image (${onAcdc ? 'ACDC' : 'phantoms: ACDC not found'})`, () => {
  it(`${STEPS} Pix2Rep steps make the maps rotate with the image, far beyond the untrained network`, async () => {
    // wasm with the training kernels: the cpu backend is far too slow to train even this tiny network.
    await initBackend({ backend: 'wasm' });
    const cfg = config();
    const { source, x, y } = await data(cfg);
    const measure = (net: Net): RotationAgreement => {
      try {
        return rotationAgreement(net, cfg.preprocess.spacingMm, x, y, SIDE);
      } finally {
        disposeNet(net);
      }
    };
    // The baseline: the run's own initial weights (the loop draws them from the seed's init stream, 0).
    const untrained = measure(createNet(cfg.model, deriveSeed(SEED, 0), false));

    const dir = await mkdtemp(join(tmpdir(), 'p2r-eqv-'));
    dirs.push(dir);
    const run = await runPretraining({ config: cfg, source, outDir: dir, steps: STEPS });
    expect(run.step).toBe(STEPS);
    const net = createNet(cfg.model, 0, false);
    restoreInto(await readCheckpoint(run.lastCheckpoint), net, null);
    const trained = measure(net);

    expect(trained.meanCorrelation).toBeGreaterThan(0.5);
    expect(trained.meanCorrelation - untrained.meanCorrelation).toBeGreaterThan(0.3);
    // A pixel's twin under the rotation is closer than an unrelated pixel (what the loss trains for).
    const margin = (r: RotationAgreement) => r.twinCosine - r.unrelatedCosine;
    expect(margin(trained)).toBeGreaterThan(0.1);
    expect(margin(trained) - margin(untrained)).toBeGreaterThan(0.1);
  }, 240_000);
});
