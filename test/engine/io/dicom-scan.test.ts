import { copyFileSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDicomSeries, scanDicom, type DicomScanResult } from '../../../main/io/dicom/index.js';
import { dataPath, hasData } from '../../support/data.js';

const ROOT = dataPath('dicom');
const rel = (p: string) => relative(ROOT, p);

describe.skipIf(!hasData('dicom'))('DICOM folder scan', () => {
  let scan: DicomScanResult;
  const progress: [number, number][] = [];
  const seriesIn = (dir: string) => scan.series.filter((s) => s.files.every((f) => rel(f).startsWith(dir)));
  const errorOf = (file: string) => scan.errors.find((e) => rel(e.path) === file)?.reason;

  beforeAll(async () => {
    scan = await scanDicom(ROOT, { onProgress: (d, t) => progress.push([d, t]) });
  });

  it('scans the whole folder without throwing and reports progress to the end', () => {
    expect(scan.filesSeen).toBeGreaterThan(300);
    expect(progress.at(-1)).toEqual([scan.filesSeen, scan.filesSeen]);
    // Every file is accounted for exactly once: in a series, as an error, or skipped as not DICOM.
    // A file may feed several volumes (the Philips B0 file holds two), so series files are counted once.
    const inSeries = [...new Set(scan.series.flatMap((s) => s.files))];
    const all = [...inSeries, ...scan.errors.map((e) => e.path), ...scan.skipped.map((s) => s.path)];
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(scan.filesSeen);
    // Re-encoded copies sharing one SOP Instance UID (MR_small in 7 syntaxes) are reported as duplicates.
    expect(errorOf('compressed/mr-small-pydicom/MR_small_RLE.dcm')).toMatch(/duplicate image/);
    expect(scan.skipped.filter((s) => !/(\.(nii|json|md|tsv|txt)|README)$/.test(s.path))).toEqual([]);
  });

  it('groups the GE EPI (150 files, no TriggerTime/TemporalPositionIdentifier) into 15 slices x 10 frames', () => {
    const [s, ...rest] = seriesIn('mr-series/ge-epi-15slices-10vols/');
    expect(rest).toHaveLength(0);
    expect(s!.files).toHaveLength(150);
    expect(s!.dims).toEqual([64, 64, 15]);
    expect(s!.frames).toBe(10);
    expect(s!.frameOrder).toBe('InstanceNumber');
    expect(s!.spacing[0]).toBeCloseTo(3.75, 6);
    expect(s!.spacing[2]).toBeCloseTo(5, 3);
    // README: axial, z from -17.7 to 52.3; slices sorted along the normal (+z for an axial row x col).
    expect(s!.origin[2]).toBeCloseTo(-17.69, 1);
    expect(s!.direction).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(s!.patientName).toBe('Test^Regression');
    expect(s!.seriesDescription).toBe('Axial EPI-FMRI (Sequential S to I)');
    expect(s!.modality).toBe('MR');
    expect(s!.studyDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    // Each time frame holds one file per slice, and each slice one file per frame.
    for (const t of s!.planes) expect(new Set(t.map((p) => p.path)).size).toBe(15);
  });

  it('splits the Siemens XA10 Enhanced MR (4 files x 6 frames) into 6 slices x 4 time points', () => {
    const [s, ...rest] = seriesIn('enhanced/siemens-xa10-fmri/');
    expect(rest).toHaveLength(0);
    expect(s!.dims).toEqual([64, 64, 6]);
    expect(s!.frames).toBe(4);
    expect(s!.frameOrder).toBe('TemporalPositionIndex');
    expect(s!.spacing.map((v) => +v.toFixed(3))).toEqual([3.375, 3.375, 2.4]);
    // Time point t comes from file 6_(t+1).
    s!.planes.forEach((t, i) => expect(t.every((p) => p.path.endsWith(`6_${i + 1}.dcm`))).toBe(true));
  });

  it('separates the Philips Enhanced magnitude and field-map frames into two 32-slice volumes', () => {
    const parts = seriesIn('enhanced/philips-IM_0027_fMAP.dcm');
    expect(parts).toHaveLength(2);
    expect(parts.map((p) => p.part.split(',')[0]).sort()).toEqual(['T1\\FIELD_MAP', 'T1\\M']);
    for (const p of parts) {
      expect(p.dims).toEqual([64, 64, 32]);
      expect(p.frames).toBe(1);
      p.spacing.forEach((v) => expect(v).toBeCloseTo(4, 6));
    }
    const map = parts.find((p) => p.part.startsWith('T1\\FIELD_MAP'))!;
    // The field map has its own per-frame rescale (PixelValueTransformation): slope 0.2442, intercept -500.
    expect(map.planes[0]![0]!.rescaleIntercept).toBe(-500);
  });

  it('unpacks Siemens mosaics into tiles, and reads the legacy 16-frame heart file as a one-slice cine', () => {
    const [mosaic] = seriesIn('mr-series/siemens-mosaic-epi/');
    expect(mosaic!.dims).toEqual([72, 72, 5]);
    expect(mosaic!.frames).toBe(2);
    const [heart] = seriesIn('mr-series/cardiac-legacy-multiframe/');
    expect(heart!.dims).toEqual([256, 256, 1]);
    expect(heart!.frames).toBe(16);
    expect(heart!.frameInterval).toBeCloseTo(0.06947, 6);
    expect(heart!.warnings.join(' ')).toMatch(/no ImagePositionPatient/);
  });

  it('sorts CT slices along the normal and splits localizers of different orientation', () => {
    const [ct] = seriesIn('mr-series/dicomdir-pcir-mini/77654033/CT2/');
    expect(ct!.dims[2]).toBe(4);
    const z = ct!.planes[0]!.map((p) => p.path.split('/').pop());
    // File names follow z: 17106 at -99.5 mm, then 17136, 17166, 17196 at 103.0..105.5 mm.
    expect(z).toEqual(['17106', '17136', '17166', '17196']);
    expect(ct!.warnings.join(' ')).toMatch(/uneven slice spacing/);
    const scouts = seriesIn('mr-series/dicomdir-pcir-mini/98892001/CT2N/');
    expect(scouts).toHaveLength(2);
    expect(new Set(scouts.map((s) => s.key)).size).toBe(2);
    expect(scouts.every((s) => s.part.includes('LOCALIZER'))).toBe(true);
  });

  it('reports SEG, RTSTRUCT, DICOMDIR and header-only files as not image series', () => {
    expect(errorOf('seg/liver-ct3slice/liver_seg.dcm')).toMatch(/SEG import not supported yet/);
    expect(errorOf('seg/highdicom/seg_image_ct_binary.dcm')).toMatch(/not an image series/);
    expect(errorOf('rtstruct/dicompyler-example/rtss.dcm')).toMatch(/RTSTRUCT import not supported yet/);
    expect(errorOf('rtstruct/pydicom_rtstruct.dcm')).toMatch(/RTSTRUCT/);
    expect(errorOf('mr-series/dicomdir-pcir-mini/DICOMDIR')).toMatch(/no Pixel Data/);
    // The SEG's source CT still imports next to it.
    expect(seriesIn('seg/liver-ct3slice/ct/')[0]!.dims).toEqual([512, 512, 3]);
  });

  it('gives every broken file in malformed/ a per-file reason, and still imports the readable ones', () => {
    const expected: Record<string, RegExp> = {
      'empty-zero-bytes.dcm': /empty file \(0 bytes\)/,
      'gzipped-MR_small.dcm': /not a DICOM file \(a gzip file\)/,
      'not-dicom-jpeg.dcm': /not a DICOM file \(a JPEG image\)/,
      'MR_truncated.dcm': /Pixel Data truncated: 8130 bytes where 8192/,
      'badVR.dcm': /invalid NumberOfFrames "1A"/,
      'rtplan_truncated.dcm': /runs past the end/,
      'emri_small_jpeg_2k_lossless_too_short.dcm': /truncated/,
      'no-pixel-data.dcm': /Structured Report/,
      'ExplVR_LitEndNoMeta.dcm': /RT Ion Plan/,
      'ExplVR_BigEndNoMeta.dcm': /RT Ion Plan/,
      'meta_missing_tsyntax.dcm': /no data set/,
      'no_meta.dcm': /not a DICOM file/,
      'UN_sequence.dcm': /no Pixel Data/,
      'priv_SQ.dcm': /no Pixel Data/,
      'nested_priv_SQ.dcm': /Rows\/Columns/,
      'empty_charset_LEI.dcm': /no Pixel Data/,
      'no_meta_group_length.dcm': /no Pixel Data/,
      'no-meta-length-test.dcm': /no Pixel Data/,
    };
    for (const [file, reason] of Object.entries(expected)) expect(errorOf(`malformed/${file}`), file).toMatch(reason);
    // Readable oddities become series: odd-length RGB, padded pixel data, a UN-encoded sequence before JPEG pixels.
    const readable = scan.series.flatMap((s) => s.files).map(rel);
    expect(readable).toContain('malformed/SC_rgb_small_odd.dcm');
    expect(readable).toContain('malformed/bad_sequence.dcm');
  });

  it('decodes the readable malformed files, and names the file whose compressed pixels are corrupt', async () => {
    const rgb = (await scanDicom(dataPath('dicom/malformed/SC_rgb_small_odd.dcm'))).series[0]!;
    const v = await readDicomSeries(rgb);
    expect(v.dims).toEqual([3, 3, 1]);
    const bad = (await scanDicom(dataPath('dicom/malformed/JPEG2000-embedded-sequence-delimiter.dcm'))).series[0]!;
    await expect(readDicomSeries(bad)).rejects.toThrow(/JPEG2000-embedded-sequence-delimiter\.dcm: pixel data cannot be decoded/);
  });

  it('stops when cancelled', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(scanDicom(ROOT, { signal: ac.signal })).rejects.toThrow();
  });
});

describe.skipIf(!hasData('dicom'))('DICOM scan of a folder with a zero-byte file and an unrelated file', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pix2rep-dicom-'));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'empty.dcm'), Buffer.alloc(0));
    writeFileSync(join(dir, 'EMPTYNONAME'), Buffer.alloc(0));
    writeFileSync(join(dir, 'notes.bin'), 'just some text, no magic');
    copyFileSync(dataPath('dicom/compressed/mr-small-pydicom/MR_small.dcm'), join(dir, 'sub', 'IM0001'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('imports the good file, reports the zero-byte .dcm, and skips unnamed non-DICOM files quietly', async () => {
    const r = await scanDicom(dir);
    expect(r.series).toHaveLength(1);
    expect(r.series[0]!.files).toEqual([join(dir, 'sub', 'IM0001')]);
    expect(r.errors).toEqual([{ path: join(dir, 'empty.dcm'), reason: 'empty file (0 bytes)' }]);
    expect(r.skipped.map((s) => s.path).sort()).toEqual([join(dir, 'EMPTYNONAME'), join(dir, 'notes.bin')]);
    const strict = await scanDicom(dir, { strict: true });
    expect(strict.errors).toHaveLength(3);
  });
});
