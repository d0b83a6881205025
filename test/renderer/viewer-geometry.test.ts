import { describe, expect, it } from 'vitest';
import { axisLetters, centreOf, fitScale, indexToLps, mmPerPixel, screenToIndex } from '../../renderer/viewer/geometry.js';
import { base64ToBytes, bytesToBase64, decodeVoxels, percentiles, windowFromPercentiles } from '../../renderer/viewer/voxels.js';

describe('viewer geometry', () => {
  const g = { dims: [200, 100, 10] as [number, number, number], spacing: [0.5, 2, 8] as [number, number, number] };

  it('fits the slice: 100 x 200 mm in a 400 x 400 px view needs half-height 104 mm (4 % margin)', () => {
    expect(fitScale(g, 400, 400)).toBeCloseTo(104, 9);
    // A wide, short view: the width limits. Half-width 50 mm over an aspect of 100/800 → 12.5 mm × 1.04.
    expect(fitScale({ dims: [200, 10, 1], spacing: [0.5, 0.5, 1] }, 800, 100)).toBeCloseTo(6.5, 9);
  });

  it('maps the view centre to the camera centre and pixels to voxels with each axis\' own spacing', () => {
    const cam = { zoom: 2, center: centreOf(g) };
    expect(cam.center).toEqual([49.75, 99]);
    const mpp = mmPerPixel(g, cam, 400, 400);
    expect(mpp).toBeCloseTo((2 * 104) / 2 / 400, 12);
    const mid = screenToIndex(g, cam, 400, 400, 200, 200);
    expect(mid.i).toBeCloseTo(99.5, 9);
    expect(mid.j).toBeCloseTo(49.5, 9);
    const right = screenToIndex(g, cam, 400, 400, 300, 240);
    expect(right.i - mid.i).toBeCloseTo((100 * mpp) / 0.5, 9);
    expect(right.j - mid.j).toBeCloseTo((40 * mpp) / 2, 9);
  });

  it('patient coordinates follow origin + D · diag(spacing) · ijk', () => {
    // i along -x (R), j along +z (S), k along +y (P): a coronal-like grid.
    const geo = { spacing: [0.5, 2, 8] as [number, number, number], origin: [10, -20, 30] as [number, number, number], direction: [-1, 0, 0, 0, 0, 1, 0, 1, 0] };
    expect(indexToLps(geo, [2, 3, 1])).toEqual([9, -12, 36]);
    expect(axisLetters(geo.direction, 0, 1)).toBe('R');
    expect(axisLetters(geo.direction, 0, -1)).toBe('L');
    expect(axisLetters(geo.direction, 1, 1)).toBe('S');
    const oblique = [Math.SQRT1_2, 0, 0, Math.SQRT1_2, 1, 0, 0, 0, 1];
    expect(axisLetters(oblique, 0, 1)).toBe('LP');
  });
});

describe('voxel decoding and windows', () => {
  it('decodes little-endian int16 and refuses a wrong length with the sizes', () => {
    const src = Int16Array.from([-3, 0, 1200, 32767]);
    const b64 = bytesToBase64(new Uint8Array(src.buffer));
    expect(Array.from(decodeVoxels(b64, 'int16', 4))).toEqual([-3, 0, 1200, 32767]);
    expect(() => decodeVoxels(b64, 'int16', 5)).toThrow(/received 8 bytes of int16 voxels; the volume needs 10/);
    expect(Array.from(base64ToBytes(bytesToBase64(Uint8Array.from([0, 255, 7]))))).toEqual([0, 255, 7]);
  });

  it('percentiles interpolate between sorted values and skip non-finite ones', () => {
    const v = Float32Array.from([NaN, 40, 0, 10, 30, 20, Infinity]);
    expect(percentiles(v, [0, 50, 100, 25])).toEqual([0, 20, 40, 10]);
    expect(windowFromPercentiles(v, 25, 75)).toEqual({ width: 20, level: 20 });
    expect(windowFromPercentiles(new Uint8Array(5).fill(9), 1, 99)).toEqual({ width: 1e-6, level: 9 });
  });
});
