import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDicom, PIXEL_DATA } from '../../../main/io/dicom/dataset.js';
import { readDicomHeader } from '../../../main/io/dicom/header.js';
import { labelsOnGrid, readDicomSeg, scanDicom, type DicomScanResult } from '../../../main/io/dicom/index.js';
import { indexToPoint } from '../../../main/io/volume.js';
import { dataPath, hasData } from '../../support/data.js';

/** Set bits of each frame of a 1-bit BINARY SEG, counted straight from its Pixel Data (bit n = pixel n, LSB first). */
function bitsPerFrame(path: string, frames: number, pixelsPerFrame: number): number[] {
  const { dataset } = parseDicom(readFileSync(path));
  const el = dataset.elements.get(PIXEL_DATA)!;
  const bytes = dataset.buf.subarray(el.offset, el.offset + el.length);
  const counts: number[] = [];
  for (let f = 0; f < frames; f++) {
    let n = 0;
    for (let p = f * pixelsPerFrame; p < (f + 1) * pixelsPerFrame; p++) n += (bytes[p >> 3]! >> (p & 7)) & 1;
    counts.push(n);
  }
  return counts;
}

describe.skipIf(!hasData('dicom/seg'))('DICOM SEG import', () => {
  let scan: DicomScanResult;
  beforeAll(async () => {
    scan = await scanDicom(dataPath('dicom/seg'), { includeSegmentations: true });
  });
  const seg = (name: string) => scan.segmentations.find((s) => s.path.endsWith(name))!;

  it('lists SEG files with their segments and referenced series instead of reporting them as errors', () => {
    expect(scan.segmentations).toHaveLength(8);
    expect(scan.errors).toEqual([]);
    const liver = seg('liver_seg.dcm');
    expect(liver.segments).toEqual([{ value: 1, label: 'Liver' }]);
    expect(liver.segmentationType).toBe('BINARY');
    // README: its 3 referenced SOP instances are the 3 CT files next to it.
    const ct = scan.series.find((s) => s.files.some((f) => f.includes('liver-ct3slice/ct/')))!;
    expect(liver.referencedSeriesUid).toBe(ct.seriesInstanceUid);
    expect(liver.referencedSopInstanceUids).toHaveLength(3);
    expect(seg('seg_image_ct_binary_overlap.dcm').segments.map((s) => s.label)).toEqual(['first segment', 'second segment']);
  });

  it('decodes the liver SEG and places every labelled voxel on its CT slice, frame by frame', async () => {
    const info = seg('liver_seg.dcm');
    const labels = await readDicomSeg(info);
    expect(labels.dims).toEqual([512, 512, 3]);
    const ct = scan.series.find((s) => s.seriesInstanceUid === info.referencedSeriesUid)!;
    const placed = labelsOnGrid(labels, ct);
    const expected = bitsPerFrame(info.path, 3, 512 * 512);
    const total = expected.reduce((a, b) => a + b, 0);
    expect(placed.missed).toBe(0);
    expect(placed.placed).toBe(total);
    // Each SEG frame lands on the CT slice at the same z (the frames' own ImagePositionPatient).
    const header = await readDicomHeader(info.path);
    header.frames.forEach((f, i) => {
      const k = [0, 1, 2].find((kk) => Math.abs(indexToPoint(ct, [0, 0, kk])[2] - f.position![2]) < 1e-3)!;
      let n = 0;
      for (let p = k * 512 * 512; p < (k + 1) * 512 * 512; p++) n += placed.data[p] === 1 ? 1 : 0;
      expect(n, `frame ${i}`).toBe(expected[i]);
    });
  });

  it('refuses what dcmqi cannot read correctly, with a reason naming the file', async () => {
    await expect(readDicomSeg(seg('liver_rle.dcm'))).rejects.toThrow(/liver_rle\.dcm: SEG in RLE Lossless is not supported/);
    await expect(readDicomSeg(seg('liver_j2k.dcm'))).rejects.toThrow(/JPEG 2000 Lossless is not supported/);
    await expect(readDicomSeg(seg('liver_deflate.dcm'))).rejects.toThrow(/Deflated Image Frame Compression is not supported/);
    await expect(readDicomSeg(seg('seg_image_ct_binary_overlap.dcm'))).rejects.toThrow(/seg_image_ct_binary_overlap\.dcm: SEG cannot be read/);
  });

  it('without includeSegmentations, SEGs are per-file errors saying import is not supported', async () => {
    const plain = await scanDicom(dataPath('dicom/seg/highdicom'));
    expect(plain.errors).toHaveLength(4);
    expect(plain.errors.every((e) => /SEG import not supported yet/.test(e.reason))).toBe(true);
    expect(plain.segmentations).toEqual([]);
  });
});
