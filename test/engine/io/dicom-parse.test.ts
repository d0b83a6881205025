import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DicomParseError, looksLikeDicom, parseDicom, PIXEL_DATA } from '../../../main/io/dicom/dataset.js';
import { headerFromDataSet, imageProblem, parseTime } from '../../../main/io/dicom/header.js';
import { isoDate } from '../../../main/io/dicom/series.js';
import { T, TS } from '../../../main/io/dicom/tags.js';

// Small hand-built data sets: each element is encoded exactly as PS3.5 section 7.1 describes.
type Enc = { le: boolean; explicit: boolean };
const LONG = new Set(['OB', 'OW', 'SQ', 'UN', 'UT']);

function el(tag: number, vr: string, value: Buffer, enc: Enc): Buffer {
  const u16 = (v: number) => {
    const b = Buffer.alloc(2);
    if (enc.le) b.writeUInt16LE(v);
    else b.writeUInt16BE(v);
    return b;
  };
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    if (enc.le) b.writeUInt32LE(v >>> 0);
    else b.writeUInt32BE(v >>> 0);
    return b;
  };
  const head = [u16(tag >>> 16), u16(tag & 0xffff)];
  if (!enc.explicit) return Buffer.concat([...head, u32(value.length), value]);
  if (LONG.has(vr)) return Buffer.concat([...head, Buffer.from(vr), Buffer.alloc(2), u32(value.length), value]);
  return Buffer.concat([...head, Buffer.from(vr), u16(value.length), value]);
}
const str = (s: string) => Buffer.from(s.length % 2 ? `${s} ` : s, 'latin1');
const uid = (s: string) => Buffer.from(s.length % 2 ? `${s}\0` : s, 'latin1');
function us(v: number, le: boolean): Buffer {
  const b = Buffer.alloc(2);
  if (le) b.writeUInt16LE(v);
  else b.writeUInt16BE(v);
  return b;
}
function meta(ts: string): Buffer {
  const enc = { le: true, explicit: true };
  const body = Buffer.concat([el(0x00020010, 'UI', uid(ts), enc)]);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), el(0x00020000, 'UL', Buffer.from([body.length, 0, 0, 0]), enc), body]);
}
/** A 2x2 16-bit image with a position and orientation, and one nested sequence of undefined length. */
function image(enc: Enc): Buffer {
  const pix = Buffer.alloc(8);
  [1, 2, 300, -4].forEach((v, i) => (enc.le ? pix.writeInt16LE(v, i * 2) : pix.writeInt16BE(v, i * 2)));
  const item = Buffer.concat([el(T.TemporalPositionIndex, 'UL', Buffer.from(enc.le ? [3, 0, 0, 0] : [0, 0, 0, 3]), enc)]);
  const undefItem = Buffer.concat([
    el(0xfffee000, '', Buffer.alloc(0), { ...enc, explicit: false }).subarray(0, 4),
    Buffer.from([0xff, 0xff, 0xff, 0xff]),
    item,
    enc.le ? Buffer.from([0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0]) : Buffer.from([0xff, 0xfe, 0xe0, 0x0d, 0, 0, 0, 0]),
  ]);
  const seqDelim = enc.le ? Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]) : Buffer.from([0xff, 0xfe, 0xe0, 0xdd, 0, 0, 0, 0]);
  // A sequence of undefined length: the header says 0xFFFFFFFF and the items end with a delimiter.
  const seqHead = el(T.FrameContentSequence, 'SQ', Buffer.alloc(0), enc);
  const undefinedLen = Buffer.from(seqHead);
  undefinedLen.fill(0xff, undefinedLen.length - 4);
  return Buffer.concat([
    el(T.SOPClassUID, 'UI', uid('1.2.840.10008.5.1.4.1.1.4'), enc),
    el(T.StudyDate, 'DA', str('20240229'), enc),
    el(T.Modality, 'CS', str('MR'), enc),
    el(T.PatientName, 'PN', str('Doe^Jane'), enc),
    el(T.SeriesInstanceUID, 'UI', uid('1.2.3.4'), enc),
    el(T.ImagePositionPatient, 'DS', str('-10.5\\20\\30.25'), enc),
    el(T.ImageOrientationPatient, 'DS', str('1\\0\\0\\0\\1\\0'), enc),
    undefinedLen,
    undefItem,
    seqDelim,
    el(T.Rows, 'US', us(2, enc.le), enc),
    el(T.Columns, 'US', us(2, enc.le), enc),
    el(T.PixelSpacing, 'DS', str('0.5\\0.25'), enc),
    el(T.BitsAllocated, 'US', us(16, enc.le), enc),
    el(T.PixelRepresentation, 'US', us(1, enc.le), enc),
    el(T.RescaleSlope, 'DS', str('2'), enc),
    el(PIXEL_DATA, 'OW', pix, enc),
  ]);
}

describe('DICOM header parser', () => {
  const cases: [string, string, Enc][] = [
    ['Explicit VR Little Endian', TS.EXPLICIT_LE, { le: true, explicit: true }],
    ['Implicit VR Little Endian', TS.IMPLICIT_LE, { le: true, explicit: false }],
    ['Explicit VR Big Endian', TS.EXPLICIT_BE, { le: false, explicit: true }],
  ];
  for (const [name, ts, enc] of cases) {
    it(`reads ${name} with File Meta`, () => {
      const buf = Buffer.concat([meta(ts), image(enc)]);
      const parsed = parseDicom(buf);
      expect(parsed.transferSyntax).toBe(ts);
      const h = headerFromDataSet('/x.dcm', buf.length, parsed.transferSyntax, parsed.dataset);
      expect(h.patientName).toBe('Doe^Jane');
      expect(h.modality).toBe('MR');
      expect(h.rows).toBe(2);
      expect(h.frames[0]!.position).toEqual([-10.5, 20, 30.25]);
      expect(h.frames[0]!.orientation).toEqual([1, 0, 0, 0, 1, 0]);
      expect(h.frames[0]!.pixelSpacing).toEqual([0.5, 0.25]);
      expect(h.frames[0]!.rescaleSlope).toBe(2);
      expect(parsed.dataset.items(T.FrameContentSequence)[0]!.number(T.TemporalPositionIndex)).toBe(3);
      expect(h.pixelBytes).toBe(8);
      expect(imageProblem(h)).toBeUndefined();
    });
  }

  it('reads a bare data set without preamble or File Meta, guessing the encoding', () => {
    for (const enc of [{ le: true, explicit: true }, { le: true, explicit: false }, { le: false, explicit: true }]) {
      const buf = image(enc);
      expect(looksLikeDicom(buf)).toBe(true);
      const parsed = parseDicom(buf);
      expect(parsed.hasMeta).toBe(false);
      expect(parsed.dataset.string(T.SeriesInstanceUID)).toBe('1.2.3.4');
    }
  });

  it('inflates Deflated Explicit VR Little Endian data sets', () => {
    const buf = Buffer.concat([meta(TS.DEFLATED), deflateRawSync(image({ le: true, explicit: true }))]);
    const parsed = parseDicom(buf);
    expect(parsed.dataset.string(T.PatientName)).toBe('Doe^Jane');
    expect(parsed.dataset.elements.get(PIXEL_DATA)!.length).toBe(8);
  });

  it('reports truncation, garbage and empty input as DicomParseError with a reason', () => {
    const full = Buffer.concat([meta(TS.EXPLICIT_LE), image({ le: true, explicit: true })]);
    expect(() => parseDicom(Buffer.alloc(0))).toThrow(/empty file/);
    expect(() => parseDicom(Buffer.from('hello world, not dicom at all'))).toThrow(DicomParseError);
    // Cut inside the undefined-length sequence: the delimiter never comes.
    const cut = full.subarray(0, full.indexOf(Buffer.from([0xfe, 0xff, 0x0d, 0xe0])));
    expect(() => parseDicom(cut)).toThrow(/delimiter|truncated|remain/);
    // A truncated Pixel Data element parses, and the header check names the shortfall.
    const short = full.subarray(0, full.length - 3);
    const p = parseDicom(short);
    const h = headerFromDataSet('/x.dcm', short.length, p.transferSyntax, p.dataset);
    expect(imageProblem(h)).toBe('Pixel Data truncated: 5 bytes where 8 are needed');
  });

  it('never throws anything but DicomParseError on 2,000 corrupted copies', () => {
    const full = Buffer.concat([meta(TS.EXPLICIT_LE), image({ le: true, explicit: true })]);
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let n = 0; n < 2000; n++) {
      const b = Buffer.from(full.subarray(0, 1 + Math.floor(rand() * full.length)));
      for (let f = 0; f < 3; f++) {
        const at = Math.floor(rand() * b.length);
        b[at] = b[at]! ^ (1 << Math.floor(rand() * 8));
      }
      try {
        const p = parseDicom(b);
        headerFromDataSet('/x.dcm', b.length, p.transferSyntax, p.dataset);
      } catch (err) {
        expect(err).toBeInstanceOf(DicomParseError);
      }
    }
  });

  it('parses DICOM dates and times', () => {
    expect(isoDate('20240229')).toBe('2024-02-29');
    expect(isoDate('2024.02.29')).toBe('2024-02-29');
    expect(isoDate('')).toBe('');
    expect(parseTime('101530.25')).toBeCloseTo(10 * 3600 + 15 * 60 + 30.25, 6);
    expect(parseTime('10:15:30')).toBe(36930);
    expect(parseTime('')).toBeUndefined();
  });
});
