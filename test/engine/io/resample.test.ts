import { describe, expect, it } from 'vitest';
import {
  centerCropPad,
  fromNetwork,
  labelsFromScores,
  networkToSource,
  normalizeIntensity,
  percentiles,
  planSlice,
  putSlice,
  sliceOf,
  sourceToNetwork,
  toNetwork,
} from '../../../main/io/resample.js';
import { readNifti } from '../../../main/io/nifti.js';
import type { Volume } from '../../../main/io/volume.js';
import { MISSING_DATA, dataPath, hasData } from '../../support/data.js';

const geom = (ni: number, nj: number, si: number, sj = si) => ({ dims: [ni, nj, 1] as [number, number, number], spacing: [si, sj, 10] as [number, number, number] });

describe('slice plan', () => {
  it('computes scale and centre offsets by hand (ACDC patient001 at 1.5 mm, 128x128)', () => {
    const plan = planSlice(geom(216, 256, 1.5625), { spacingMm: 1.5, size: 128 });
    // r = 1.5 / 1.5625 = 0.96; resampled lengths round(216 / 0.96) = 225 and round(256 / 0.96) = 267.
    expect(plan.scale).toEqual([0.96, 0.96]);
    // off = floor((225 - 128) / 2) = 48 and floor((267 - 128) / 2) = 69.
    expect(plan.offset).toEqual([48, 69]);
    const [i, j] = networkToSource(plan, 0, 0);
    expect(i).toBeCloseTo(48.5 * 0.96 - 0.5, 12);
    expect(j).toBeCloseTo(69.5 * 0.96 - 0.5, 12);
    const [u, v] = sourceToNetwork(plan, i, j);
    expect(u).toBeCloseTo(0, 12);
    expect(v).toBeCloseTo(0, 12);
  });

  it('is an exact integer crop (odd excess) and pad (asymmetric) when the spacing already matches', () => {
    const crop = planSlice(geom(5, 1, 2), { spacingMm: 2, size: [3, 1] });
    expect(crop.offset).toEqual([1, 0]); // floor((5 - 3) / 2)
    const row = [10, 11, 12, 13, 14];
    expect(Array.from(toNetwork(crop, row, { mode: 'linear' }))).toEqual([11, 12, 13]);
    expect(Array.from(toNetwork(crop, row, { mode: 'nearest' }))).toEqual([11, 12, 13]);

    const pad = planSlice(geom(3, 1, 1), { spacingMm: 1, size: [6, 1] });
    expect(pad.offset).toEqual([-2, 0]); // floor((3 - 6) / 2)
    expect(Array.from(toNetwork(pad, [7, 8, 9], { mode: 'linear', fill: -1 }))).toEqual([-1, -1, 7, 8, 9, -1]);
    // And back: the padding is dropped, the values land on their own pixels.
    expect(Array.from(fromNetwork(pad, [0, 0, 7, 8, 9, 0], { mode: 'nearest' }))).toEqual([7, 8, 9]);
  });

  it('centres on a given point (a region the user drew)', () => {
    const plan = planSlice(geom(100, 100, 1), { spacingMm: 1, size: 10, center: [20, 70] });
    // Network centre (4.5, 4.5) must sit on source (20, 70) within half a pixel.
    const [i, j] = networkToSource(plan, 4.5, 4.5);
    expect(Math.abs(i - 20)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(j - 70)).toBeLessThanOrEqual(0.5);
  });

  it('centerCropPad follows the same floor convention', () => {
    // 4x3 image, values = 10*y + x; crop to 2x2: off = (floor(2/2), floor(1/2)) = (1, 0).
    const img = [0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23];
    expect(Array.from(centerCropPad(img, [4, 3], [2, 2]))).toEqual([1, 2, 11, 12]);
    // Pad 2x1 to 5x2: off = (floor(-3/2), floor(-1/2)) = (-2, -1): the row lands at v = 1, u = 2..3.
    expect(Array.from(centerCropPad([5, 6], [2, 1], [5, 2], 9))).toEqual([9, 9, 9, 9, 9, 9, 9, 5, 6, 9]);
  });
});

describe('resampling a known pattern', () => {
  // A smooth pattern in millimetres on a 1.2 mm grid of 100 x 90 pixels.
  const f = (x: number, y: number) => Math.sin(x / 7) + Math.cos(y / 5) + 0.01 * x;
  const [ni, nj, s] = [100, 90, 1.2];
  const slice = new Float32Array(ni * nj);
  for (let j = 0; j < nj; j++) for (let i = 0; i < ni; i++) slice[j * ni + i] = f(i * s, j * s);

  it('samples the pattern at the network pixels and maps back within tolerance', () => {
    const plan = planSlice(geom(ni, nj, s), { spacingMm: 1.5, size: [96, 64] });
    // Point sampling checks the geometry; the default box antialiasing (2x2 taps here) only smooths a little.
    const net = toNetwork(plan, slice, { mode: 'linear', fill: Number.NaN, antialias: false });
    const smooth = toNetwork(plan, slice, { mode: 'linear', fill: Number.NaN });
    let checked = 0;
    for (let v = 0; v < 64; v++) {
      for (let u = 0; u < 96; u++) {
        const [i, j] = networkToSource(plan, u, v);
        const value = net[v * 96 + u]!;
        if (i < -0.5 || i >= ni - 0.5 || j < -0.5 || j >= nj - 0.5) {
          expect(value).toBeNaN(); // padding: the field (144 mm) is wider than the slice (120 mm)
        } else if (i >= 0 && i <= ni - 1 && j >= 0 && j <= nj - 1) {
          expect(Math.abs(value - f(i * s, j * s))).toBeLessThan(0.02);
          expect(Math.abs(smooth[v * 96 + u]! - f(i * s, j * s))).toBeLessThan(0.04);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(3000);
    const back = fromNetwork(plan, net, { mode: 'linear', fill: Number.NaN });
    let worst = 0;
    for (let j = 2; j < nj - 2; j++) {
      for (let i = 2; i < ni - 2; i++) {
        const x = back[j * ni + i]!;
        const [u, v] = sourceToNetwork(plan, i, j);
        // Rows cropped away by the 64-pixel height are NaN; the half pixel at the field's edge is clamped.
        if (u < 0 || u > 95 || v < 0 || v > 63) continue;
        worst = Math.max(worst, Math.abs(x - slice[j * ni + i]!));
      }
    }
    expect(worst).toBeLessThan(0.03);
    // The 64 x 1.5 mm = 96 mm field keeps the middle 80 of 90 rows (108 mm), the rest is outside.
    expect(back.filter(Number.isNaN).length).toBeGreaterThan(0);
  });
});

describe('label maps', () => {
  const [ni, nj] = [40, 30];
  const labels = new Uint8Array(ni * nj);
  for (let j = 0; j < nj; j++) {
    for (let i = 0; i < ni; i++) {
      const r = Math.hypot(i - 20, j - 15);
      labels[j * ni + i] = r < 4 ? 3 : r < 7 ? 2 : r < 10 ? 1 : i > 35 ? 7 : 0;
    }
  }

  it('nearest neighbour keeps label values, and maps back exactly at equal spacing', () => {
    const plan = planSlice(geom(ni, nj, 1.5), { spacingMm: 1.5, size: 36 });
    const net = toNetwork(plan, labels, { mode: 'nearest' });
    expect(new Set(net)).toEqual(new Set([0, 1, 2, 3, 7]));
    const wide = planSlice(geom(ni, nj, 1.5), { spacingMm: 1.5, size: 48 });
    const back = fromNetwork(wide, toNetwork(wide, labels, { mode: 'nearest' }), { mode: 'nearest' });
    expect(Array.from(back)).toEqual(Array.from(labels));
  });

  it('nearest neighbour at another spacing only produces existing labels and keeps most pixels', () => {
    const plan = planSlice(geom(ni, nj, 1.1), { spacingMm: 1.5, size: 64 });
    const net = toNetwork(plan, labels, { mode: 'nearest' });
    expect([...new Set(net)].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 7]);
    const back = fromNetwork(plan, net, { mode: 'nearest' });
    let same = 0;
    back.forEach((x, n) => (same += x === labels[n] ? 1 : 0));
    expect(same / labels.length).toBeGreaterThan(0.9);
  });

  it('labelsFromScores takes the best interpolated class, background outside the field', () => {
    const plan = planSlice(geom(ni, nj, 1), { spacingMm: 2, size: [16, 10] });
    const net = toNetwork(plan, labels, { mode: 'nearest' });
    const classes = 8;
    const scores = new Float32Array(16 * 10 * classes);
    net.forEach((c, p) => (scores[p * classes + c] = 1)); // one-hot, channel-last
    const back = labelsFromScores(plan, scores, classes, 0);
    expect(back).toBeInstanceOf(Uint8Array);
    // The centre disc (label 3, radius 4 px = 4 mm) survives at 2 mm; far corners are outside the 32x20 mm field.
    expect(back[15 * ni + 20]).toBe(3);
    expect(back[0]).toBe(0);
    const [u] = sourceToNetwork(plan, 0, 0);
    expect(u).toBeLessThan(-0.5);
    let agree = 0;
    let inside = 0;
    for (let j = 0; j < nj; j++) {
      for (let i = 0; i < ni; i++) {
        const [uu, vv] = sourceToNetwork(plan, i, j);
        if (uu < 0 || uu > 15 || vv < 0 || vv > 9) continue;
        inside++;
        if (back[j * ni + i] === labels[j * ni + i]) agree++;
      }
    }
    expect(agree / inside).toBeGreaterThan(0.8);
  });
});

describe('slices of a volume', () => {
  it('reads and writes slice k of frame t in place', () => {
    const v: Volume = {
      dims: [2, 2, 3], frames: 2, spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
      data: Int16Array.from({ length: 24 }, (_, n) => n),
    };
    expect(Array.from(sliceOf(v, 1, 1))).toEqual([16, 17, 18, 19]);
    putSlice(v, 2, [-1, -2, -3, -4], 0);
    expect(Array.from(v.data.subarray(8, 12))).toEqual([-1, -2, -3, -4]);
    expect(() => sliceOf(v, 3)).toThrow(/slice 3/);
  });
});

describe('intensity normalisation', () => {
  it('clips at the 0.5 / 99.5 percentiles and scales to [0, 1]', () => {
    const data = Float64Array.from({ length: 1000 }, (_, n) => n);
    // Linear percentiles over 0..999: 0.005 * 999 = 4.995 and 0.995 * 999 = 994.005.
    const [lo, hi] = percentiles(data, [0.5, 99.5]) as [number, number];
    expect(lo).toBeCloseTo(4.995, 9);
    expect(hi).toBeCloseTo(994.005, 9);
    const out = normalizeIntensity(data);
    expect(out[0]).toBe(0);
    expect(out[3]).toBe(0);
    expect(out[999]).toBe(1);
    expect(out[500]).toBeCloseTo((500 - 4.995) / (994.005 - 4.995), 6);
  });

  it('ignores outliers, NaNs and gives zeros for a constant image', () => {
    const data = new Float32Array(2000).fill(100);
    for (let n = 0; n < 1000; n++) data[n] = n % 2 ? 200 : 100;
    data[5] = 1e9; // one hot pixel must not squash the range
    data[6] = Number.NaN;
    const out = normalizeIntensity(data);
    expect(out[1]).toBe(1);
    expect(out[0]).toBe(0);
    expect(out[5]).toBe(1);
    expect(out[6]).toBe(0);
    expect(Array.from(normalizeIntensity(new Int16Array(10).fill(7)))).toEqual(new Array(10).fill(0));
  });
});

const ACDC_TITLE = hasData('acdc') ? 'resampling a real ACDC label map' : `resampling a real ACDC label map: skipped, ${MISSING_DATA}`;
describe.skipIf(!hasData('acdc'))(ACDC_TITLE, () => {
  it('keeps the heart inside a 128x128 field at 1.5 mm and maps labels back with high overlap', async () => {
    const gt = await readNifti(dataPath('acdc', 'training', 'patient001', 'patient001_frame01_gt.nii.gz'));
    const plan = planSlice(gt, { spacingMm: 1.5, size: 128 });
    let labelled = 0;
    let agree = 0;
    let kept = 0;
    for (let k = 0; k < gt.dims[2]; k++) {
      const slice = sliceOf(gt, k);
      const net = toNetwork(plan, slice, { mode: 'nearest' });
      kept += net.reduce((n, x) => n + (x > 0 ? 1 : 0), 0) * (1.5 * 1.5);
      const back = fromNetwork(plan, net, { mode: 'nearest' });
      slice.forEach((x, n) => {
        if (x > 0) labelled++;
        if (x > 0 && back[n] === x) agree++;
      });
    }
    // Labelled area (mm^2) in the field vs in the image: the heart sits in the field.
    const area = labelled * gt.spacing[0] * gt.spacing[1];
    expect(kept / area).toBeGreaterThan(0.97);
    expect(agree / labelled).toBeGreaterThan(0.95);
  });
});

describe('antialiasing', () => {
  it('averages fine stripes instead of aliasing them when the network pixel is coarser', () => {
    // 0.5 mm stripes one pixel wide (0, 1, 0, 1, ...) seen at 1.5 mm: each network pixel covers 3 sources.
    const [ni, nj] = [60, 6];
    const stripes = Float32Array.from({ length: ni * nj }, (_, n) => (n % ni) % 2);
    const plan = planSlice(geom(ni, nj, 0.5), { spacingMm: 1.5, size: [20, 2] });
    const smooth = toNetwork(plan, stripes, { mode: 'linear' });
    for (const x of smooth) expect(Math.abs(x - 0.5)).toBeLessThanOrEqual(1 / 6 + 1e-6);
    const aliased = toNetwork(plan, stripes, { mode: 'linear', antialias: false });
    // Without it, every network pixel centre lands on a source centre: pure 0 or 1.
    for (const x of aliased) expect([0, 1]).toContain(x);
    // A constant image stays exactly constant either way, borders included.
    const flat = toNetwork(plan, new Float32Array(ni * nj).fill(4), { mode: 'linear' });
    expect(new Set(flat)).toEqual(new Set([4]));
  });
});
