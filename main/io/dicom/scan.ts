/**
 * Scan a folder tree for DICOM files and group them into image series, reading headers only.
 * Every file that is not usable gets a per-file error with a reason; nothing a file contains can make the
 * scan throw (only cancellation or an unreadable root does).
 */
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { looksLikeDicom, parseDicom } from './dataset.js';
import { imageProblem, readDicomHeader, type DicomFileHeader } from './header.js';
import { groupSeries, type DicomSeriesInfo } from './series.js';
import { segInfoFromDataSet, type DicomSegInfo } from './seg.js';
import { mergeCineSlices } from './stack.js';
import { nonImageReason, SOP } from './tags.js';

export interface DicomFileError {
  path: string;
  reason: string;
}

export interface DicomScanResult {
  series: DicomSeriesInfo[];
  /**
   * Files that look like DICOM (or were given explicitly) but cannot be imported as images, including
   * duplicates left out of their series (see DicomSeriesInfo.unusedFiles).
   */
  errors: DicomFileError[];
  /** Files skipped as not DICOM at all (wrong magic), e.g. README, NIfTI, JPEG. */
  skipped: DicomFileError[];
  /** DICOM SEG files (only with `includeSegmentations`; otherwise they are reported in `errors`). */
  segmentations: DicomSegInfo[];
  filesSeen: number;
}

export interface DicomScanOptions {
  signal?: AbortSignal;
  /** Called after each file: (files done, files total). */
  onProgress?: (done: number, total: number) => void;
  /**
   * Report files without DICOM magic as errors instead of quiet skips. Names ending in .dcm/.dicom/.ima are
   * always reported, because the user clearly meant them as DICOM.
   */
  strict?: boolean;
  /** Stack single-slice cine series of one study into 3D+t volumes (see mergeCineSlices). */
  mergeCineSlices?: boolean;
  /** List DICOM SEG files in `segmentations` (read them with readDicomSeg) instead of reporting them as errors. */
  includeSegmentations?: boolean;
}

const DICOM_NAME = /\.(dcm|dicom|ima)$/i;
/** Files that are certainly something else: skip them without opening. */
const OTHER_NAME = /\.(nii|nii\.gz|json|txt|md|tsv|csv|png|jpe?g|gif|pdf|html?|xml|zip|gz|py|js|ts)$/i;

async function walk(dir: string, out: string[], signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, out, signal);
    else if (e.isFile()) out.push(p);
  }
}

/** List candidate files under `root` (a folder, or one file), sorted for reproducible results. */
export async function listFiles(root: string, signal?: AbortSignal): Promise<string[]> {
  const abs = resolve(root);
  const st = await stat(abs);
  if (st.isFile()) return [abs];
  const out: string[] = [];
  await walk(abs, out, signal);
  return out;
}

async function readHead(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(256);
    const { bytesRead } = await fh.read(buf, 0, 256, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

type FileOutcome = { header: DicomFileHeader } | { seg: DicomSegInfo } | { error: string } | { skip: string };

async function examine(path: string, strict: boolean, segs: boolean): Promise<FileOutcome> {
  const named = DICOM_NAME.test(path) || basename(path) === 'DICOMDIR';
  if (!named && OTHER_NAME.test(path)) return { skip: 'not DICOM (file type)' };
  try {
    const head = await readHead(path);
    if (head.length === 0) return named || strict ? { error: 'empty file (0 bytes)' } : { skip: 'empty file (0 bytes)' };
    if (!looksLikeDicom(head)) {
      const what = head[0] === 0x1f && head[1] === 0x8b ? 'a gzip file' : head[0] === 0xff && head[1] === 0xd8 ? 'a JPEG image' : 'no DICOM header';
      const reason = `not a DICOM file (${what})`;
      return named || strict ? { error: reason } : { skip: reason };
    }
    const header = await readDicomHeader(path);
    if (segs && header.sopClassUid === SOP.SEG) {
      if (!header.hasPixelData) return { error: 'DICOM SEG without Pixel Data' };
      const parsed = parseDicom(await readFile(path));
      return { seg: segInfoFromDataSet(path, parsed.transferSyntax, parsed.dataset) };
    }
    const nonImage = nonImageReason(header.sopClassUid);
    if (nonImage) return { error: nonImage };
    const problem = imageProblem(header);
    if (problem) return { error: problem };
    return { header };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Scan `root` (folder or file) and group the readable DICOM images into series. Pixels are not decoded:
 * call `readDicomSeries(info)` for that.
 */
export async function scanDicom(root: string, options: DicomScanOptions = {}): Promise<DicomScanResult> {
  const { signal, onProgress, strict = false, includeSegmentations = false } = options;
  const files = await listFiles(root, signal);
  const headers: DicomFileHeader[] = [];
  const errors: DicomFileError[] = [];
  const skipped: DicomFileError[] = [];
  const segmentations: DicomSegInfo[] = [];
  let done = 0;
  for (const path of files) {
    signal?.throwIfAborted();
    const outcome = await examine(path, strict, includeSegmentations);
    if ('header' in outcome) headers.push(outcome.header);
    else if ('seg' in outcome) segmentations.push(outcome.seg);
    else if ('error' in outcome) errors.push({ path, reason: outcome.error });
    else skipped.push({ path, reason: outcome.skip });
    onProgress?.(++done, files.length);
  }
  const grouped = groupSeries(headers, (path, reason) => errors.push({ path, reason }));
  const series = options.mergeCineSlices ? mergeCineSlices(grouped) : grouped;
  // A file whose planes all duplicate others' is in no volume; the import report still names it.
  for (const s of series) errors.push(...s.unusedFiles);
  return { series, errors, skipped, segmentations, filesSeen: files.length };
}
