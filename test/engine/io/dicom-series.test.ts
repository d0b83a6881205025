import { describe, expect, it } from 'vitest';
import type { DicomFileHeader, FrameHeader } from '../../../main/io/dicom/header.js';
import { groupSeries } from '../../../main/io/dicom/series.js';
import { mergeCineSlices } from '../../../main/io/dicom/stack.js';

// Synthetic headers: no real short-axis cine is available (see the data README), so the cine layout rules are
// checked on hand-made stacks whose expected order is known by construction.
function header(path: string, over: Partial<DicomFileHeader> = {}, frame: Partial<FrameHeader> = {}): DicomFileHeader {
  return {
    path,
    fileSize: 1000,
    transferSyntax: '1.2.840.10008.1.2.1',
    sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
    sopInstanceUid: `sop-${path}`,
    studyInstanceUid: 'study',
    seriesInstanceUid: 'series',
    frameOfReferenceUid: 'for',
    patientId: 'P1',
    patientName: 'Doe^Jane',
    studyDate: '20240301',
    studyTime: '',
    studyDescription: 'Cardiac',
    seriesDescription: 'SAX cine',
    modality: 'MR',
    imageType: 'ORIGINAL\\PRIMARY\\M',
    rows: 4,
    columns: 3,
    samplesPerPixel: 1,
    bitsAllocated: 16,
    pixelRepresentation: 0,
    numberOfFrames: 1,
    hasPixelData: true,
    pixelBytes: 24,
    enhanced: false,
    frames: [{ rescaleSlope: 1, rescaleIntercept: 0, pixelSpacing: [1.5, 1.25], sliceThickness: 8, ...frame }],
    ...over,
  };
}

// An oblique short-axis orientation: row and column directions, slice normal = row x col.
const ROW = [0.6, 0.8, 0];
const COL = [-0.48, 0.36, 0.8];
const N = [0.64, -0.48, 0.6]; // cross(ROW, COL)
const at = (k: number, gap = 10): [number, number, number] => [5 + N[0]! * gap * k, -3 + N[1]! * gap * k, 2 + N[2]! * gap * k];
const ori = [...ROW, ...COL] as FrameHeader['orientation'];

function shuffle<T>(a: T[]): T[] {
  let seed = 7;
  const out = [...a];
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 48271) % 2147483647;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('series layout', () => {
  it('sorts an oblique stack along the slice normal whatever the file order and instance numbers', () => {
    const files = shuffle([0, 1, 2, 3, 4].map((k) => header(`s${k}`, { instanceNumber: 10 - k }, { position: at(k), orientation: ori })));
    const [s] = groupSeries(files);
    expect(s!.dims).toEqual([3, 4, 5]);
    expect(s!.frames).toBe(1);
    expect(s!.planes[0]!.map((p) => p.path)).toEqual(['s0', 's1', 's2', 's3', 's4']);
    expect(s!.origin).toEqual(at(0));
    expect(s!.spacing[0]).toBe(1.25); // PixelSpacing is [row spacing, column spacing]: i steps along a row
    expect(s!.spacing[1]).toBe(1.5);
    expect(s!.spacing[2]).toBeCloseTo(10, 9);
    const d = s!.direction;
    [ROW, COL, N].forEach((axis, c) => axis.forEach((v, r) => expect(d[r * 3 + c]).toBeCloseTo(v, 12)));
    expect(s!.studyDate).toBe('2024-03-01');
  });

  it('splits a cine by TriggerTime (3 slices x 4 phases), frame interval from the trigger delays', () => {
    const files: DicomFileHeader[] = [];
    for (let k = 0; k < 3; k++) {
      for (let t = 0; t < 4; t++) {
        // Instance numbers deliberately disagree with the phase order.
        files.push(header(`k${k}t${t}`, { instanceNumber: 100 - t * 3 - k }, { position: at(k, 8), orientation: ori, triggerTime: 40 * t + 5 }));
      }
    }
    const [s] = groupSeries(shuffle(files));
    expect(s!.dims[2]).toBe(3);
    expect(s!.frames).toBe(4);
    expect(s!.frameOrder).toBe('TriggerTime');
    expect(s!.frameInterval).toBeCloseTo(0.04, 12);
    for (let t = 0; t < 4; t++) expect(s!.planes[t]!.map((p) => p.path)).toEqual([`k0t${t}`, `k1t${t}`, `k2t${t}`]);
  });

  it('falls back to TemporalPositionIdentifier, then AcquisitionTime, then InstanceNumber', () => {
    const make = (f: (k: number, t: number) => [Partial<DicomFileHeader>, Partial<FrameHeader>]) => {
      const files: DicomFileHeader[] = [];
      for (let k = 0; k < 2; k++) for (let t = 0; t < 3; t++) {
        const [h, fr] = f(k, t);
        files.push(header(`k${k}t${t}`, h, { position: at(k), orientation: ori, ...fr }));
      }
      return groupSeries(shuffle(files))[0]!;
    };
    const byTpi = make((_k, t) => [{ instanceNumber: 1 }, { temporalIndex: 3 - t }]);
    expect(byTpi.frameOrder).toBe('TemporalPositionIndex');
    expect(byTpi.planes[0]![0]!.path).toBe('k0t2'); // temporal index 1 comes first
    const byTime = make((_k, t) => [{ acquisitionTime: 3600 + 2.5 * t, instanceNumber: 1 }, {}]);
    expect(byTime.frameOrder).toBe('AcquisitionTime');
    expect(byTime.frameInterval).toBeCloseTo(2.5, 9);
    const byNumber = make((k, t) => [{ instanceNumber: 1 + k + 2 * t }, {}]);
    expect(byNumber.frameOrder).toBe('InstanceNumber');
    expect(byNumber.planes.map((f) => f[1]!.path)).toEqual(['k1t0', 'k1t1', 'k1t2']);
  });

  it('drops duplicate SOP instances and keeps a complete grid when positions hold unequal counts', () => {
    const files = [0, 1, 2].map((k) => header(`s${k}`, { instanceNumber: k }, { position: at(k), orientation: ori }));
    files.push({ ...files[1]!, path: 'copy-of-s1' });
    files.push(header('extra', { instanceNumber: 9 }, { position: at(2), orientation: ori }));
    const [s] = groupSeries(files);
    expect(s!.frames).toBe(1);
    expect(s!.dims[2]).toBe(3);
    expect(s!.warnings.join(' ')).toMatch(/1 duplicate image\(s\) ignored/);
    expect(s!.warnings.join(' ')).toMatch(/different numbers of images \(1, 2\)/);
    // Of two files with one SOP Instance UID the first by (InstanceNumber, path) stays: 'copy-of-s1' < 's1'.
    expect(s!.unusedFiles.map((f) => f.path).sort()).toEqual(['extra', 's1']);
    expect(s!.files.sort()).toEqual(['copy-of-s1', 's0', 's2']);
  });

  it('keeps series apart by UID and splits one UID by orientation and image size', () => {
    const a = header('a', {}, { position: at(0), orientation: ori });
    const b = header('b', { seriesInstanceUid: 'other' }, { position: at(0), orientation: ori });
    const c = header('c', {}, { position: [0, 0, 0], orientation: [1, 0, 0, 0, 1, 0] });
    const d = header('d', { rows: 8 }, { position: at(1), orientation: ori });
    const out = groupSeries([a, b, c, d]);
    expect(out.map((s) => s.files.join()).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(new Set(out.map((s) => s.key)).size).toBe(4);
    expect(out.filter((s) => s.seriesInstanceUid === 'series').every((s) => s.part !== '')).toBe(true);
  });

  it('Enhanced multi-frame: per-frame positions and temporal indices in one file make a 3D+t volume', () => {
    const frames: FrameHeader[] = [];
    for (let t = 0; t < 2; t++) for (let k = 2; k >= 0; k--) frames.push({ rescaleSlope: 1, rescaleIntercept: 0, position: at(k), orientation: ori, pixelSpacing: [2, 2], temporalIndex: t + 1 });
    const [s] = groupSeries([header('enh', { enhanced: true, numberOfFrames: 6, frames })]);
    expect(s!.dims[2]).toBe(3);
    expect(s!.frames).toBe(2);
    expect(s!.planes.map((f) => f.map((p) => p.frame))).toEqual([
      [2, 1, 0],
      [5, 4, 3],
    ]);
  });

  it('stacks one-series-per-slice cines (Siemens style) into one 3D+t volume, and only those', () => {
    const files: DicomFileHeader[] = [];
    for (let k = 0; k < 3; k++) {
      for (let t = 0; t < 4; t++) {
        files.push(
          header(`b${k + 1}/t${t}`, { seriesInstanceUid: `sax-b${k + 1}`, seriesDescription: `CINE_SAX_b${k + 1}`, instanceNumber: t + 1 }, { position: at(2 - k, 7), orientation: ori, triggerTime: 30 * t }),
        );
      }
    }
    // A 4-chamber cine in the same study: other orientation, stays on its own.
    for (let t = 0; t < 4; t++) files.push(header(`4ch/t${t}`, { seriesInstanceUid: '4ch' }, { position: [0, 0, 0], orientation: [1, 0, 0, 0, 0, -1], triggerTime: 30 * t }));
    const out = mergeCineSlices(groupSeries(shuffle(files)));
    expect(out).toHaveLength(2);
    const stack = out.find((s) => s.mergedFrom)!;
    expect(stack.mergedFrom).toEqual(['sax-b3', 'sax-b2', 'sax-b1']); // ascending along the normal
    expect(stack.dims).toEqual([3, 4, 3]);
    expect(stack.frames).toBe(4);
    expect(stack.spacing[2]).toBeCloseTo(7, 9);
    expect(stack.origin).toEqual(at(0, 7));
    expect(stack.seriesDescription).toBe('CINE_SAX_b');
    expect(stack.planes[2]!.map((p) => p.path)).toEqual(['b3/t2', 'b2/t2', 'b1/t2']);
    expect(stack.files).toHaveLength(12);
    expect(out.find((s) => !s.mergedFrom)!.seriesInstanceUid).toBe('4ch');

    // Two single-slice cines at the same position (a repeat) are not stacked.
    const repeat = [0, 1].flatMap((r) => [0, 1].map((t) => header(`r${r}t${t}`, { seriesInstanceUid: `rep${r}` }, { position: at(0), orientation: ori, triggerTime: t * 30 })));
    expect(mergeCineSlices(groupSeries(repeat)).every((s) => !s.mergedFrom)).toBe(true);
  });
});
