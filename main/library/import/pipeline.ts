import type { ImportReport } from '../../contract/library.js';
import { EngineFailure } from '../../engine/errors.js';
import type { Library } from '../library.js';
import { classifyFile } from './classify.js';
import { emptyTally } from './commit.js';
import { importDicomSeries, scanDicomFiles } from './dicom-unit.js';
import { importNiftiUnit } from './nifti-unit.js';
import { pairLabelMaps } from './pair.js';
import { reasonOf } from './read.js';
import type { FileIssue, ImportProgress } from './types.js';
import { walkPaths } from './walk.js';

export interface ImportOptions {
  paths: string[];
  /** Glob on file names marking label maps (default: ACDC `*_gt.nii.gz`). */
  labels?: string;
  signal?: AbortSignal;
  onProgress?: (p: ImportProgress) => void;
}

/**
 * Units report bad files themselves; anything else they throw (a full disk, a catalogue error) fails only
 * that unit, reported against its files, and the import goes on.
 */
async function unit(files: string[], run: () => Promise<FileIssue[]>): Promise<FileIssue[]> {
  try {
    return await run();
  } catch (err) {
    const reason = `could not be stored in the library: ${reasonOf(err)}`;
    return files.map((path) => ({ path, reason }));
  }
}

function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw new EngineFailure('CANCELLED', 'import cancelled');
}

/**
 * Import files and folders into the library: walk → classify → pair label maps → (per image or DICOM
 * series) read → dedupe → store → commit. Every bad file ends up in `skipped` with its reason; each volume
 * is committed on its own, so a cancelled or killed import keeps what it finished and nothing half-done.
 */
export async function importPaths(lib: Library, opts: ImportOptions): Promise<ImportReport> {
  const started = performance.now();
  const { signal, onProgress } = opts;
  const skipped: FileIssue[] = [];
  const tally = emptyTally();

  const walked = await walkPaths(opts.paths, signal);
  skipped.push(...walked.issues);
  const nifti: string[] = [];
  const dicom: string[] = [];
  for (let i = 0; i < walked.files.length; i++) {
    checkAbort(signal);
    const c = await classifyFile(walked.files[i]!);
    if (c.kind === 'nifti') nifti.push(c.path);
    else if (c.kind === 'dicom') dicom.push(c.path);
    else if (c.kind === 'skip') skipped.push({ path: c.path, reason: c.reason });
    if (i % 50 === 0) onProgress?.({ stage: 'scan', done: i + 1, total: walked.files.length });
  }

  const pairing = pairLabelMaps(nifti, opts.labels);
  skipped.push(...pairing.issues);
  checkAbort(signal);
  const scan = await scanDicomFiles(dicom, signal);
  skipped.push(...scan.issues);

  const total = nifti.length + dicom.length;
  let done = nifti.length - pairing.images.length - pairing.labelOf.size; // unpaired label maps are settled already
  const tick = (n: number, message?: string) => {
    done += n;
    onProgress?.({ stage: 'import', done, total, ...(message ? { message } : {}) });
  };
  // One file may feed several series volumes (an Enhanced file holding magnitude and phase): count it once.
  const seriesFiles = new Set(scan.series.flatMap((s) => s.files));
  done += dicom.length - seriesFiles.size; // DICOM files the scanner rejected
  tick(0);

  for (const image of pairing.images) {
    checkAbort(signal);
    const label = pairing.labelOf.get(image);
    skipped.push(...(await unit([image, ...(label ? [label] : [])], () => importNiftiUnit(lib, tally, image, label))));
    tick(label ? 2 : 1, image);
  }
  for (const series of scan.series) {
    checkAbort(signal);
    skipped.push(...(await unit(series.files, () => importDicomSeries(lib, tally, series))));
    const fresh = series.files.filter((f) => seriesFiles.delete(f)).length;
    tick(fresh, series.seriesDescription);
  }

  return {
    ...tally,
    skipped,
    filesScanned: walked.files.length,
    seconds: (performance.now() - started) / 1000,
  };
}
