// TEMPORARY until main/io/dicom exposes its scanner and series reader.
import type { Library } from '../library.js';
import type { Tally } from './commit.js';
import type { FileIssue } from './types.js';

export interface DicomSeriesUnit {
  files: string[];
  description: string;
}

export async function scanDicomFiles(files: string[], _signal?: AbortSignal): Promise<{ series: DicomSeriesUnit[]; issues: FileIssue[] }> {
  return { series: [], issues: files.map((path) => ({ path, reason: 'DICOM reader not available yet' })) };
}

export async function importDicomSeries(_lib: Library, _tally: Tally, _s: DicomSeriesUnit): Promise<FileIssue[]> {
  return [];
}
