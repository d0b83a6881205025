import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineFailure } from '../../../main/engine/errors.js';
import {
  qformAffine,
  readNifti,
  readNiftiFile,
  readNiftiHeader,
  writeNifti,
  writeNiftiLike,
} from '../../../main/io/nifti.js';
import { frameData, indexToPoint, type Mat3, type Vec3, type Volume } from '../../../main/io/volume.js';
import { MISSING_DATA, dataPath, hasData } from '../../support/data.js';
import { buildNifti, gz, type FixtureSpec } from './nifti-fixtures.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pix2rep-nifti-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fixture(name: string, spec: FixtureSpec, compress = name.endsWith('.gz')): Promise<string> {
  const path = join(dir, name);
  const bytes = buildNifti(spec);
  await writeFile(path, compress ? gz(bytes) : bytes);
  return path;
}

function expectClose(actual: readonly number[], expected: readonly number[], tol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => expect(Math.abs(a - expected[i]!), `index ${i}: ${a} vs ${expected[i]}`).toBeLessThanOrEqual(tol));
}

/** Rejects with a BAD_INPUT EngineFailure whose message names the file and matches `reason`. */
async function expectBadFile(promise: Promise<unknown>, path: string, reason: RegExp): Promise<void> {
  const err = await promise.then(
    () => {
      throw new Error(`expected ${path} to be rejected`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(EngineFailure);
  expect((err as EngineFailure).code).toBe('BAD_INPUT');
  expect((err as Error).message).toContain(path);
  expect((err as Error).message).toMatch(reason);
}

describe('NIfTI reader: datatypes', () => {
  // 2x3x2 voxels, i fastest; values chosen to exercise sign and range of each type.
  const cases: Array<{ code: number; ctor: string; values: number[] }> = [
    { code: 2, ctor: 'Uint8Array', values: [0, 1, 2, 3, 127, 128, 200, 255, 4, 5, 6, 7] },
    { code: 256, ctor: 'Int8Array', values: [-128, -1, 0, 1, 127, 5, -5, 9, 10, 11, -12, 13] },
    { code: 4, ctor: 'Int16Array', values: [-32768, -2, 0, 3, 32767, 1000, -1000, 7, 8, 9, 10, 11] },
    { code: 512, ctor: 'Uint16Array', values: [0, 65535, 1, 2, 40000, 5, 6, 7, 8, 9, 10, 11] },
    { code: 8, ctor: 'Int32Array', values: [-2147483648, 2147483647, 0, -1, 1, 70000, 6, 7, 8, 9, 10, 11] },
    { code: 768, ctor: 'Uint32Array', values: [0, 4294967295, 1, 2, 3000000000, 5, 6, 7, 8, 9, 10, 11] },
    { code: 16, ctor: 'Float32Array', values: [-1.5, 0, 0.25, 3.5, 1e6, -2, 6, 7, 8, 9, 10, 11.75] },
    { code: 64, ctor: 'Float64Array', values: [-1.5, 0.1, Math.PI, 1e300, -2, 5, 6, 7, 8, 9, 10, 11] },
  ];
  for (const c of cases) {
    it(`reads ${c.ctor} (datatype ${c.code}) from .nii and .nii.gz`, async () => {
      for (const name of [`t${c.code}.nii`, `t${c.code}.nii.gz`]) {
        const path = await fixture(name, { datatype: c.code, dim: [3, 2, 3, 2], pixdim: [1, 1, 1, 1], values: c.values });
        const v = await readNifti(path);
        expect(v.data.constructor.name).toBe(c.ctor);
        expect(Array.from(v.data)).toEqual(c.values);
        expect(v.dims).toEqual([2, 3, 2]);
        expect(v.frames).toBe(1);
      }
    });
  }

  it('reads big-endian NIfTI-1 and NIfTI-2 files', async () => {
    const values = [-300, 2, 30000, -4, 5, 6];
    const p1 = await fixture('be1.nii', { littleEndian: false, datatype: 4, dim: [3, 3, 2, 1], values });
    expect(Array.from((await readNifti(p1)).data)).toEqual(values);
    const f = [0.5, -1.25, 2 ** 34, 7, 8, 9];
    const p2 = await fixture('be2.nii.gz', { version: 2, littleEndian: false, datatype: 16, dim: [3, 3, 2, 1], values: f });
    const h = await readNiftiHeader(p2);
    expect(h.version).toBe(2);
    expect(h.littleEndian).toBe(false);
    expect(Array.from((await readNifti(p2)).data)).toEqual(f);
  });

  it('applies scl_slope / scl_inter as Float32, and keeps the native type when they are identity', async () => {
    const values = [0, 1, 2, -3];
    const scaled = await fixture('scaled.nii', { datatype: 4, dim: [3, 2, 2, 1], sclSlope: 2.5, sclInter: -1, values });
    const v = await readNifti(scaled);
    expect(v.data).toBeInstanceOf(Float32Array);
    expect(Array.from(v.data)).toEqual([-1, 1.5, 4, -8.5]);
    for (const [slope, inter] of [[1, 0], [0, 0], [0, 7]] as const) {
      // slope 0 means "not scaled" in NIfTI, whatever the intercept says.
      const p = await fixture(`unscaled-${slope}-${inter}.nii`, { datatype: 4, dim: [3, 2, 2, 1], sclSlope: slope, sclInter: inter, values });
      const u = await readNifti(p);
      expect(u.data).toBeInstanceOf(Int16Array);
      expect(Array.from(u.data)).toEqual(values);
    }
  });

  it('reads a 4D series: frames, frame order and frame interval from pixdim[4] in ms', async () => {
    const values = Array.from({ length: 2 * 2 * 1 * 3 }, (_, i) => i * 10);
    const path = await fixture('cine.nii.gz', {
      datatype: 2, dim: [4, 2, 2, 1, 3], pixdim: [1, 1.5, 1.5, 8, 40], xyztUnits: 2 | 16, values,
    });
    const v = await readNifti(path);
    expect(v.dims).toEqual([2, 2, 1]);
    expect(v.frames).toBe(3);
    expect(v.frameInterval).toBeCloseTo(0.04, 9);
    expect(Array.from(frameData(v, 2))).toEqual([80, 90, 100, 110]);
    // Unknown time unit: no interval is invented.
    const unknown = await fixture('cine-nounit.nii', { datatype: 2, dim: [4, 2, 2, 1, 3], pixdim: [1, 1, 1, 1, 40], xyztUnits: 0, values });
    expect((await readNifti(unknown)).frameInterval).toBeUndefined();
  });

  it('accepts trailing singleton dimensions but rejects real 5D data', async () => {
    const ok = await fixture('5d-singleton.nii', { datatype: 2, dim: [5, 2, 1, 1, 1, 1], values: [1, 2] });
    expect((await readNifti(ok)).dims).toEqual([2, 1, 1]);
    const bad = await fixture('5d.nii', { datatype: 2, dim: [5, 2, 1, 1, 1, 3], values: [1, 2, 3, 4, 5, 6] });
    await expectBadFile(readNifti(bad), bad, /5D data .*not supported/);
  });
});

describe('NIfTI reader: geometry to LPS', () => {
  const deg30 = Math.PI / 6;
  const [c30, s30] = [Math.cos(deg30), Math.sin(deg30)];

  it('uses the sform (rotation, anisotropic spacing) in preference to the qform', async () => {
    // RAS affine columns: i = 0.5*(cos, sin, 0), j = 0.8*(-sin, cos, 0), k = 2*(0, 0, 1); origin (-50, 40, 12).
    const srow = [0.5 * c30, -0.8 * s30, 0, -50, 0.5 * s30, 0.8 * c30, 0, 40, 0, 0, 2, 12];
    const path = await fixture('sform.nii', {
      datatype: 2, dim: [3, 2, 2, 2], pixdim: [1, 0.5, 0.8, 2], sformCode: 1, srow,
      qformCode: 1, quatern: [0, 0, 1], qoffset: [99, 99, 99], values: new Array(8).fill(0),
    });
    const { header, volume } = await readNiftiFile(path);
    expect(header.geometrySource).toBe('sform');
    expectClose(volume.spacing, [0.5, 0.8, 2]);
    expectClose(volume.origin, [50, -40, 12]);
    // LPS = RAS with the first two rows negated.
    expectClose(volume.direction, [-c30, s30, 0, -s30, -c30, 0, 0, 0, 1]);
    // Voxel (1, 1, 1): RAS = (-50 + 0.5c - 0.8s, 40 + 0.5s + 0.8c, 14).
    const ras = [-50 + 0.5 * c30 - 0.8 * s30, 40 + 0.5 * s30 + 0.8 * c30, 14];
    expectClose(indexToPoint(volume, [1, 1, 1]), [-ras[0]!, -ras[1]!, ras[2]!], 1e-4);
    expect(header.warnings).toEqual([]);
  });

  it('falls back to the qform (quaternion with qfac = -1) when sform_code is 0', async () => {
    // 90 degrees about z: a = d = sqrt(1/2), R = [[0,-1,0],[1,0,0],[0,0,1]]; qfac -1 negates the k column.
    const path = await fixture('qform.nii.gz', {
      datatype: 2, dim: [3, 2, 2, 2], pixdim: [-1, 2, 3, 4], qformCode: 1, quatern: [0, 0, Math.SQRT1_2],
      qoffset: [10, 20, 30], sformCode: 0, values: new Array(8).fill(0),
    });
    const { header, volume } = await readNiftiFile(path);
    expect(header.geometrySource).toBe('qform');
    expectClose(volume.spacing, [2, 3, 4]);
    expectClose(volume.origin, [-10, -20, 30]);
    expectClose(volume.direction, [0, 1, 0, -1, 0, 0, 0, 0, -1]);
    // RAS of (1,1,1) = (10 - 3, 20 + 2, 30 - 4) = (7, 22, 26).
    expectClose(indexToPoint(volume, [1, 1, 1]), [-7, -22, 26], 1e-4);
  });

  it('uses pixdim only (absolute values) when neither transform is set', async () => {
    const path = await fixture('pixdim.nii', { datatype: 2, dim: [3, 1, 1, 1], pixdim: [1, -2, 3, -4], values: [0] });
    const { header, volume } = await readNiftiFile(path);
    expect(header.geometrySource).toBe('pixdim');
    expect(volume.spacing).toEqual([2, 3, 4]);
    expect(volume.origin).toEqual([0, 0, 0]);
    expect(volume.direction).toEqual([-1, 0, 0, 0, -1, 0, 0, 0, 1]);
  });

  it('keeps a sheared sform as normalised, non-orthogonal direction columns', async () => {
    // Columns: i = (3, 4, 0) (norm 5), j = (0, 2, 0), k = (0, 0, 1).
    const srow = [3, 0, 0, 1, 4, 2, 0, 2, 0, 0, 1, 3];
    const path = await fixture('shear.nii', {
      datatype: 2, dim: [3, 1, 1, 1], pixdim: [1, 5, 2, 1], sformCode: 2, srow, values: [0],
    });
    const v = await readNifti(path);
    expectClose(v.spacing, [5, 2, 1]);
    expectClose(v.direction, [-0.6, 0, 0, -0.8, -1, 0, 0, 0, 1]);
    expectClose(v.origin, [-1, -2, 3]);
  });

  it('takes spacing from pixdim when an sform has unit columns (the ACDC case) and says so', async () => {
    const path = await fixture('acdc-like.nii', {
      datatype: 2, dim: [3, 1, 1, 1], pixdim: [1, 1.5625, 1.5625, 10], sformCode: 2,
      srow: [-1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1, 0], values: [0],
    });
    const { header, volume } = await readNiftiFile(path);
    expect(volume.spacing).toEqual([1.5625, 1.5625, 10]);
    expect(volume.direction).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(header.warnings.join(' ')).toMatch(/spacing taken from pixdim/);
  });

  it('converts metres and microns to millimetres', async () => {
    const m = await fixture('metres.nii', {
      datatype: 2, dim: [3, 1, 1, 1], pixdim: [1, 0.001, 0.002, 0.003], xyztUnits: 1, sformCode: 1,
      srow: [0.001, 0, 0, 0.1, 0, 0.002, 0, 0.2, 0, 0, 0.003, 0.3], values: [0],
    });
    const v = await readNifti(m);
    expectClose(v.spacing, [1, 2, 3], 1e-4);
    expectClose(v.origin, [-100, -200, 300], 1e-3);
    const um = await fixture('microns.nii', { datatype: 2, dim: [3, 1, 1, 1], pixdim: [1, 500, 500, 1000], xyztUnits: 3, values: [0] });
    expectClose((await readNifti(um)).spacing, [0.5, 0.5, 1]);
  });

  it('reads NIfTI-2 float64 transforms at full precision', async () => {
    const srow = [0.1234567890123, 0, 0, -12.3456789012345, 0, 0.2, 0, 1, 0, 0, 0.3, 2];
    const path = await fixture('v2.nii', {
      version: 2, datatype: 64, dim: [3, 1, 1, 1], pixdim: [1, 0.1234567890123, 0.2, 0.3], sformCode: 1, srow, values: [Math.E],
    });
    const { header, volume } = await readNiftiFile(path);
    expect(header.srow).toEqual(srow);
    expect(volume.origin[0]).toBe(12.3456789012345);
    expect(volume.spacing[0]).toBe(0.1234567890123);
    expect(volume.data[0]).toBe(Math.E);
  });
});

describe('NIfTI reader: bad input names the file and the reason', () => {
  const good: FixtureSpec = { datatype: 4, dim: [3, 8, 8, 4], values: Array.from({ length: 256 }, (_, i) => i) };

  it('zero-byte files (.nii and .nii.gz)', async () => {
    for (const name of ['empty.nii', 'empty.nii.gz']) {
      const path = join(dir, name);
      await writeFile(path, Buffer.alloc(0));
      await expectBadFile(readNifti(path), path, /empty file/);
      await expectBadFile(readNiftiHeader(path), path, /empty file/);
    }
  });

  it('a truncated .nii.gz', async () => {
    const whole = gz(buildNifti(good));
    for (const keep of [10, Math.floor(whole.length / 2), whole.length - 4]) {
      const path = join(dir, `trunc-${keep}.nii.gz`);
      await writeFile(path, whole.subarray(0, keep));
      await expectBadFile(readNifti(path), path, /truncated/);
    }
  });

  it('a header that lies about its size (plain and gzip), and a vox_offset past the end', async () => {
    const lying = buildNifti({ ...good, dim: [3, 8, 8, 40] });
    const plain = join(dir, 'lies.nii');
    await writeFile(plain, lying);
    await expectBadFile(readNifti(plain), plain, /header lies about its size: .*need 5472 bytes, the file holds 864/);
    await expectBadFile(readNiftiHeader(plain), plain, /header lies about its size/);
    const packed = join(dir, 'lies.nii.gz');
    await writeFile(packed, gz(lying));
    await expectBadFile(readNifti(packed), packed, /header lies about its size/);
    const farBytes = buildNifti(good);
    farBytes.writeFloatLE(100000, 108); // vox_offset
    const far = join(dir, 'far.nii');
    await writeFile(far, farBytes);
    await expectBadFile(readNifti(far), far, /vox_offset 100000 is beyond the end of the file/);
  });

  it('an unsupported datatype, with its code and name', async () => {
    const path = await fixture('complex.nii', { datatype: 32, dim: [3, 1, 1, 1], values: [] , trailing: Buffer.alloc(8) });
    await expectBadFile(readNifti(path), path, /unsupported datatype code 32 \(complex64\)/);
    const odd = await fixture('odd.nii', { datatype: 77, dim: [3, 1, 1, 1], trailing: Buffer.alloc(8) });
    await expectBadFile(readNiftiHeader(odd), odd, /unsupported datatype code 77$/);
  });

  it('dimensions that are zero, negative or absurd (rejected before allocating)', async () => {
    const zero = await fixture('dim0.nii', { datatype: 2, dim: [3, 4, 0, 2] });
    await expectBadFile(readNifti(zero), zero, /dimension 2 is 0/);
    const neg = await fixture('dimneg.nii', { datatype: 2, dim: [3, -4, 2, 2] });
    await expectBadFile(readNifti(neg), neg, /dimension 1 is -4/);
    const huge = await fixture('huge.nii.gz', { datatype: 64, dim: [4, 32767, 32767, 32767, 32767] });
    await expectBadFile(readNifti(huge), huge, /absurd size/);
    const huge2 = await fixture('huge2.nii', { version: 2, datatype: 2, dim: [3, 2 ** 40, 1, 1] });
    await expectBadFile(readNifti(huge2), huge2, /absurd size/);
    const nd = await fixture('ndim.nii', { datatype: 2, dim: [9, 1, 1, 1] });
    await expectBadFile(readNifti(nd), nd, /dim\[0\] is 9/);
  });

  it('files that are not NIfTI, pairs and missing files', async () => {
    const text = join(dir, 'notes.nii');
    await writeFile(text, 'this is not an image, just some text that is long enough'.repeat(20));
    await expectBadFile(readNifti(text), text, /not a NIfTI file/);
    const pair = await fixture('pair.nii', { ...good, magic: 'ni1\0' });
    await expectBadFile(readNifti(pair), pair, /header\/image pairs/);
    const tiny = join(dir, 'tiny.nii');
    await writeFile(tiny, Buffer.from([0x5c, 0x01, 0, 0, 1, 2]));
    await expectBadFile(readNifti(tiny), tiny, /truncated header \(6 of 348 bytes\)/);
    const missing = join(dir, 'missing.nii.gz');
    await expectBadFile(readNifti(missing), missing, /file not found/);
    const garbage = join(dir, 'garbage.nii.gz');
    await writeFile(garbage, Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.alloc(100, 0xaa)]));
    await expectBadFile(readNifti(garbage), garbage, /gzip/);
  });

  it('bit-flipped and truncated copies either read or fail with BAD_INPUT naming the file', async () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const specs: FixtureSpec[] = [
      { ...good, sformCode: 1, srow: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0] },
      { ...good, version: 2, littleEndian: false },
    ];
    let failures = 0;
    for (let n = 0; n < 120; n++) {
      const base = buildNifti(specs[n % 2]!);
      const packed = n % 3 === 0;
      let bytes = Buffer.from(packed ? gz(base) : base);
      if (n % 4 === 1) bytes = Buffer.from(bytes.subarray(0, Math.floor(rand() * bytes.length)));
      // Plain files: flip header bits, where a flip changes meaning; gzip: anywhere.
      const span = Math.min(bytes.length, packed ? bytes.length : 560);
      for (let k = 0; span > 0 && k < 1 + Math.floor(rand() * 6); k++) {
        bytes[Math.floor(rand() * span)]! ^= 1 << Math.floor(rand() * 8);
      }
      const path = join(dir, `fuzz-${n}.nii${packed ? '.gz' : ''}`);
      await writeFile(path, bytes);
      try {
        const v = await readNifti(path);
        expect(v.data.length).toBe(v.dims[0] * v.dims[1] * v.dims[2] * v.frames);
      } catch (e) {
        failures++;
        expect(e).toBeInstanceOf(EngineFailure);
        expect((e as Error).message).toContain(path);
      }
      await rm(path);
    }
    expect(failures).toBeGreaterThan(0);
  });
});

describe('NIfTI writer', () => {
  function oblique(data: Volume['data'], dims: Vec3, frames = 1): Volume {
    const a = Math.PI / 7;
    // A proper rotation about the LPS z axis composed with a flip of k (det -1), spacing anisotropic.
    const direction: Mat3 = [Math.cos(a), -Math.sin(a), 0, Math.sin(a), Math.cos(a), 0, 0, 0, -1];
    return { dims, frames, spacing: [0.7, 1.3, 6], origin: [-12.5, 33.25, 80], direction, data };
  }

  it('round-trips every dtype through .nii and .nii.gz with the same geometry and voxels', async () => {
    const arrays = [
      Uint8Array.from([0, 1, 2, 255, 9, 8]), Int8Array.from([-128, 0, 5, 127, 1, 2]),
      Int16Array.from([-32768, 0, 1, 32767, 3, 4]), Uint16Array.from([0, 65535, 1, 2, 3, 4]),
      Int32Array.from([-5, 2147483647, 0, 1, 2, 3]), Uint32Array.from([4294967295, 0, 1, 2, 3, 4]),
      Float32Array.from([0.5, -1e-3, 1e20, 3, 4, 5]), Float64Array.from([Math.PI, -0.1, 1e-300, 3, 4, 5]),
    ];
    for (const data of arrays) {
      for (const ext of ['.nii', '.nii.gz']) {
        const path = join(dir, `w-${data.constructor.name}${ext}`);
        const vol = oblique(data, [3, 2, 1]);
        await writeNifti(path, vol);
        const { header, volume } = await readNiftiFile(path);
        expect(volume.data.constructor).toBe(data.constructor);
        expect(Array.from(volume.data)).toEqual(Array.from(data));
        expect(volume.dims).toEqual([3, 2, 1]);
        expectClose(volume.spacing, vol.spacing);
        expectClose(volume.origin, vol.origin, 1e-4);
        expectClose(volume.direction, vol.direction, 1e-6);
        expect([header.qformCode, header.sformCode]).toEqual([1, 1]);
      }
    }
    const raw = await readFile(join(dir, 'w-Uint8Array.nii'));
    expect(raw.length).toBe(352 + 6);
  });

  it('sets a qform that describes the same affine as the sform', async () => {
    const path = join(dir, 'qs.nii.gz');
    await writeNifti(path, oblique(new Uint8Array(6), [3, 2, 1]));
    const h = await readNiftiHeader(path);
    expect(h.pixdim[0]).toBe(-1);
    expectClose(qformAffine(h, h.pixdim), h.srow, 1e-5);
  });

  it('writes 4D series with their frame interval, and sheared geometry with sform only', async () => {
    const path = join(dir, 'w4d.nii.gz');
    const vol: Volume = { ...oblique(Int16Array.from({ length: 12 }, (_, i) => i - 6), [2, 2, 1], 3), frameInterval: 0.035 };
    await writeNifti(path, vol);
    const back = await readNifti(path);
    expect(back.frames).toBe(3);
    expect(back.frameInterval).toBeCloseTo(0.035, 6);
    expect(Array.from(frameData(back, 1))).toEqual([-2, -1, 0, 1]);

    const sheared: Volume = { dims: [1, 1, 1], frames: 1, spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0.6, 0, 0, 0.8, 0, 0, 0, 1], data: new Uint8Array(1) };
    const sp = join(dir, 'shear-out.nii');
    await writeNifti(sp, sheared);
    const h = await readNiftiHeader(sp);
    expect([h.qformCode, h.sformCode]).toEqual([0, 1]);
    expectClose((await readNifti(sp)).direction, sheared.direction, 1e-6);
  });

  it('writes atomically: no temp file is left and an existing file is replaced whole', async () => {
    const sub = await mkdtemp(join(dir, 'atomic-'));
    const path = join(sub, 'a.nii.gz');
    await writeNifti(path, oblique(new Uint8Array(6).fill(1), [3, 2, 1]));
    await writeNifti(path, oblique(new Uint8Array(6).fill(2), [3, 2, 1]));
    expect(await readdir(sub)).toEqual(['a.nii.gz']);
    expect(Array.from((await readNifti(path)).data)).toEqual([2, 2, 2, 2, 2, 2]);
    await expect(writeNifti(join(sub, 'no-such-dir', 'x.nii'), oblique(new Uint8Array(6), [3, 2, 1]))).rejects.toThrow(/no-such-dir/);
    await expect(writeNifti(join(sub, 'bad.nii'), oblique(new Uint8Array(5), [3, 2, 1]))).rejects.toThrow(/bad\.nii.*5 voxels/);
  });

  it('writeNiftiLike keeps a big-endian NIfTI-2 header (with extension) byte for byte, patching only the datatype', async () => {
    const ext = Buffer.alloc(16);
    ext.set([1, 0, 0, 0], 0); // extension flag, then one 12-byte extension-ish payload
    const src = buildNifti({
      version: 2, littleEndian: false, datatype: 4, dim: [3, 2, 2, 1], pixdim: [-1, 0.9, 1.1, 5],
      sformCode: 2, srow: [0.9, 0.01, 0, -7, 0, 1.1, 0, 3, 0, 0, 5, 1], qformCode: 1, quatern: [0.1, 0.2, 0.3], qoffset: [-7, 3, 1],
      voxOffset: 544 + 16, sclSlope: 2, values: [1, 2, 3, 4],
    });
    src.set(ext, 540);
    const srcPath = join(dir, 'src-be2.nii');
    await writeFile(srcPath, src);
    const { header } = await readNiftiFile(srcPath);
    expect(header.raw.length).toBe(560);
    const out = join(dir, 'like-be2.nii.gz');
    await writeNiftiLike(out, header, Uint8Array.from([0, 3, 1, 2]));
    const written = gunzipSync(await readFile(out));
    // Only datatype/bitpix (12..16) and slope (176..184) differ from the source header bytes.
    const diff: number[] = [];
    for (let i = 0; i < 560; i++) if (written[i] !== src[i]) diff.push(i);
    expect(diff.every((i) => (i >= 12 && i < 16) || (i >= 176 && i < 184))).toBe(true);
    const back = await readNiftiFile(out);
    expect(back.volume.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(back.volume.data)).toEqual([0, 3, 1, 2]);
    expect(back.header.srow).toEqual(header.srow);
    expect(back.header.quatern).toEqual(header.quatern);
    expect(back.volume).toMatchObject({ spacing: header.geometry.spacing, origin: header.geometry.origin, direction: header.geometry.direction });
    await expect(writeNiftiLike(join(dir, 'x.nii'), header, new Uint8Array(3))).rejects.toThrow(/3 voxels given/);
    const moved = { ...back.volume, origin: [0, 0, 50] as Vec3 };
    await expect(writeNiftiLike(join(dir, 'y.nii'), header, moved)).rejects.toThrow(/y\.nii.*geometry differs/);
  });
});

const ACDC_TITLE = hasData('acdc') ? 'NIfTI on real ACDC files' : `NIfTI on real ACDC files: skipped, ${MISSING_DATA}`;
describe.skipIf(!hasData('acdc'))(ACDC_TITLE, () => {
  const acdc = (p: string) => dataPath('acdc', 'training', p);

  it('reads patient001 ED: 216x256x10 at 1.5625 x 1.5625 x 10 mm', async () => {
    const v = await readNifti(acdc('patient001/patient001_frame01.nii.gz'));
    expect(v.dims).toEqual([216, 256, 10]);
    expect(v.frames).toBe(1);
    expectClose(v.spacing, [1.5625, 1.5625, 10]);
    expect(v.data).toBeInstanceOf(Int16Array);
    let max = 0;
    for (const x of v.data) max = Math.max(max, x);
    expect(max).toBe(658); // manifest.tsv: range 0..658
  });

  it('reads the 4D cine of patient090: 12 frames', async () => {
    const h = await readNiftiHeader(acdc('patient090/patient090_4d.nii.gz'));
    expect([h.dims, h.frames]).toEqual([[154, 224, 7], 12]);
    const v = await readNifti(acdc('patient090/patient090_4d.nii.gz'));
    expect(v.frames).toBe(12);
    expect(v.data.length).toBe(154 * 224 * 7 * 12);
  });

  it('round-trips a label map with its source header: same voxels, same sform/qform bits', async () => {
    const src = acdc('patient001/patient001_frame01_gt.nii.gz');
    const { header, volume } = await readNiftiFile(src);
    const out = join(dir, 'patient001_frame01_gt.nii.gz');
    await writeNiftiLike(out, header, volume);
    const back = await readNiftiFile(out);
    expect(Buffer.compare(Buffer.from(back.volume.data.buffer), Buffer.from(volume.data.buffer))).toBe(0);
    for (const key of ['srow', 'quatern', 'qoffset', 'pixdim', 'qformCode', 'sformCode', 'dim', 'datatype', 'xyztUnits'] as const) {
      expect(back.header[key], key).toEqual(header[key]);
    }
    const original = gunzipSync(await readFile(src));
    const written = gunzipSync(await readFile(out));
    expect(Buffer.compare(written, original)).toBe(0);
    // Labels written like the *image* header: datatype patched, transforms untouched.
    const image = await readNiftiHeader(acdc('patient001/patient001_frame01.nii.gz'));
    const out2 = join(dir, 'labels-like-image.nii.gz');
    await writeNiftiLike(out2, image, volume.data);
    const back2 = await readNiftiFile(out2);
    expect(back2.header.srow).toEqual(image.srow);
    expect(back2.header.dtype).toBe('uint8');
    expect(Array.from(new Set(back2.volume.data)).sort()).toEqual([0, 1, 2, 3]);
  });
});
