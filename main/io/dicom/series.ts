/**
 * Grouping of DICOM file headers into image series, and the layout of each series as a volume:
 * which (file, frame) fills which (slice, time point), with the grid geometry in LPS.
 */
import { createHash } from 'node:crypto';
import type { Mat3, Vec3 } from '../volume.js';
import type { DicomFileHeader, FrameHeader } from './header.js';

/** One 2D plane of pixels: frame `frame` (0-based) of file `path`. */
export interface PlaneRef {
  path: string;
  frame: number;
  /** Rescale the plane's pixels need (Enhanced files may rescale each frame differently). */
  rescaleSlope: number;
  rescaleIntercept: number;
  /** Rescale of the file's first frame, which GDCM applies to every frame of the file. */
  fileRescale: [number, number];
  /** For a Siemens MOSAIC: the tile index inside the file's image, else undefined. */
  tile?: number;
}

/** Everything the library needs to show and import one image series, without having decoded it. */
export interface DicomSeriesInfo {
  /** Unique within a scan: SeriesInstanceUID, plus a suffix when one series holds several volumes. */
  key: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  frameOfReferenceUid: string;
  patientId: string;
  patientName: string;
  /** Study date as ISO yyyy-mm-dd, or '' when absent or malformed. */
  studyDate: string;
  studyDescription: string;
  seriesDescription: string;
  seriesNumber?: number;
  modality: string;
  sopClassUid: string;
  /** Transfer syntax UIDs used by the files. */
  transferSyntaxes: string[];
  /** Label of the sub-volume when one series was split (e.g. image type or orientation), else ''. */
  part: string;
  /** Every file contributing planes, in no particular order. */
  files: string[];
  /** Files of this series left out of the volume (duplicates), with the reason. */
  unusedFiles: { path: string; reason: string }[];
  dims: Vec3;
  frames: number;
  spacing: Vec3;
  origin: Vec3;
  direction: Mat3;
  frameInterval?: number;
  /** planes[t][k]: the source of slice k of time frame t. */
  planes: PlaneRef[][];
  /** Non-fatal oddities (duplicates dropped, uneven spacing, no geometry...). */
  warnings: string[];
  /** Keys of the single-slice series this one was stacked from (see mergeCineSlices), else undefined. */
  mergedFrom?: string[];
  /** What decided the frame order when frames > 1. */
  frameOrder?: 'TriggerTime' | 'TemporalPositionIndex' | 'AcquisitionTime' | 'InstanceNumber' | 'FrameTime' | 'file order';
}

interface Plane extends PlaneRef {
  header: DicomFileHeader;
  fh: FrameHeader;
  fileOrder: number;
  position?: Vec3;
}

const cross = (a: number[], b: number[]): Vec3 => [
  a[1]! * b[2]! - a[2]! * b[1]!,
  a[2]! * b[0]! - a[0]! * b[2]!,
  a[0]! * b[1]! - a[1]! * b[0]!,
];
const dot = (a: number[], b: number[]) => a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]!;
const norm = (a: number[]): Vec3 => {
  const n = Math.hypot(a[0]!, a[1]!, a[2]!) || 1;
  return [a[0]! / n, a[1]! / n, a[2]! / n];
};

export function isoDate(da: string): string {
  const m = /^(\d{4})\.?(\d{2})\.?(\d{2})/.exec(da.trim());
  return m ? `${m[1]}-${m[2]}-${m[3]}` : '';
}

/** Expand files into planes (one per frame, or per tile of a mosaic). */
function planesOf(h: DicomFileHeader, fileOrder: number): Plane[] {
  if (h.mosaicTiles) return mosaicPlanes(h, fileOrder);
  const f0 = h.frames[0]!;
  return h.frames.map((fh, frame) => ({
    path: h.path,
    frame,
    rescaleSlope: fh.rescaleSlope,
    rescaleIntercept: fh.rescaleIntercept,
    fileRescale: [f0.rescaleSlope, f0.rescaleIntercept] as [number, number],
    header: h,
    fh,
    fileOrder,
    position: fh.position,
  }));
}

/**
 * A Siemens MOSAIC packs N slices as tiles of an m×m grid (m = ceil(sqrt(N))). ImagePositionPatient is the
 * corner of the whole mosaic; the first tile's corner lies (m-1)/2 mosaic-widths of a tile inwards.
 */
function mosaicPlanes(h: DicomFileHeader, fileOrder: number): Plane[] {
  const n = h.mosaicTiles!;
  const m = Math.ceil(Math.sqrt(n));
  const fh = h.frames[0]!;
  const tileRows = h.rows / m;
  const tileCols = h.columns / m;
  const ori = fh.orientation;
  const pos = fh.position;
  const ps = fh.pixelSpacing ?? [1, 1];
  let first: Vec3 | undefined;
  let normal: Vec3 | undefined;
  if (ori && pos) {
    const r = ori.slice(0, 3);
    const c = ori.slice(3, 6);
    const dc = ((h.columns - tileCols) / 2) * ps[1];
    const dr = ((h.rows - tileRows) / 2) * ps[0];
    first = [0, 1, 2].map((a) => pos[a]! + r[a]! * dc + c[a]! * dr) as Vec3;
    normal = h.sliceNormal ?? norm(cross(r, c));
  }
  const gap = h.spacingBetweenSlices ?? fh.sliceThickness ?? 1;
  return Array.from({ length: n }, (_, tile) => ({
    path: h.path,
    frame: 0,
    tile,
    rescaleSlope: fh.rescaleSlope,
    rescaleIntercept: fh.rescaleIntercept,
    fileRescale: [fh.rescaleSlope, fh.rescaleIntercept] as [number, number],
    header: h,
    fh: { ...fh, pixelSpacing: ps },
    fileOrder,
    position: first && normal ? (first.map((v, a) => v + normal![a]! * gap * tile) as Vec3) : undefined,
  }));
}

/** Key that keeps apart planes that cannot share one grid: size, orientation, image type. */
function stackKey(p: Plane): string {
  const o = p.fh.orientation?.map((v) => v.toFixed(3)).join(',') ?? 'none';
  const rows = p.tile !== undefined ? p.header.rows / Math.ceil(Math.sqrt(p.header.mosaicTiles!)) : p.header.rows;
  const cols = p.tile !== undefined ? p.header.columns / Math.ceil(Math.sqrt(p.header.mosaicTiles!)) : p.header.columns;
  const type = (p.fh.frameType ?? '').split('\\').slice(2).join('\\');
  // SeriesNumber too: re-encoded copies of one image under one UID (test suites do that) stay apart.
  return `${rows}x${cols}|${o}|${type}|${p.header.echoNumber ?? ''}|${p.header.seriesNumber ?? ''}`;
}

type FrameKey = 'TriggerTime' | 'TemporalPositionIndex' | 'AcquisitionTime' | 'InstanceNumber';
const FRAME_KEYS: [FrameKey, (p: Plane) => number | undefined][] = [
  ['TriggerTime', (p) => p.fh.triggerTime],
  ['TemporalPositionIndex', (p) => p.fh.temporalIndex],
  ['AcquisitionTime', (p) => p.header.acquisitionTime],
  ['InstanceNumber', (p) => p.header.instanceNumber],
];

/** Lay one stack of same-shaped planes out as slices × frames, sorted along the slice normal. */
function layout(planes: Plane[], warnings: string[]) {
  const h0 = planes[0]!.header;
  const fh0 = planes[0]!.fh;
  const ori = fh0.orientation;
  const withGeometry = ori !== undefined && planes.every((p) => p.position !== undefined);
  const ps = fh0.pixelSpacing;
  let rowDir: Vec3 = [1, 0, 0];
  let colDir: Vec3 = [0, 1, 0];
  if (ori) {
    rowDir = norm(ori.slice(0, 3));
    colDir = norm(ori.slice(3, 6));
  }
  let normal = norm(cross(rowDir, colDir));
  if (planes[0]!.tile !== undefined && planes[0]!.header.sliceNormal) normal = planes[0]!.header.sliceNormal;

  // Slice positions: distance along the normal, clustered within 0.01 mm.
  const groups: { d: number; planes: Plane[] }[] = [];
  let frameOrder: DicomSeriesInfo['frameOrder'];
  if (withGeometry) {
    const sorted = [...planes].sort((a, b) => dot(normal, a.position!) - dot(normal, b.position!));
    for (const p of sorted) {
      const d = dot(normal, p.position!);
      const g = groups.at(-1);
      if (g && Math.abs(d - g.d) < 0.01) g.planes.push(p);
      else groups.push({ d, planes: [p] });
    }
  } else {
    warnings.push('no ImagePositionPatient/ImageOrientationPatient: identity orientation, planes in file order');
    const fileFrames = planes.length === h0.numberOfFrames && planes.every((p) => p.path === h0.path);
    // A legacy multi-frame with a frame time is a cine of one slice; otherwise frames are slices.
    if (fileFrames && h0.frameTime !== undefined && h0.numberOfFrames > 1) {
      groups.push({ d: 0, planes: [...planes].sort((a, b) => a.frame - b.frame) });
      frameOrder = 'FrameTime';
    } else {
      const sorted = [...planes].sort(
        (a, b) => (a.header.instanceNumber ?? 0) - (b.header.instanceNumber ?? 0) || a.fileOrder - b.fileOrder || a.frame - b.frame,
      );
      sorted.forEach((p, k) => groups.push({ d: k, planes: [p] }));
    }
  }

  // Time frames: every slice position must hold the same number of planes.
  let nt = groups[0]!.planes.length;
  if (groups.some((g) => g.planes.length !== nt)) {
    const counts = [...new Set(groups.map((g) => g.planes.length))].sort((a, b) => a - b);
    nt = counts[0]!;
    warnings.push(`slice positions hold different numbers of images (${counts.join(', ')}): kept ${nt} per position`);
  }
  if (nt > 1 && frameOrder === undefined) {
    // The first key that is present on every plane and tells the planes of each position apart.
    frameOrder = 'file order';
    for (const [name, get] of FRAME_KEYS) {
      const ok = groups.every((g) => {
        const vals = g.planes.map(get);
        return vals.every((v) => v !== undefined) && new Set(vals).size === vals.length;
      });
      if (ok) {
        frameOrder = name;
        for (const g of groups) g.planes.sort((a, b) => get(a)! - get(b)! || a.fileOrder - b.fileOrder || a.frame - b.frame);
        break;
      }
    }
    if (frameOrder === 'file order') {
      for (const g of groups) g.planes.sort((a, b) => a.fileOrder - b.fileOrder || a.frame - b.frame);
    }
  }
  const nk = groups.length;
  const grid: PlaneRef[][] = Array.from({ length: nt }, (_, t) =>
    groups.map((g) => {
      const p = g.planes[t]!;
      const ref: PlaneRef = { path: p.path, frame: p.frame, rescaleSlope: p.rescaleSlope, rescaleIntercept: p.rescaleIntercept, fileRescale: p.fileRescale };
      if (p.tile !== undefined) ref.tile = p.tile;
      return ref;
    }),
  );

  let sliceSpacing = h0.spacingBetweenSlices ?? fh0.sliceThickness ?? 1;
  let origin: Vec3 = [0, 0, 0];
  if (withGeometry) {
    origin = [...groups[0]!.planes[0]!.position!] as Vec3;
    if (nk > 1) {
      sliceSpacing = (groups[nk - 1]!.d - groups[0]!.d) / (nk - 1);
      const gaps = groups.slice(1).map((g, k) => g.d - groups[k]!.d);
      if (gaps.some((g) => Math.abs(g - sliceSpacing) > 0.01 * sliceSpacing + 1e-3)) {
        warnings.push(`uneven slice spacing (${Math.min(...gaps).toFixed(3)}..${Math.max(...gaps).toFixed(3)} mm): mean used`);
      }
      // Gantry tilt: the stack does not run along the normal; the grid cannot represent that exactly.
      const last = groups[nk - 1]!.planes[0]!.position!;
      const along = [0, 1, 2].map((a) => last[a]! - origin[a]!);
      const off = Math.hypot(...cross(along, normal));
      if (off > 0.01 * Math.abs(dot(along, normal)) + 0.01) warnings.push('slices are sheared (gantry tilt?): geometry approximated');
    }
  }
  let frameInterval: number | undefined;
  if (nt > 1) {
    const first = groups[0]!.planes;
    if (frameOrder === 'TriggerTime') frameInterval = (first[nt - 1]!.fh.triggerTime! - first[0]!.fh.triggerTime!) / (nt - 1) / 1000;
    else if (frameOrder === 'AcquisitionTime') frameInterval = (first[nt - 1]!.header.acquisitionTime! - first[0]!.header.acquisitionTime!) / (nt - 1);
    else if (frameOrder === 'FrameTime' && h0.frameTime) frameInterval = h0.frameTime / 1000;
  }
  const tiles = planes[0]!.tile !== undefined ? Math.ceil(Math.sqrt(h0.mosaicTiles!)) : 1;
  const dims: Vec3 = [h0.columns / tiles, h0.rows / tiles, nk];
  const spacing: Vec3 = [ps?.[1] ?? 1, ps?.[0] ?? 1, Math.abs(sliceSpacing) || 1];
  if (!ps) warnings.push('no PixelSpacing: 1 mm assumed');
  // Columns of D are the i (row direction), j (column direction) and k (slice normal) axes.
  const direction = [
    rowDir[0], colDir[0], normal[0],
    rowDir[1], colDir[1], normal[1],
    rowDir[2], colDir[2], normal[2],
  ].map((v) => v || 0) as Mat3; // no -0 in stored geometry
  return { dims, frames: nt, spacing, origin, direction, planes: grid, frameOrder, frameInterval };
}

/**
 * Group image file headers into series volumes. Files of one SeriesInstanceUID whose planes differ in size,
 * orientation or image type become separate volumes (`part` says which).
 */
export function groupSeries(
  headers: DicomFileHeader[],
  onError: (path: string, reason: string) => void = () => {},
): DicomSeriesInfo[] {
  const bySeries = new Map<string, DicomFileHeader[]>();
  for (const h of headers) {
    const list = bySeries.get(h.seriesInstanceUid) ?? [];
    list.push(h);
    bySeries.set(h.seriesInstanceUid, list);
  }
  const out: DicomSeriesInfo[] = [];
  for (const [uid, files] of bySeries) {
    try {
      out.push(...seriesVolumes(uid, files));
    } catch (err) {
      // Headers are validated before grouping; should one series still defeat the layout, only it is lost.
      const reason = `cannot lay out series: ${err instanceof Error ? err.message : String(err)}`;
      for (const h of files) onError(h.path, reason);
    }
  }
  return out;
}

function seriesVolumes(uid: string, files: DicomFileHeader[]): DicomSeriesInfo[] {
  const out: DicomSeriesInfo[] = [];
  files.sort((a, b) => (a.instanceNumber ?? 0) - (b.instanceNumber ?? 0) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const stacks = new Map<string, Plane[]>();
  files.forEach((h, i) => {
    for (const p of planesOf(h, i)) {
      const key = stackKey(p);
      const list = stacks.get(key) ?? [];
      list.push(p);
      stacks.set(key, list);
    }
  });
  // Duplicate SOP instances (the same file copied twice) would otherwise look like time frames.
  for (const [key, planes0] of stacks) {
    const warnings: string[] = [];
    const seen = new Set<string>();
    const planes = planes0.filter((p) => {
      const id = `${p.header.sopInstanceUid || p.path}#${p.frame}#${p.tile ?? ''}`;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    if (planes.length < planes0.length) warnings.push(`${planes0.length - planes.length} duplicate image(s) ignored`);
    const h = planes[0]!.header;
    const geo = layout(planes, warnings);
    const used = new Set(geo.planes.flat().map((p) => p.path));
    const unusedFiles = [...new Set(planes0.map((p) => p.path))]
      .filter((path) => !used.has(path))
      .map((path) => ({ path, reason: 'duplicate image (same SOP instance, or its slice position is already filled)' }));
    out.push({
      // Derived from what tells the volumes apart (not their order), so re-imports give the same key.
      key: stacks.size > 1 ? `${uid}#${createHash('sha1').update(key).digest('hex').slice(0, 8)}` : uid,
      studyInstanceUid: h.studyInstanceUid,
      seriesInstanceUid: uid,
      frameOfReferenceUid: h.frameOfReferenceUid,
      patientId: h.patientId,
      patientName: h.patientName,
      studyDate: isoDate(h.studyDate),
      studyDescription: h.studyDescription,
      seriesDescription: h.seriesDescription,
      ...(h.seriesNumber !== undefined ? { seriesNumber: h.seriesNumber } : {}),
      modality: h.modality,
      sopClassUid: h.sopClassUid,
      transferSyntaxes: [...new Set(planes.map((p) => p.header.transferSyntax))],
      part: stacks.size > 1 ? partLabel(key) : '',
      files: [...used],
      unusedFiles,
      warnings,
      ...geo,
    });
  }
  return out;
}

function partLabel(key: string): string {
  const [size, ori, type, echo, number] = key.split('|');
  return [type || undefined, echo ? `echo ${echo}` : undefined, number ? `series ${number}` : undefined, `${size}`, ori === 'none' ? undefined : `orientation ${ori}`]
    .filter(Boolean)
    .join(', ');
}
