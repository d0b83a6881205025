/**
 * A minimal DICOM data-set parser for the header fields the importer needs (grouping, geometry, timing).
 * It never decodes pixels: it only records where the Pixel Data element sits. Decoding is itk-wasm's job.
 *
 * Handles Explicit/Implicit VR Little Endian, Explicit VR Big Endian and Deflated Explicit VR LE, with or
 * without the 128-byte preamble and File Meta group, sequences of defined and undefined length (nested),
 * and VR UN sequences (which are always Implicit VR LE inside).
 */
import { inflateRawSync } from 'node:zlib';
import { DICT_VR, TS } from './tags.js';

export class DicomParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DicomParseError';
  }
}

export interface Element {
  tag: number;
  vr: string;
  /** Byte offset of the value inside the data set's buffer. */
  offset: number;
  /** Value length in bytes (for undefined-length elements: the bytes up to the delimiter). */
  length: number;
  undefinedLength: boolean;
  /** Items of a sequence (SQ, or UN/unknown with undefined length). */
  items?: DataSet[];
  /** For encapsulated Pixel Data: byte ranges of each fragment after the Basic Offset Table. */
  fragments?: { offset: number; length: number }[];
}

/** Parsed elements of one data set (the top level or one sequence item). */
export class DataSet {
  readonly elements = new Map<number, Element>();
  constructor(
    readonly buf: Buffer,
    readonly littleEndian: boolean,
    readonly explicitVr: boolean,
  ) {}

  has(tag: number): boolean {
    return this.elements.has(tag);
  }

  /** Text value with trailing padding removed (empty string when absent). */
  string(tag: number): string {
    const el = this.elements.get(tag);
    if (!el || el.items) return '';
    return this.buf
      .toString('latin1', el.offset, el.offset + el.length)
      .replace(/[\0 ]+$/, '')
      .replace(/^ +/, '');
  }

  /** Numeric values: decimal/integer strings (DS, IS) or binary (US, UL, SS, SL, FL, FD). */
  numbers(tag: number): number[] {
    const el = this.elements.get(tag);
    if (!el || el.items) return [];
    const vr = el.vr === 'UN' || el.vr === '??' ? (DICT_VR.get(tag) ?? el.vr) : el.vr;
    const size = BINARY_SIZE[vr];
    if (size) {
      const out: number[] = [];
      for (let p = el.offset; p + size <= el.offset + el.length; p += size) out.push(readBinary(this.buf, p, vr, this.littleEndian));
      return out;
    }
    const text = this.string(tag);
    if (!text) return [];
    return text.split('\\').map((s) => Number(s.trim()));
  }

  number(tag: number): number | undefined {
    const v = this.numbers(tag)[0];
    return v === undefined || !Number.isFinite(v) ? undefined : v;
  }

  /** Raw value bytes (no copy), or undefined when absent or a sequence. */
  bytes(tag: number): Buffer | undefined {
    const el = this.elements.get(tag);
    if (!el || el.items) return undefined;
    return this.buf.subarray(el.offset, el.offset + el.length);
  }

  /** Items of a sequence element (empty when absent or not a sequence). */
  items(tag: number): DataSet[] {
    return this.elements.get(tag)?.items ?? [];
  }
}

const BINARY_SIZE: Record<string, number> = { US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8, UV: 8, SV: 8, AT: 4 };

function readBinary(b: Buffer, p: number, vr: string, le: boolean): number {
  switch (vr) {
    case 'US': return le ? b.readUInt16LE(p) : b.readUInt16BE(p);
    case 'SS': return le ? b.readInt16LE(p) : b.readInt16BE(p);
    case 'UL': case 'AT': return le ? b.readUInt32LE(p) : b.readUInt32BE(p);
    case 'SL': return le ? b.readInt32LE(p) : b.readInt32BE(p);
    case 'FL': return le ? b.readFloatLE(p) : b.readFloatBE(p);
    case 'FD': return le ? b.readDoubleLE(p) : b.readDoubleBE(p);
    case 'UV': return Number(le ? b.readBigUInt64LE(p) : b.readBigUInt64BE(p));
    case 'SV': return Number(le ? b.readBigInt64LE(p) : b.readBigInt64BE(p));
    default: return NaN;
  }
}

/** VRs whose explicit encoding has 2 reserved bytes and a 32-bit length. */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);
const ALL_VRS = new Set([
  'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'PN',
  'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV',
]);

export const PIXEL_DATA = 0x7fe00010;
const ITEM = 0xfffee000;
const ITEM_DELIM = 0xfffee00d;
const SEQ_DELIM = 0xfffee0dd;
const UNDEFINED = 0xffffffff;
const MAX_DEPTH = 16;

export interface ParsedFile {
  /** Transfer syntax UID (from File Meta, or guessed from the bytes when there is none). */
  transferSyntax: string;
  hasPreamble: boolean;
  hasMeta: boolean;
  /** The main data set (after the File Meta group). For deflated files its buffer is the inflated bytes. */
  dataset: DataSet;
  /** File Meta elements (group 0002). */
  meta: DataSet;
}

interface Cursor {
  pos: number;
}

function readTag(b: Buffer, p: number, le: boolean): number {
  const g = le ? b.readUInt16LE(p) : b.readUInt16BE(p);
  const e = le ? b.readUInt16LE(p + 2) : b.readUInt16BE(p + 2);
  return ((g << 16) | e) >>> 0;
}

function hex(tag: number): string {
  const s = tag.toString(16).padStart(8, '0').toUpperCase();
  return `(${s.slice(0, 4)},${s.slice(4)})`;
}

function isVr(b: Buffer, p: number): boolean {
  return p + 2 <= b.length && ALL_VRS.has(b.toString('latin1', p, p + 2));
}

/**
 * Parse elements from `cur.pos` until `end`, a delimiter, or (top level) the Pixel Data element.
 * `stopAtGroup`: stop before the first tag whose group differs (used for the File Meta group).
 */
function parseElements(
  ds: DataSet,
  cur: Cursor,
  end: number,
  depth: number,
  opts: { stopAfterPixelData?: boolean; onlyGroup?: number; fileEnd?: number } = {},
): 'end' | 'item-delim' | 'seq-delim' | 'pixel' | 'group' {
  const b = ds.buf;
  const le = ds.littleEndian;
  if (depth > MAX_DEPTH) throw new DicomParseError('sequences nested too deeply');
  while (cur.pos < end) {
    if (cur.pos + 8 > end) {
      // Trailing padding shorter than an element header is harmless at the top level.
      if (depth === 0) return 'end';
      throw new DicomParseError(`truncated element header at byte ${cur.pos}`);
    }
    const start = cur.pos;
    const tag = readTag(b, start, le);
    if (opts.onlyGroup !== undefined && tag >>> 16 !== opts.onlyGroup) return 'group';
    if (tag === ITEM_DELIM || tag === SEQ_DELIM) {
      cur.pos = start + 8;
      return tag === ITEM_DELIM ? 'item-delim' : 'seq-delim';
    }
    let vr: string;
    let length: number;
    let valueStart: number;
    // Delimiter-group tags (FFFE,xxxx) never carry a VR, even in explicit syntaxes.
    if (ds.explicitVr && tag >>> 16 !== 0xfffe && isVr(b, start + 4)) {
      vr = b.toString('latin1', start + 4, start + 6);
      if (LONG_VRS.has(vr)) {
        if (start + 12 > end) throw new DicomParseError(`truncated element header ${hex(tag)}`);
        length = le ? b.readUInt32LE(start + 8) : b.readUInt32BE(start + 8);
        valueStart = start + 12;
      } else {
        length = le ? b.readUInt16LE(start + 6) : b.readUInt16BE(start + 6);
        valueStart = start + 8;
      }
    } else {
      // Implicit VR (or a writer that dropped the VR in an explicit file: tolerate it like most readers).
      vr = DICT_VR.get(tag) ?? (tag === PIXEL_DATA ? 'OW' : '??');
      length = le ? b.readUInt32LE(start + 4) : b.readUInt32BE(start + 4);
      valueStart = start + 8;
    }
    const el: Element = { tag, vr, offset: valueStart, length, undefinedLength: length === UNDEFINED };

    if (tag === PIXEL_DATA) {
      // With only a prefix of the file in memory, the pixels' extent is judged against the file's size.
      const fileEnd = opts.fileEnd ?? end;
      if (length === UNDEFINED) {
        if (fileEnd > end) {
          el.length = fileEnd - valueStart;
        } else {
          el.fragments = parseFragments(b, valueStart, end, le);
          const last = el.fragments.at(-1);
          el.length = (last ? last.offset + last.length : valueStart) - valueStart;
        }
      } else if (valueStart + length > fileEnd) {
        // Keep what is there; the reader checks the length against Rows x Columns x frames.
        el.length = Math.max(0, fileEnd - valueStart);
      }
      ds.elements.set(tag, el);
      cur.pos = valueStart + el.length;
      if (opts.stopAfterPixelData) return 'pixel';
      continue;
    }

    const isSequence = vr === 'SQ' || (length === UNDEFINED && (vr === 'UN' || vr === '??'));
    if (isSequence) {
      // A UN sequence is always Implicit VR Little Endian inside (PS3.5 6.2.2).
      const inner = vr === 'SQ' ? ds : new DataSet(b, true, false);
      const seqEnd = length === UNDEFINED ? end : valueStart + length;
      if (seqEnd > end) throw new DicomParseError(`sequence ${hex(tag)} runs past the end of its container`);
      el.items = parseItems(inner, valueStart, seqEnd, length === UNDEFINED, depth + 1, cur);
      if (length !== UNDEFINED) cur.pos = seqEnd;
      el.length = cur.pos - valueStart;
      ds.elements.set(tag, el);
      continue;
    }
    if (length === UNDEFINED) throw new DicomParseError(`undefined length on non-sequence element ${hex(tag)} (${vr})`);
    if (valueStart + length > end) {
      throw new DicomParseError(`element ${hex(tag)} claims ${length} bytes but only ${Math.max(0, end - valueStart)} remain`);
    }
    ds.elements.set(tag, el);
    cur.pos = valueStart + length;
  }
  return 'end';
}

function parseItems(
  ds: DataSet,
  start: number,
  end: number,
  undefinedLength: boolean,
  depth: number,
  outer: Cursor,
): DataSet[] {
  const b = ds.buf;
  const le = ds.littleEndian;
  const items: DataSet[] = [];
  const cur: Cursor = { pos: start };
  while (cur.pos < end) {
    if (cur.pos + 8 > end) throw new DicomParseError(`truncated sequence item at byte ${cur.pos}`);
    const tag = readTag(b, cur.pos, le);
    const len = le ? b.readUInt32LE(cur.pos + 4) : b.readUInt32BE(cur.pos + 4);
    if (tag === SEQ_DELIM) {
      cur.pos += 8;
      outer.pos = cur.pos;
      return items;
    }
    if (tag !== ITEM) throw new DicomParseError(`expected a sequence item at byte ${cur.pos}, found ${hex(tag)}`);
    cur.pos += 8;
    const item = new DataSet(b, ds.littleEndian, ds.explicitVr);
    if (len === UNDEFINED) {
      const why = parseElements(item, cur, end, depth);
      if (why !== 'item-delim') throw new DicomParseError('sequence item without an item delimiter (file truncated?)');
    } else {
      const itemEnd = cur.pos + len;
      if (itemEnd > end) throw new DicomParseError(`sequence item of ${len} bytes runs past its sequence`);
      parseElements(item, cur, itemEnd, depth);
      cur.pos = itemEnd;
    }
    items.push(item);
  }
  if (undefinedLength) throw new DicomParseError('sequence without a sequence delimiter (file truncated?)');
  outer.pos = cur.pos;
  return items;
}

function parseFragments(b: Buffer, start: number, end: number, le: boolean): { offset: number; length: number }[] {
  const frags: { offset: number; length: number }[] = [];
  let p = start;
  let first = true;
  while (p + 8 <= end) {
    const tag = readTag(b, p, le);
    const len = le ? b.readUInt32LE(p + 4) : b.readUInt32BE(p + 4);
    if (tag === SEQ_DELIM) return frags;
    if (tag !== ITEM) throw new DicomParseError(`corrupt encapsulated Pixel Data at byte ${p}`);
    if (p + 8 + len > end) throw new DicomParseError('encapsulated Pixel Data truncated');
    // The first item is the Basic Offset Table, not image data.
    if (!first) frags.push({ offset: p + 8, length: len });
    first = false;
    p += 8 + len;
  }
  throw new DicomParseError('encapsulated Pixel Data without a sequence delimiter (file truncated?)');
}

const PLAUSIBLE_FIRST_GROUPS = new Set([0x0002, 0x0008, 0x0010, 0x0018, 0x0020, 0x0028]);

/** Guess the encoding of a data set that starts at `p` with no File Meta to say it. */
function sniffEncoding(b: Buffer, p: number): { le: boolean; explicit: boolean } | undefined {
  if (p + 8 > b.length) return undefined;
  const gLe = b.readUInt16LE(p);
  const gBe = b.readUInt16BE(p);
  if (PLAUSIBLE_FIRST_GROUPS.has(gLe)) {
    if (isVr(b, p + 4)) return { le: true, explicit: true };
    const len = b.readUInt32LE(p + 4);
    if (len !== UNDEFINED && p + 8 + len > b.length) return undefined;
    return { le: true, explicit: false };
  }
  if (PLAUSIBLE_FIRST_GROUPS.has(gBe) && isVr(b, p + 4)) return { le: false, explicit: true };
  return undefined;
}

/** True when the first bytes look like DICOM (preamble + "DICM", or a plausible bare data set). */
export function looksLikeDicom(head: Buffer): boolean {
  if (head.length >= 132 && head.toString('latin1', 128, 132) === 'DICM') return true;
  return sniffEncoding(head, 0) !== undefined;
}

/**
 * Parse a DICOM file's bytes up to and including the Pixel Data element header (pixels are not read).
 * `buf` may be a prefix of the file (`fileSize` is then the whole file's size): parsing stops at Pixel Data,
 * and an error caused by the missing tail must be retried with the whole file (see readDicomHeader).
 */
export function parseDicom(buf: Buffer, fileSize = buf.length): ParsedFile {
  let p = 0;
  const hasPreamble = buf.length >= 132 && buf.toString('latin1', 128, 132) === 'DICM';
  if (hasPreamble) p = 132;
  else if (buf.length === 0) throw new DicomParseError('empty file (0 bytes)');

  const meta = new DataSet(buf, true, true);
  let hasMeta = false;
  if (p + 8 <= buf.length && buf.readUInt16LE(p) === 0x0002) {
    hasMeta = true;
    const cur = { pos: p };
    // Explicit VR LE by definition; read element by element instead of trusting (0002,0000), which may be absent.
    parseElements(meta, cur, buf.length, 0, { onlyGroup: 0x0002 });
    p = cur.pos;
  }
  let ts = meta.string(0x00020010);
  if (!ts) {
    const enc = sniffEncoding(buf, p);
    if (!enc) throw new DicomParseError(hasPreamble ? 'no data set after the File Meta header' : 'not a DICOM file (no "DICM" preamble and no recognisable data set)');
    ts = !enc.le ? TS.EXPLICIT_BE : enc.explicit ? TS.EXPLICIT_LE : TS.IMPLICIT_LE;
  }

  let body = buf;
  let bodyStart = p;
  if (ts === TS.DEFLATED) {
    try {
      body = inflateRawSync(buf.subarray(p));
    } catch (err) {
      throw new DicomParseError(`deflated data set cannot be inflated: ${(err as Error).message}`);
    }
    bodyStart = 0;
  }
  const le = ts !== TS.EXPLICIT_BE;
  let explicit = ts !== TS.IMPLICIT_LE;
  // Some writers label an implicit data set as explicit (or the reverse); trust the bytes.
  const sniffed = sniffEncoding(body, bodyStart);
  if (sniffed && sniffed.le === le) explicit = sniffed.explicit;
  const dataset = new DataSet(body, le, explicit);
  const cur = { pos: bodyStart };
  try {
    parseElements(dataset, cur, body.length, 0, { stopAfterPixelData: true, fileEnd: body === buf ? fileSize : body.length });
  } catch (err) {
    if (err instanceof RangeError) throw new DicomParseError(`truncated data set (${err.message})`);
    throw err;
  }
  return { transferSyntax: ts, hasPreamble, hasMeta, dataset, meta };
}
