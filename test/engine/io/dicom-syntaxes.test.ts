import { beforeAll, describe, expect, it, vi } from 'vitest';
import { readDicomSeries, scanDicom, transferSyntaxName, type DicomSeriesInfo } from '../../../main/io/dicom/index.js';
import type { Volume } from '../../../main/io/volume.js';
import { dataPath, hasData } from '../../support/data.js';

async function seriesOf(rel: string): Promise<DicomSeriesInfo> {
  const r = await scanDicom(dataPath('dicom', rel));
  expect(r.errors, rel).toEqual([]);
  expect(r.series, rel).toHaveLength(1);
  return r.series[0]!;
}

function stats(v: Volume) {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const x of v.data) {
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
  }
  return { min, max, mean: sum / v.data.length };
}

/** Same grid and identical voxel values (after any rescale). */
function expectIdentical(a: Volume, b: Volume, label: string): void {
  expect(a.dims, label).toEqual(b.dims);
  expect(a.frames, label).toBe(b.frames);
  expect(a.origin, label).toEqual(b.origin);
  let diff = 0;
  for (let i = 0; i < a.data.length; i++) diff = Math.max(diff, Math.abs(a.data[i]! - b.data[i]!));
  expect(diff, label).toBe(0);
}

describe.skipIf(!hasData('dicom'))('DICOM transfer syntaxes: the same image in every encoding', () => {
  const SIEMENS = 'compressed/siemens-mr-same-image-9-syntaxes';
  let reference: Volume;
  beforeAll(async () => {
    reference = await readDicomSeries(await seriesOf(`${SIEMENS}/1.dcm`));
  });

  it('Siemens mosaic: files 2..9 (IVR LE, EVR BE, RLE, JPEG lossless x2, JPEG-LS x2, JPEG 2000) equal file 1', async () => {
    expect(reference.dims).toEqual([64, 64, 35]);
    const seen = new Set<string>();
    for (let n = 2; n <= 9; n++) {
      const info = await seriesOf(`${SIEMENS}/${n}.dcm`);
      seen.add(transferSyntaxName(info.transferSyntaxes[0]!));
      expectIdentical(await readDicomSeries(info), reference, `${n}.dcm`);
    }
    expect([...seen].sort()).toEqual([
      'Explicit VR Big Endian',
      'Implicit VR Little Endian',
      'JPEG 2000 Lossless',
      'JPEG Lossless SV1',
      'JPEG-LS Lossless',
      'RLE Lossless',
    ]);
  });

  it('MR_small: IVR LE, two EVR BE, RLE, JPEG 2000 and JPEG-LS copies equal the EVR LE original', async () => {
    const base = await readDicomSeries(await seriesOf('compressed/mr-small-pydicom/MR_small.dcm'));
    expect(base.dims).toEqual([64, 64, 1]);
    expect(base.data).toBeInstanceOf(Int16Array);
    for (const f of ['implicit', 'bigendian', 'expb', 'RLE', 'jp2klossless', 'jpeg_ls_lossless']) {
      expectIdentical(await readDicomSeries(await seriesOf(`compressed/mr-small-pydicom/MR_small_${f}.dcm`)), base, f);
    }
  });

  it('Enhanced MR emri_small: RLE, JPEG 2000, JPEG-LS and big-endian multi-frame copies equal the original', async () => {
    const base = await readDicomSeries(await seriesOf('enhanced/emri_small.dcm'));
    expect(base.dims).toEqual([64, 64, 10]);
    for (const f of ['RLE', 'jpeg_2k_lossless', 'jpeg_ls_lossless', 'big_endian']) {
      expectIdentical(await readDicomSeries(await seriesOf(`compressed/misc/emri_small_${f}.dcm`)), base, f);
    }
  });

  it('Enhanced CT: fragmented JPEG lossless without offset table equals RLE with one (HU after rescale)', async () => {
    const jpeg = await readDicomSeries(await seriesOf('compressed/misc/CT0012.fragmented_no_bot_jpeg_lossless.70.dcm'));
    const rle = await readDicomSeries(await seriesOf('compressed/misc/CT0012.not_fragmented_bot_rle.dcm'));
    expect(jpeg.dims).toEqual([512, 512, 2]);
    expectIdentical(jpeg, rle, 'CT0012');
    expect(stats(jpeg).min).toBe(-1024); // intercept -1024 applied to stored 0
  });

  it('keeps GDCM chatter off stdout/stderr (a --json CLI must print only JSON)', async () => {
    const log = vi.spyOn(console, 'log');
    const err = vi.spyOn(console, 'error');
    try {
      // GDCM says "Unsupported JPEG data precision 12" before falling back to its 12-bit decoder.
      await readDicomSeries(await seriesOf('compressed/misc/JPGExtended.dcm'));
      expect(log).not.toHaveBeenCalled();
      expect(err).not.toHaveBeenCalled();
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
  });

  it('reads JPEG Extended 12-bit, JPEG 2000 lossy, 8-bit JPEG lossless and Deflated files', async () => {
    const cases: [string, [number, number, number]][] = [
      ['compressed/misc/JPGExtended.dcm', [256, 1024, 1]],
      ['compressed/misc/JPEG2000.dcm', [256, 1024, 1]],
      ['compressed/misc/JPEG-LL.dcm', [256, 1024, 1]],
      ['compressed/misc/MR2_J2KI.dcm', [1024, 1024, 1]],
      ['compressed/misc/JPGLosslessP14SV1_1s_1f_8b.dcm', [1024, 768, 1]],
      ['compressed/misc/image_dfl.dcm', [512, 512, 1]],
    ];
    for (const [file, dims] of cases) {
      const v = await readDicomSeries(await seriesOf(file));
      expect(v.dims, file).toEqual(dims);
      const s = stats(v);
      expect(Number.isFinite(s.mean), file).toBe(true);
      expect(s.max, file).toBeGreaterThan(s.min);
    }
  });
});

describe.skipIf(!hasData('dicom'))('native pixel reading agrees with itk-wasm/GDCM', () => {
  const files = [
    'compressed/mr-small-pydicom/MR_small.dcm', // EVR LE, signed 16-bit
    'compressed/mr-small-pydicom/MR_small_bigendian.dcm', // EVR BE
    'compressed/misc/image_dfl.dcm', // deflated, 8-bit
    'mr-series/dicomdir-pcir-mini/77654033/CR1/6154', // MONOCHROME1, 12 of 16 bits, rescale 0.684 / 200
    'mr-series/dicomdir-pcir-mini/77654033/CT2/17106', // CT, intercept -1024
    'mr-series/cardiac-legacy-multiframe/MR-MONO2-8-16x-heart.dcm', // 8-bit, 16 frames
    'enhanced/siemens-xa10-fmri/6_1.dcm', // Enhanced MR
  ];
  for (const file of files) {
    it(file, async () => {
      const info = await seriesOf(file);
      const native = await readDicomSeries(info);
      const itk = await readDicomSeries(info, { decoder: 'itk' });
      expect(native.dims).toEqual(itk.dims);
      let diff = 0;
      for (let i = 0; i < native.data.length; i++) diff = Math.max(diff, Math.abs(native.data[i]! - itk.data[i]!));
      expect(diff).toBeLessThan(1e-3);
    });
  }

  it('Philips Enhanced: per-frame rescale is applied on both paths (GDCM only knows frame 1)', async () => {
    const r = await scanDicom(dataPath('dicom/enhanced/philips-IM_0027_fMAP.dcm'));
    for (const info of r.series) {
      const native = await readDicomSeries(info);
      const itk = await readDicomSeries(info, { decoder: 'itk' });
      let diff = 0;
      for (let i = 0; i < native.data.length; i++) diff = Math.max(diff, Math.abs(native.data[i]! - itk.data[i]!));
      expect(diff, info.part).toBeLessThan(1e-2);
    }
    // The field map is in Hz: stored 0..4095 x 0.2442 - 500 spans about -500..+500.
    const map = await readDicomSeries(r.series.find((s) => s.part.startsWith('T1\\FIELD_MAP'))!);
    const s = stats(map);
    expect(s.min).toBeGreaterThanOrEqual(-500.001);
    expect(s.max).toBeLessThanOrEqual(0.24420024420024 * 4095 - 500 + 1e-3);
  });
});
