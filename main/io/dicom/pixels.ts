/**
 * Pixel access for one file. Compressed transfer syntaxes (RLE, JPEG, JPEG-LS, JPEG 2000, ...) are decoded by
 * itk-wasm's GDCM. Native (uncompressed) grayscale pixel data needs no codec: it is an array of stored
 * integers, read straight from the Pixel Data element. Doing that here matters for speed: every itk-wasm call
 * instantiates a fresh WebAssembly module (~150-200 ms here), which made a 150-file series take 30 s.
 * Tests check that both paths give identical values on the same images.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type { VoxelArray } from '../volume.js';
import { parseDicom, PIXEL_DATA } from './dataset.js';
import { NATIVE_SYNTAXES, T } from './tags.js';

export class DicomReadError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'DicomReadError';
  }
}

export interface DecodedFile {
  /** Scalar pixels of every frame, column index fastest, then row, then frame. */
  data: VoxelArray;
  columns: number;
  rows: number;
  frames: number;
  /**
   * True when `data` already has the rescale of the file's first frame applied (GDCM does that); false when
   * `data` holds stored values.
   */
  rescaled: boolean;
  /** Range of the values `data` can hold (for choosing the volume's voxel type). */
  range: [number, number];
  integer: boolean;
}

/**
 * itk-wasm's Emscripten modules print their C++ chatter with console.log/console.error, which would corrupt
 * a CLI's --json stdout. Capture it while a pipeline runs; callers use the lines in error reasons.
 */
export async function capturingConsole<R>(run: () => Promise<R>, lines: string[]): Promise<R> {
  const { log, error, warn } = console;
  const keep = (...args: unknown[]) => {
    lines.push(args.map(String).join(' '));
  };
  console.log = keep;
  console.error = keep;
  console.warn = keep;
  try {
    return await run();
  } finally {
    console.log = log;
    console.error = error;
    console.warn = warn;
  }
}

/** itk-wasm rejects with plain objects or Errors whose message may be a whole stderr dump. */
function itkReason(err: unknown): string {
  const raw =
    err instanceof Error
      ? err.message
      : typeof err === 'string'
        ? err
        : err && typeof err === 'object' && 'message' in err
          ? String((err as { message: unknown }).message)
          : JSON.stringify(err);
  const lines = (raw ?? '').split('\n').map((s) => s.trim()).filter((s) => s && !/^(stdout|stderr):?$/.test(s) && !s.startsWith('Build module'));
  const text = lines.slice(-2).join(' ');
  // A bare number is an Emscripten exception pointer: GDCM gave up without a message we can reach.
  return !text || /^\d+$/.test(text) ? 'GDCM failed (corrupt or unsupported compressed pixel data)' : text;
}

/** RGB and other multi-component pixels become one luminance value (the volume model is scalar). */
function toScalar(data: VoxelArray, components: number): VoxelArray {
  if (components === 1) return data;
  const n = data.length / components;
  const out = new (data.constructor as new (n: number) => VoxelArray)(n);
  const integer = !(data instanceof Float32Array || data instanceof Float64Array);
  for (let i = 0; i < n; i++) {
    const r = data[i * components]!;
    const g = data[i * components + 1] ?? r;
    const b = data[i * components + 2] ?? r;
    const y = 0.299 * r + 0.587 * g + 0.114 * b;
    out[i] = integer ? Math.round(y) : y;
  }
  return out;
}

function typeRange(a: VoxelArray): [number, number] {
  if (a instanceof Uint8Array) return [0, 255];
  if (a instanceof Int8Array) return [-128, 127];
  if (a instanceof Uint16Array) return [0, 65535];
  if (a instanceof Int16Array) return [-32768, 32767];
  if (a instanceof Uint32Array) return [0, 4294967295];
  if (a instanceof Int32Array) return [-2147483648, 2147483647];
  return [-Infinity, Infinity];
}

/** Decode any transfer syntax GDCM supports (GDCM applies the first frame's rescale). */
export async function decodeWithItk(path: string): Promise<DecodedFile> {
  if (!isAbsolute(path)) throw new DicomReadError(path, 'path must be absolute for the DICOM decoder');
  let result;
  const chatter: string[] = [];
  try {
    // Loaded on first use: scanning headers never needs the WebAssembly decoders.
    const { gdcmReadImageNode } = await import('@itk-wasm/image-io');
    result = await capturingConsole(() => gdcmReadImageNode(path), chatter);
  } catch (err) {
    const said = [...new Set(chatter.map((s) => s.trim()).filter(Boolean))].slice(0, 2).join('; ');
    throw new DicomReadError(path, `pixel data cannot be decoded: ${said || itkReason(err)}`);
  }
  const image = result?.image;
  if (!result?.couldRead || !image?.data) throw new DicomReadError(path, 'pixel data cannot be decoded (GDCM could not read the file)');
  const [columns = 0, rows = 0, frames = 1] = image.size;
  const data = toScalar(image.data as VoxelArray, image.imageType.components || 1);
  const integer = !(data instanceof Float32Array || data instanceof Float64Array);
  return { data, columns, rows, frames, rescaled: true, range: typeRange(data), integer };
}

/**
 * Read native grayscale pixel data as stored integers (masked to BitsStored, sign-extended when signed).
 * Returns undefined when the file needs the real decoder (compressed, colour, 1-bit, unusual layout).
 */
export async function readNativePixels(path: string): Promise<DecodedFile | undefined> {
  const buf = await readFile(path);
  const parsed = parseDicom(buf);
  if (!NATIVE_SYNTAXES.has(parsed.transferSyntax)) return undefined;
  const ds = parsed.dataset;
  const el = ds.elements.get(PIXEL_DATA);
  const rows = ds.number(T.Rows) ?? 0;
  const columns = ds.number(T.Columns) ?? 0;
  const frames = Number(ds.string(T.NumberOfFrames) || 1);
  const bits = ds.number(T.BitsAllocated) ?? 0;
  const stored = ds.number(T.BitsStored) ?? bits;
  const signed = (ds.number(T.PixelRepresentation) ?? 0) === 1;
  const photometric = ds.string(T.PhotometricInterpretation) || 'MONOCHROME2';
  if (!el || el.fragments || (ds.number(T.SamplesPerPixel) ?? 1) !== 1 || !photometric.startsWith('MONOCHROME')) return undefined;
  if (![8, 16, 32].includes(bits) || stored < 1 || stored > bits) return undefined;
  const n = rows * columns * frames;
  const bytes = bits / 8;
  if (!n || el.length < n * bytes) throw new DicomReadError(path, `Pixel Data truncated: ${el.length} bytes where ${n * bytes} are needed`);

  const Type = bits === 8 ? (signed ? Int8Array : Uint8Array) : bits === 16 ? (signed ? Int16Array : Uint16Array) : signed ? Int32Array : Uint32Array;
  const data = new Type(n);
  const b = ds.buf;
  const range: [number, number] = signed ? [-(2 ** (stored - 1)), 2 ** (stored - 1) - 1] : [0, 2 ** stored - 1];
  // MONOCHROME1 (low = bright) is inverted to MONOCHROME2, as GDCM does, so both paths agree.
  const invert = photometric === 'MONOCHROME1';
  if (ds.littleEndian && stored === bits && !invert) {
    // Already the in-memory layout (x86/ARM are little endian): one copy.
    new Uint8Array(data.buffer).set(b.subarray(el.offset, el.offset + n * bytes));
    return { data, columns, rows, frames, rescaled: false, range, integer: true };
  }
  const le = ds.littleEndian;
  const mask = stored >= 32 ? 0xffffffff : 2 ** stored - 1;
  const signBit = 2 ** (stored - 1);
  for (let i = 0, p = el.offset; i < n; i++, p += bytes) {
    let v = bytes === 1 ? b[p]! : bytes === 2 ? (le ? b.readUInt16LE(p) : b.readUInt16BE(p)) : le ? b.readUInt32LE(p) : b.readUInt32BE(p);
    // Bits above BitsStored may hold overlays or garbage; the value is the low BitsStored bits.
    if (stored < bits) v = v & mask;
    if (signed && v >= signBit) v -= 2 * signBit;
    if (invert) v = signed ? -1 - v : mask - v;
    data[i] = v;
  }
  return { data, columns, rows, frames, rescaled: false, range, integer: true };
}

export type DecoderChoice = 'auto' | 'itk';

/** Pixels of one file: native data read directly (unless `decoder` is 'itk'), everything else through GDCM. */
export async function decodeFile(path: string, decoder: DecoderChoice = 'auto'): Promise<DecodedFile> {
  if (decoder === 'auto') {
    let native: DecodedFile | undefined;
    try {
      native = await readNativePixels(path);
    } catch (err) {
      if (err instanceof DicomReadError) throw err;
      throw new DicomReadError(path, err instanceof Error ? err.message : String(err));
    }
    if (native) return native;
  }
  return decodeWithItk(path);
}
