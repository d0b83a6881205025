/**
 * DICOM SEG import: the segmentation becomes a label map (decoded by itk-wasm's dcmqi pipeline), which can
 * then be placed on the grid of the image series it was drawn on.
 */
import { isAbsolute } from 'node:path';
import { indexToPoint, type Mat3, type Vec3, type Volume, type VoxelArray } from '../volume.js';
import type { DataSet } from './dataset.js';
import { capturingConsole, DicomReadError } from './pixels.js';
import { isoDate } from './series.js';
import { NATIVE_SYNTAXES, T, TRANSFER_SYNTAX_NAMES } from './tags.js';

export interface DicomSegment {
  /** Value of this segment in the label map (the SEG's SegmentNumber). */
  value: number;
  label: string;
}

/** A DICOM SEG found by the scan (header only). */
export interface DicomSegInfo {
  path: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  transferSyntax: string;
  patientId: string;
  studyDate: string;
  seriesDescription: string;
  /** BINARY or FRACTIONAL. */
  segmentationType: string;
  /** SeriesInstanceUID of the images it segments (first referenced series), '' when not stated. */
  referencedSeriesUid: string;
  referencedSopInstanceUids: string[];
  segments: DicomSegment[];
}

export function segInfoFromDataSet(path: string, transferSyntax: string, ds: DataSet): DicomSegInfo {
  const refSeries = ds.items(T.ReferencedSeriesSequence);
  return {
    path,
    studyInstanceUid: ds.string(T.StudyInstanceUID),
    seriesInstanceUid: ds.string(T.SeriesInstanceUID),
    sopInstanceUid: ds.string(T.SOPInstanceUID),
    transferSyntax,
    patientId: ds.string(T.PatientID),
    studyDate: isoDate(ds.string(T.StudyDate)),
    seriesDescription: ds.string(T.SeriesDescription),
    segmentationType: ds.string(T.SegmentationType),
    referencedSeriesUid: refSeries[0]?.string(T.SeriesInstanceUID) ?? '',
    referencedSopInstanceUids: refSeries.flatMap((s) => s.items(T.ReferencedInstanceSequence).map((i) => i.string(T.ReferencedSOPInstanceUID))),
    segments: ds.items(T.SegmentSequence).map((s, i) => ({ value: s.number(T.SegmentNumber) ?? i + 1, label: s.string(T.SegmentLabel) })),
  };
}

/** The lines of dcmqi's output (or of a thrown value) that explain a failure; '' when none do. */
function reason(err: unknown): string {
  const raw = err instanceof Error ? err.message : err && typeof err === 'object' && 'message' in err ? String((err as { message: unknown }).message) : String(err);
  const lines = [...new Set(raw.split('\n').map((s) => s.trim()).filter((s) => /^(E:|ERROR)|not a single scalar/i.test(s)))];
  if (lines.length) return lines.join(' ');
  if (typeof err === 'string') return '';
  return /^\d*$/.test(raw.trim()) ? 'dcmqi failed (overlapping segments or an encoding it cannot decode)' : raw.split('\n')[0]!;
}

/**
 * Decode a SEG into a label map in its own grid (LPS): 0 = background, segment numbers elsewhere.
 * Overlapping segments cannot share one label map and are rejected with a reason.
 */
export async function readDicomSeg(info: DicomSegInfo): Promise<Volume> {
  if (!isAbsolute(info.path)) throw new DicomReadError(info.path, 'path must be absolute for the DICOM decoder');
  // dcmqi cannot decompress 1-bit RLE or JPEG 2000 frames, and silently misreads Deflated Image Frame
  // Compression (liver_deflate.dcm decodes to 3x the voxels of the same SEG uncompressed): refuse them.
  if (!NATIVE_SYNTAXES.has(info.transferSyntax)) {
    throw new DicomReadError(info.path, `SEG in ${TRANSFER_SYNTAX_NAMES[info.transferSyntax] ?? info.transferSyntax} is not supported (only uncompressed SEG)`);
  }
  let result;
  const chatter: string[] = [];
  try {
    const { readSegmentationNode } = await import('@itk-wasm/dicom');
    result = await capturingConsole(() => readSegmentationNode(info.path), chatter);
  } catch (err) {
    throw new DicomReadError(info.path, `SEG cannot be read: ${reason(chatter.join('\n')) || reason(err)}`);
  }
  const image = result?.segImage;
  if (!image?.data) throw new DicomReadError(info.path, 'SEG cannot be read: no label image');
  const [x = 1, y = 1, z = 1] = image.size;
  const src = image.data as VoxelArray;
  let max = 0;
  for (const v of src) if (v > max) max = v;
  const data = max <= 255 ? Uint8Array.from(src as ArrayLike<number>) : Uint16Array.from(src as ArrayLike<number>);
  return {
    dims: [x, y, z],
    frames: 1,
    spacing: [image.spacing[0] ?? 1, image.spacing[1] ?? 1, image.spacing[2] ?? 1],
    origin: [image.origin[0] ?? 0, image.origin[1] ?? 0, image.origin[2] ?? 0],
    // itk-wasm stores the direction row-major, like Volume.
    direction: Array.from(image.direction as ArrayLike<number>, (v) => v || 0) as Mat3,
    data,
  };
}

export interface LabelsOnGrid {
  /** Labels on the target grid (one frame), i fastest. */
  data: Uint8Array | Uint16Array;
  /** Labelled SEG voxels whose centre fell on a target voxel centre (within `tolerance` mm). */
  placed: number;
  /** Labelled SEG voxels with no matching target voxel (outside, or between slices). */
  missed: number;
}

/**
 * Place a label map on another grid (the image series it segments) by nearest voxel centre. Every labelled
 * voxel must land within `tolerance` mm of a target voxel centre to count as placed; the caller decides
 * whether any miss is acceptable (a SEG drawn on other images misses everything).
 */
export function labelsOnGrid(seg: Volume, target: Pick<Volume, 'dims' | 'spacing' | 'origin' | 'direction'>, tolerance = 0.05): LabelsOnGrid {
  const [tx, ty, tz] = target.dims;
  const out = seg.data instanceof Uint16Array ? new Uint16Array(tx * ty * tz) : new Uint8Array(tx * ty * tz);
  const d = target.direction;
  const toIndex = (p: Vec3): Vec3 => {
    const r = [p[0] - target.origin[0], p[1] - target.origin[1], p[2] - target.origin[2]];
    return [0, 1, 2].map((c) => (d[c]! * r[0]! + d[3 + c]! * r[1]! + d[6 + c]! * r[2]!) / target.spacing[c]!) as Vec3;
  };
  const [sx, sy, sz] = seg.dims;
  let placed = 0;
  let missed = 0;
  for (let k = 0; k < sz; k++) {
    for (let j = 0; j < sy; j++) {
      for (let i = 0; i < sx; i++) {
        const v = seg.data[(k * sy + j) * sx + i]!;
        if (!v) continue;
        const q = toIndex(indexToPoint(seg, [i, j, k]));
        const n = q.map(Math.round) as Vec3;
        const off = Math.hypot(...q.map((x, a) => (x - n[a]!) * target.spacing[a]!));
        if (off > tolerance || n.some((x, a) => x < 0 || x >= target.dims[a]!)) {
          missed++;
          continue;
        }
        out[(n[2] * ty + n[1]) * tx + n[0]] = v;
        placed++;
      }
    }
  }
  return { data: out, placed, missed };
}
