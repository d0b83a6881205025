/**
 * The header fields of one DICOM file that grouping, sorting and geometry need, read without touching pixels.
 */
import { open, readFile } from 'node:fs/promises';
import { DataSet, DicomParseError, parseDicom, PIXEL_DATA } from './dataset.js';
import { NATIVE_SYNTAXES, SOP, T, TS } from './tags.js';

export type Vec3 = [number, number, number];
export type Vec6 = [number, number, number, number, number, number];

/** One 2D frame's own geometry and timing (Enhanced multi-frame: from the functional groups). */
export interface FrameHeader {
  position?: Vec3;
  orientation?: Vec6;
  /** [row spacing, column spacing] as in PixelSpacing: between rows (mm), between columns (mm). */
  pixelSpacing?: [number, number];
  sliceThickness?: number;
  temporalIndex?: number;
  triggerTime?: number;
  rescaleSlope: number;
  rescaleIntercept: number;
  /** FrameType / ImageType value 3-4, used to keep magnitude, phase, field maps... apart. */
  frameType?: string;
  stackId?: string;
  inStackPosition?: number;
  echoTime?: number;
}

export interface DicomFileHeader {
  path: string;
  fileSize: number;
  transferSyntax: string;
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  frameOfReferenceUid: string;
  patientId: string;
  patientName: string;
  studyDate: string;
  studyTime: string;
  studyDescription: string;
  seriesDescription: string;
  seriesNumber?: number;
  modality: string;
  imageType: string;
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  pixelRepresentation: number;
  numberOfFrames: number;
  instanceNumber?: number;
  acquisitionNumber?: number;
  acquisitionTime?: number;
  echoNumber?: number;
  /** Tiles in a Siemens MOSAIC (undefined when the image is not a mosaic). */
  mosaicTiles?: number;
  /** Siemens CSA SliceNormalVector: the true stacking direction of mosaic tiles. */
  sliceNormal?: Vec3;
  spacingBetweenSlices?: number;
  /** FrameTime (ms) of a legacy multi-frame cine. */
  frameTime?: number;
  hasPixelData: boolean;
  /** Bytes of (native) pixel data present, and bytes needed; equal for a complete native file. */
  pixelBytes: number;
  /** Per-frame geometry: one entry per frame (single-frame files: one entry from the top-level tags). */
  frames: FrameHeader[];
  enhanced: boolean;
}

/** Seconds since midnight from a DICOM TM value (HHMMSS.FFFFFF, colons tolerated). */
export function parseTime(tm: string): number | undefined {
  const s = tm.replace(/:/g, '').trim();
  const m = /^(\d{2})(\d{2})?(\d{2})?(\.\d+)?/.exec(s);
  if (!m) return undefined;
  return Number(m[1]) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0) + Number(m[4] ?? 0);
}

function vec<N extends number>(ds: DataSet | undefined, tag: number, n: N): number[] | undefined {
  if (!ds) return undefined;
  const v = ds.numbers(tag);
  return v.length >= n && v.slice(0, n).every(Number.isFinite) ? v.slice(0, n) : undefined;
}

function first(ds: DataSet | undefined, seqTag: number): DataSet | undefined {
  return ds?.items(seqTag)[0];
}

/** Frame fields found in one functional-groups item (shared or per-frame). */
function framePart(group: DataSet | undefined): Partial<FrameHeader> {
  const out: Partial<FrameHeader> = {};
  if (!group) return out;
  const pos = vec(first(group, T.PlanePositionSequence), T.ImagePositionPatient, 3);
  if (pos) out.position = pos as Vec3;
  const ori = vec(first(group, T.PlaneOrientationSequence), T.ImageOrientationPatient, 6);
  if (ori) out.orientation = ori as Vec6;
  const meas = first(group, T.PixelMeasuresSequence);
  const ps = vec(meas, T.PixelSpacing, 2);
  if (ps) out.pixelSpacing = ps as [number, number];
  const th = meas?.number(T.SliceThickness);
  if (th !== undefined) out.sliceThickness = th;
  const fc = first(group, T.FrameContentSequence);
  if (fc) {
    const ti = fc.number(T.TemporalPositionIndex);
    if (ti !== undefined) out.temporalIndex = ti;
    const sid = fc.string(T.StackID);
    if (sid) out.stackId = sid;
    const isp = fc.number(T.InStackPositionNumber);
    if (isp !== undefined) out.inStackPosition = isp;
  }
  const trig = first(group, T.CardiacSynchronizationSequence)?.number(T.NominalCardiacTriggerDelayTime);
  if (trig !== undefined) out.triggerTime = trig;
  const pvt = first(group, T.PixelValueTransformationSequence);
  if (pvt) {
    const s = pvt.number(T.RescaleSlope);
    const i = pvt.number(T.RescaleIntercept);
    if (s !== undefined) out.rescaleSlope = s;
    if (i !== undefined) out.rescaleIntercept = i;
  }
  const ft = first(group, T.MRImageFrameTypeSequence)?.string(T.FrameType);
  if (ft) out.frameType = ft;
  const te = first(group, T.MREchoSequence)?.number(T.EffectiveEchoTime);
  if (te !== undefined) out.echoTime = te;
  return out;
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Extract the header of one parsed file. Throws DicomParseError for files that cannot be an image. */
export function headerFromDataSet(path: string, fileSize: number, transferSyntax: string, ds: DataSet): DicomFileHeader {
  const sopClassUid = ds.string(T.SOPClassUID);
  const rows = ds.number(T.Rows) ?? 0;
  const columns = ds.number(T.Columns) ?? 0;
  const numberOfFramesText = ds.string(T.NumberOfFrames);
  let numberOfFrames = 1;
  if (numberOfFramesText) {
    const n = Number(numberOfFramesText);
    if (!Number.isInteger(n) || n < 1) throw new DicomParseError(`invalid NumberOfFrames "${numberOfFramesText}"`);
    numberOfFrames = n;
  }
  const samplesPerPixel = ds.number(T.SamplesPerPixel) ?? 1;
  const bitsAllocated = ds.number(T.BitsAllocated) ?? 0;
  const pixel = ds.elements.get(PIXEL_DATA);
  const enhanced = ds.has(T.PerFrameFunctionalGroupsSequence) || ds.has(T.SharedFunctionalGroupsSequence);

  const top: FrameHeader = {
    rescaleSlope: ds.number(T.RescaleSlope) ?? 1,
    rescaleIntercept: ds.number(T.RescaleIntercept) ?? 0,
    ...defined({
      position: vec(ds, T.ImagePositionPatient, 3) as Vec3 | undefined,
      orientation: vec(ds, T.ImageOrientationPatient, 6) as Vec6 | undefined,
      pixelSpacing: vec(ds, T.PixelSpacing, 2) as [number, number] | undefined,
      sliceThickness: ds.number(T.SliceThickness),
      temporalIndex: ds.number(T.TemporalPositionIdentifier),
      triggerTime: ds.number(T.TriggerTime),
      echoTime: undefined,
    }),
  };
  const imageType = ds.string(T.ImageType);
  top.frameType = imageType;

  let frames: FrameHeader[];
  if (enhanced) {
    const shared = framePart(first(ds, T.SharedFunctionalGroupsSequence));
    const perFrame = ds.items(T.PerFrameFunctionalGroupsSequence);
    frames = [];
    for (let f = 0; f < numberOfFrames; f++) {
      frames.push({ ...top, ...shared, ...framePart(perFrame[f]) } as FrameHeader);
    }
  } else {
    frames = Array.from({ length: numberOfFrames }, () => ({ ...top }));
  }

  const mosaic = /\bMOSAIC\b/.test(imageType) ? ds.number(T.SiemensNumberOfImagesInMosaic) : undefined;
  const bytesPerFrame = rows * columns * samplesPerPixel * (bitsAllocated === 1 ? 1 / 8 : bitsAllocated / 8);
  const needed = Math.ceil(bytesPerFrame * numberOfFrames);
  return {
    path,
    fileSize,
    transferSyntax,
    sopClassUid,
    sopInstanceUid: ds.string(T.SOPInstanceUID),
    studyInstanceUid: ds.string(T.StudyInstanceUID),
    seriesInstanceUid: ds.string(T.SeriesInstanceUID),
    frameOfReferenceUid: ds.string(T.FrameOfReferenceUID),
    patientId: ds.string(T.PatientID),
    patientName: ds.string(T.PatientName),
    studyDate: ds.string(T.StudyDate),
    studyTime: ds.string(T.StudyTime),
    studyDescription: ds.string(T.StudyDescription),
    seriesDescription: ds.string(T.SeriesDescription),
    seriesNumber: ds.number(T.SeriesNumber),
    modality: ds.string(T.Modality),
    imageType,
    rows,
    columns,
    samplesPerPixel,
    bitsAllocated,
    pixelRepresentation: ds.number(T.PixelRepresentation) ?? 0,
    numberOfFrames,
    instanceNumber: ds.number(T.InstanceNumber),
    acquisitionNumber: ds.number(T.AcquisitionNumber),
    acquisitionTime: parseTime(ds.string(T.AcquisitionTime)),
    echoNumber: ds.number(T.EchoNumbers),
    mosaicTiles: mosaic && mosaic > 1 ? mosaic : undefined,
    sliceNormal: mosaic && mosaic > 1 ? csaSliceNormal(ds) : undefined,
    spacingBetweenSlices: ds.number(T.SpacingBetweenSlices),
    frameTime: ds.number(T.FrameTime),
    hasPixelData: pixel !== undefined,
    pixelBytes: pixel ? (pixel.undefinedLength ? needed : pixel.length) : 0,
    frames,
    enhanced,
  };
}

/**
 * SliceNormalVector from the Siemens CSA image header ("SV10" format: tags of 84 bytes, each followed by items
 * of 16 bytes + a value padded to 4 bytes). Mosaic tiles stack along it, which may be minus cross(row, col).
 */
function csaSliceNormal(ds: DataSet): Vec3 | undefined {
  for (const tag of [0x00291010, 0x00291110, 0x00291210]) {
    const raw = ds.bytes(tag);
    if (!raw || raw.length < 16 || raw.toString('latin1', 0, 4) !== 'SV10') continue;
    try {
      const ntags = raw.readUInt32LE(8);
      let p = 16;
      for (let t = 0; t < ntags && p + 84 <= raw.length; t++) {
        const name = raw.toString('latin1', p, p + 64).replace(/\0.*$/s, '');
        const nitems = raw.readInt32LE(p + 76);
        p += 84;
        const values: string[] = [];
        for (let i = 0; i < nitems; i++) {
          const len = raw.readInt32LE(p + 4);
          p += 16;
          values.push(raw.toString('latin1', p, p + len).replace(/\0.*$/s, '').trim());
          p += Math.ceil(len / 4) * 4;
        }
        if (name === 'SliceNormalVector') {
          const v = values.slice(0, 3).map(Number);
          return v.length === 3 && v.every(Number.isFinite) && Math.hypot(...v) > 0.5 ? (v as Vec3) : undefined;
        }
      }
    } catch {
      return undefined; // A damaged private header only costs the mosaic its exact normal.
    }
  }
  return undefined;
}

/** Reasons a file with a readable header still cannot be imported as image data (undefined = fine). */
export function imageProblem(h: DicomFileHeader): string | undefined {
  if (!h.hasPixelData) return 'no Pixel Data (not an image)';
  if (!h.rows || !h.columns) return 'Rows/Columns missing or zero';
  if (![1, 8, 16, 32, 64].includes(h.bitsAllocated)) return `unsupported BitsAllocated ${h.bitsAllocated}`;
  if (NATIVE_SYNTAXES.has(h.transferSyntax)) {
    const bytesPerFrame = h.rows * h.columns * h.samplesPerPixel * (h.bitsAllocated === 1 ? 1 / 8 : h.bitsAllocated / 8);
    const needed = Math.ceil(bytesPerFrame * h.numberOfFrames);
    if (h.pixelBytes < needed) return `Pixel Data truncated: ${h.pixelBytes} bytes where ${needed} are needed`;
  }
  if (!h.seriesInstanceUid) return 'no SeriesInstanceUID';
  return undefined;
}

/** Read and parse one file's header. Throws DicomParseError (or an fs error) with a plain reason. */
export async function readDicomHeader(path: string): Promise<DicomFileHeader> {
  const fh = await open(path, 'r');
  let prefix: Buffer;
  let size: number;
  try {
    size = (await fh.stat()).size;
    prefix = Buffer.alloc(Math.min(size, HEADER_PREFIX));
    const { bytesRead } = await fh.read(prefix, 0, prefix.length, 0);
    prefix = prefix.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  if (prefix.length < size) {
    // Headers almost always fit in the prefix; a large one (thousands of Enhanced frames) needs the whole file.
    try {
      const parsed = parseDicom(prefix, size);
      if (parsed.dataset.has(PIXEL_DATA)) return headerFromDataSet(path, size, parsed.transferSyntax, parsed.dataset);
    } catch {
      // fall through to the whole file
    }
  }
  const buf = prefix.length < size ? await readFile(path) : prefix;
  const parsed = parseDicom(buf);
  return headerFromDataSet(path, buf.length, parsed.transferSyntax, parsed.dataset);
}

/** Bytes read to find a header; the scan never needs the pixels. */
const HEADER_PREFIX = 256 * 1024;

export { SOP, TS };
