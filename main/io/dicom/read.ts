/**
 * Decode a scanned series into a Volume: decode each file once (pixels.ts), then place its planes into the
 * grid that `groupSeries` laid out, applying rescale slope/intercept per plane.
 */
import type { Volume, VoxelArray } from '../volume.js';
import { decodeFile, DicomReadError, type DecodedFile, type DecoderChoice } from './pixels.js';
import type { DicomSeriesInfo, PlaneRef } from './series.js';
import { TRANSFER_SYNTAX_NAMES } from './tags.js';

export { DicomReadError };

export interface ReadDicomSeriesOptions {
  signal?: AbortSignal;
  /** Called after each decoded file: (files done, files total). */
  onProgress?: (done: number, total: number) => void;
  /** 'itk' forces itk-wasm/GDCM for every file, native ones included (used to cross-check). */
  decoder?: DecoderChoice;
}

type Ctor = new (n: number) => VoxelArray;
const INTEGER_TYPES: [Ctor, number, number][] = [
  [Uint8Array, 0, 255],
  [Int8Array, -128, 127],
  [Uint16Array, 0, 65535],
  [Int16Array, -32768, 32767],
  [Int32Array, -2147483648, 2147483647],
];

/** Map from a decoded value to the modality value: v * a + c. */
function planeMap(p: PlaneRef, d: DecodedFile): { a: number; c: number } {
  if (!d.rescaled) return { a: p.rescaleSlope, c: p.rescaleIntercept };
  // GDCM applied the file's first-frame rescale to every frame; undo it and apply this plane's own.
  const [s0, b0] = p.fileRescale;
  if (s0 === p.rescaleSlope && b0 === p.rescaleIntercept) return { a: 1, c: 0 };
  const a = p.rescaleSlope / s0;
  return { a, c: p.rescaleIntercept - b0 * a };
}

/**
 * Decode every file of a series (as returned by `scanDicom`) into one Volume in LPS, frames in the order the
 * scan decided. Rescale slope/intercept are applied (per frame for Enhanced files). Throws DicomReadError
 * naming the first file that cannot be decoded.
 */
export async function readDicomSeries(info: DicomSeriesInfo, options: ReadDicomSeriesOptions = {}): Promise<Volume> {
  const [nx, ny, nz] = info.dims;
  const planeSize = nx * ny;
  const frameSize = planeSize * nz;
  const decoded = new Map<string, DecodedFile>();
  const files = [...new Set(info.planes.flat().map((p) => p.path))];
  let done = 0;
  for (const path of files) {
    options.signal?.throwIfAborted();
    decoded.set(path, await decodeFile(path, options.decoder));
    options.onProgress?.(++done, files.length);
  }

  const maps = info.planes.map((t) => t.map((p) => planeMap(p, decoded.get(p.path)!)));

  // Voxel type: the smallest integer type holding every rescaled value range, else float32.
  let lo = Infinity;
  let hi = -Infinity;
  let integer = true;
  info.planes.forEach((t, ti) =>
    t.forEach((p, k) => {
      const d = decoded.get(p.path)!;
      const { a, c } = maps[ti]![k]!;
      integer &&= d.integer && Number.isInteger(a) && Number.isInteger(c);
      const ends = [d.range[0] * a + c, d.range[1] * a + c];
      lo = Math.min(lo, ...ends);
      hi = Math.max(hi, ...ends);
    }),
  );
  const Out: Ctor = (integer && INTEGER_TYPES.find(([, min, max]) => lo >= min && hi <= max)?.[0]) || Float32Array;
  const data = new Out(frameSize * info.frames);

  for (let t = 0; t < info.frames; t++) {
    for (let k = 0; k < nz; k++) {
      const p = info.planes[t]![k]!;
      const d = decoded.get(p.path)!;
      const dest = t * frameSize + k * planeSize;
      const { a, c } = maps[t]![k]!;
      if (p.tile !== undefined) {
        copyTile(p.path, d, p.tile, nx, ny, data, dest, a, c);
      } else {
        if (d.columns !== nx || d.rows !== ny) {
          throw new DicomReadError(p.path, `decoded size ${d.columns}x${d.rows} differs from the header's ${nx}x${ny}`);
        }
        if (p.frame >= d.frames) throw new DicomReadError(p.path, `frame ${p.frame + 1} missing (decoder returned ${d.frames})`);
        copyScaled(d.data, p.frame * planeSize, planeSize, data, dest, a, c);
      }
    }
  }
  return {
    dims: [...info.dims],
    frames: info.frames,
    spacing: [...info.spacing],
    origin: [...info.origin],
    direction: [...info.direction],
    data,
    ...(info.frameInterval !== undefined ? { frameInterval: info.frameInterval } : {}),
  };
}

/** out[dest + i] = src[start + i] * a + c; rescaling while copying keeps stored values from wrapping. */
function copyScaled(src: VoxelArray, start: number, n: number, out: VoxelArray, dest: number, a: number, c: number): void {
  if (a === 1 && c === 0) {
    out.set(src.subarray(start, start + n), dest);
    return;
  }
  for (let i = 0; i < n; i++) out[dest + i] = src[start + i]! * a + c;
}

/** Copy tile `tile` of a mosaic (tiles left to right, then top to bottom) into `out` at `dest`. */
function copyTile(path: string, d: DecodedFile, tile: number, nx: number, ny: number, out: VoxelArray, dest: number, a: number, c: number): void {
  const perRow = Math.round(d.columns / nx);
  const x0 = (tile % perRow) * nx;
  const y0 = Math.floor(tile / perRow) * ny;
  if (y0 + ny > d.rows) throw new DicomReadError(path, `mosaic tile ${tile} outside the ${d.columns}x${d.rows} image`);
  for (let y = 0; y < ny; y++) copyScaled(d.data, (y0 + y) * d.columns + x0, nx, out, dest + y * nx, a, c);
}

/** Readable name of a transfer syntax UID (the UID itself when unknown). */
export function transferSyntaxName(uid: string): string {
  return TRANSFER_SYNTAX_NAMES[uid] ?? uid;
}
