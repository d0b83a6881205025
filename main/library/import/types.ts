/** Shared shapes of the import chain. Each processor is a small function from one of these to the next. */

export interface FileIssue {
  path: string;
  reason: string;
}

export type FileKind = 'nifti' | 'dicom';

export type Classified =
  | { path: string; kind: FileKind }
  /** A file read for metadata (ACDC Info.cfg), never imported itself. */
  | { path: string; kind: 'sidecar' }
  | { path: string; kind: 'skip'; reason: string };

export interface ImportProgress {
  stage: 'scan' | 'import';
  done: number;
  total: number;
  message?: string;
}
