import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DicomParseError, parseDicom } from '../../../main/io/dicom/dataset.js';
import { headerFromDataSet } from '../../../main/io/dicom/header.js';
import { DicomReadError, readDicomSeries, scanDicom } from '../../../main/io/dicom/index.js';
import { dataPath, hasData } from '../../support/data.js';

// Real files of every kind the parser meets: EVR LE, IVR LE, EVR BE, deflated, Enhanced with deep
// functional groups, encapsulated JPEG, a SEG, an RTSTRUCT.
const SOURCES = [
  'compressed/mr-small-pydicom/MR_small.dcm',
  'compressed/mr-small-pydicom/MR_small_implicit.dcm',
  'compressed/mr-small-pydicom/MR_small_bigendian.dcm',
  'compressed/misc/image_dfl.dcm',
  'enhanced/siemens-xa10-fmri/6_1.dcm',
  'compressed/mr-small-pydicom/MR_small_jpeg_ls_lossless.dcm',
  'seg/highdicom/seg_image_ct_binary.dcm',
  'rtstruct/pydicom_rtstruct.dcm',
];

function corrupt(src: Buffer, rand: () => number): Buffer {
  const cut = rand() < 0.5 ? Math.floor(rand() * src.length) : src.length;
  const b = Buffer.from(src.subarray(0, cut));
  const flips = Math.floor(rand() * 4);
  for (let f = 0; f < flips && b.length; f++) {
    const at = Math.floor(rand() * b.length);
    b[at] = b[at]! ^ (1 << Math.floor(rand() * 8));
  }
  return b;
}

describe.skipIf(!hasData('dicom'))('DICOM fuzz: truncated and bit-flipped copies of real files', () => {
  let seed = 20240229;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  // Read while collecting only where the data exists: a skipped describe still runs its body.
  const sources = hasData('dicom') ? SOURCES.map((rel) => readFileSync(dataPath('dicom', rel))) : [];
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pix2rep-dicom-fuzz-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('parses 1,600 corrupted copies in memory: a header or a DicomParseError, nothing else', () => {
    let ok = 0;
    for (let n = 0; n < 1600; n++) {
      const b = corrupt(sources[n % sources.length]!, rand);
      try {
        const p = parseDicom(b);
        headerFromDataSet('/fuzz.dcm', b.length, p.transferSyntax, p.dataset);
        ok++;
      } catch (err) {
        expect(err).toBeInstanceOf(DicomParseError);
      }
    }
    // Flips in pixel data or padding leave the header readable: both outcomes must occur.
    expect(ok).toBeGreaterThan(0);
    expect(ok).toBeLessThan(1600);
  });

  it('scans and decodes 40 corrupted files on disk: every one a series or a per-file error, never a crash', async () => {
    for (let n = 0; n < 40; n++) writeFileSync(join(dir, `f${n}.dcm`), corrupt(sources[n % sources.length]!, rand));
    const scan = await scanDicom(dir);
    const files = new Set([...scan.series.flatMap((s) => s.files), ...scan.errors.map((e) => e.path)]);
    expect(files.size).toBe(40);
    for (const s of scan.series) {
      try {
        const v = await readDicomSeries(s);
        expect(v.data.length).toBe(v.dims[0] * v.dims[1] * v.dims[2] * v.frames);
      } catch (err) {
        expect(err).toBeInstanceOf(DicomReadError);
      }
    }
  });
});
