import { z } from 'zod';
import { method } from './protocol.js';

export const AnnotationSource = z.enum(['imported', 'manual', 'predicted']);

export const VolumeSummary = z.object({
  id: z.string(),
  seriesId: z.string(),
  /** Human label, e.g. the file name or "frame 01". */
  name: z.string(),
  dims: z.tuple([z.number().int(), z.number().int(), z.number().int()]),
  frames: z.number().int().positive(),
  spacing: z.tuple([z.number(), z.number(), z.number()]),
  /** Cardiac phase when known (ACDC ED/ES). */
  phase: z.enum(['ED', 'ES']).nullable(),
  annotations: z.array(
    z.object({
      id: z.string(),
      source: AnnotationSource,
      modelId: z.string().nullable(),
      annotatedSlices: z.number().int(),
    }),
  ),
});
export type VolumeSummary = z.infer<typeof VolumeSummary>;

export const SeriesSummary = z.object({
  id: z.string(),
  studyId: z.string(),
  uid: z.string(),
  description: z.string(),
  modality: z.string(),
  volumes: z.array(VolumeSummary),
});
export type SeriesSummary = z.infer<typeof SeriesSummary>;

export const StudySummary = z.object({
  id: z.string(),
  uid: z.string(),
  patientId: z.string(),
  patientName: z.string(),
  /** ISO date (YYYY-MM-DD) or null when unknown. */
  date: z.string().nullable(),
  description: z.string(),
  series: z.array(SeriesSummary),
});
export type StudySummary = z.infer<typeof StudySummary>;

export const ImportFileIssue = z.object({ path: z.string(), reason: z.string() });

export const ImportReport = z.object({
  studiesAdded: z.number().int(),
  seriesAdded: z.number().int(),
  volumesAdded: z.number().int(),
  annotationsAdded: z.number().int(),
  /** Volumes whose content was already in the library (import is idempotent). */
  alreadyPresent: z.number().int(),
  skipped: z.array(ImportFileIssue),
  filesScanned: z.number().int(),
  seconds: z.number(),
});
export type ImportReport = z.infer<typeof ImportReport>;

export const libraryMethods = {
  'library.listStudies': method({
    summary: 'Every study in the workspace with its series, volumes and annotation status.',
    params: z.object({}).strict().optional(),
    result: z.object({ studies: z.array(StudySummary) }),
  }),
  'library.import': method({
    summary: 'Import DICOM folders and NIfTI files (recursively) into the workspace; progress as request.progress.',
    params: z
      .object({
        paths: z.array(z.string().min(1)).min(1),
        /** Glob on file names marking label maps to pair with their image (e.g. "*_gt.nii.gz"). */
        labels: z.string().min(1).optional(),
      })
      .strict(),
    result: ImportReport,
  }),
  'library.readVolume': method({
    summary: 'Geometry and voxels of one frame of a volume (voxels base64-encoded, little-endian).',
    params: z.object({ volumeId: z.string(), frame: z.number().int().nonnegative().default(0) }).strict(),
    result: z.object({
      id: z.string(),
      dims: z.tuple([z.number().int(), z.number().int(), z.number().int()]),
      frames: z.number().int(),
      spacing: z.tuple([z.number(), z.number(), z.number()]),
      origin: z.tuple([z.number(), z.number(), z.number()]),
      direction: z.array(z.number()).length(9),
      dtype: z.enum(['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'float64']),
      data: z.string(),
    }),
  }),
  'library.export': method({
    summary: 'Write annotations as NIfTI label maps in their volume geometry: one annotation, a volume\'s, or a whole study\'s.',
    params: z
      .object({
        /** Annotation id, volume id, or study (id, uid or patient name). */
        target: z.string().min(1),
        /** Output folder (created when missing). */
        out: z.string().min(1),
      })
      .strict(),
    result: z.object({
      files: z.array(z.object({ annotationId: z.string(), volumeId: z.string(), path: z.string() })),
    }),
  }),
};

export const libraryEvents = {
  /** The catalogue changed (import, delete, annotation saved): views listing studies should refresh. */
  'library.changed': z.object({ reason: z.string() }),
};
