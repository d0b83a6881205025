/**
 * The protobuf wire format, just enough to write (and, for checks, read back) ONNX models: varints,
 * length-delimited fields and fixed32 floats. Messages are built bottom-up as lists of byte chunks and joined
 * once, so a model with megabytes of weights is copied a small, fixed number of times.
 */

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_FIXED32 = 5;

export type Chunk = Uint8Array;

function varintBytes(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`protobuf: ${value} is not a non-negative safe integer`);
  const out: number[] = [];
  let v = value;
  // Division rather than bit shifts: JavaScript's shifts are 32-bit and int64 fields can be larger.
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

function tag(field: number, wire: number): Uint8Array {
  return varintBytes(field * 8 + wire);
}

export function concat(chunks: readonly Chunk[]): Uint8Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

const utf8 = new TextEncoder();

/** A varint field (int32, int64, enum, bool); negative values are not needed by ONNX's fields we write. */
export function intField(field: number, value: number): Chunk {
  return concat([tag(field, WIRE_VARINT), varintBytes(value)]);
}

export function bytesField(field: number, bytes: Uint8Array): Chunk {
  return concat([tag(field, WIRE_BYTES), varintBytes(bytes.length), bytes]);
}

export function stringField(field: number, s: string): Chunk {
  return bytesField(field, utf8.encode(s));
}

/** An embedded message from its already encoded fields. */
export function messageField(field: number, fields: readonly Chunk[]): Chunk {
  return bytesField(field, concat(fields));
}

export function floatField(field: number, value: number): Chunk {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, value, true);
  return concat([tag(field, WIRE_FIXED32), b]);
}

/** A packed repeated varint field (e.g. int64 dims, ints attributes). */
export function packedIntsField(field: number, values: readonly number[]): Chunk {
  return bytesField(field, concat(values.map(varintBytes)));
}

/** float32 values as little-endian bytes, whatever the host order. */
export function float32Bytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return out;
}

// ---- reading (tests and sanity checks of written files) ----

export type FieldValue = number | Uint8Array;

/** One message's fields by number, in order of appearance: varints as numbers, length-delimited as bytes. */
export function decodeFields(buf: Uint8Array): Map<number, FieldValue[]> {
  const out = new Map<number, FieldValue[]>();
  let pos = 0;
  const readVarint = (): number => {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (pos >= buf.length) throw new Error('protobuf: truncated varint');
      const b = buf[pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 0x80;
      if (mul > 2 ** 63) throw new Error('protobuf: varint too long');
    }
  };
  while (pos < buf.length) {
    const key = readVarint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    let value: FieldValue;
    if (wire === WIRE_VARINT) value = readVarint();
    else if (wire === WIRE_BYTES) {
      const len = readVarint();
      if (pos + len > buf.length) throw new Error(`protobuf: field ${field} runs past the end of the message`);
      value = buf.subarray(pos, pos + len);
      pos += len;
    } else if (wire === WIRE_FIXED32) {
      value = new DataView(buf.buffer, buf.byteOffset + pos, 4).getFloat32(0, true);
      pos += 4;
    } else if (wire === WIRE_FIXED64) {
      value = new DataView(buf.buffer, buf.byteOffset + pos, 8).getFloat64(0, true);
      pos += 8;
    } else throw new Error(`protobuf: unsupported wire type ${wire} (field ${field})`);
    const list = out.get(field);
    if (list) list.push(value);
    else out.set(field, [value]);
  }
  return out;
}

/** A packed repeated varint field's values. */
export function decodePackedInts(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    let result = 0;
    let mul = 1;
    for (;;) {
      const b = bytes[pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) break;
      mul *= 0x80;
    }
    out.push(result);
  }
  return out;
}

const utf8d = new TextDecoder();
export const decodeString = (b: FieldValue | undefined): string => (b instanceof Uint8Array ? utf8d.decode(b) : '');
