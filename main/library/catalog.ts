import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { StudySummary } from '../contract/library.js';
import type { Mat3, Vec3 } from '../io/volume.js';

export type AnnotationSourceKind = 'imported' | 'manual' | 'predicted';
export type Phase = 'ED' | 'ES';

export interface LabelInfo {
  value: number;
  name: string;
  color: string;
}

/** ACDC convention; names and colours stay user-editable per annotation. */
export const DEFAULT_LABELS: LabelInfo[] = [
  { value: 1, name: 'RV cavity', color: '#e6194b' },
  { value: 2, name: 'LV myocardium', color: '#3cb44b' },
  { value: 3, name: 'LV cavity', color: '#4363d8' },
];

export interface PatientIdentity {
  key: string;
  name: string;
}
export interface StudyIdentity {
  uid: string;
  date: string | null;
  description: string;
}
export interface SeriesIdentity {
  uid: string;
  number: number | null;
  description: string;
  modality: string;
}

export interface VolumeRecord {
  name: string;
  dims: Vec3;
  frames: number;
  spacing: Vec3;
  origin: Vec3;
  direction: Mat3;
  frameInterval: number | null;
  dtype: string;
  contentSha256: string;
  sourceSha256: string | null;
  sourcePaths: string[];
  sourceFormat: 'nifti' | 'dicom';
  phase: Phase | null;
  /** Relative to the workspace root. */
  storedPath: string;
  storedBytes: number;
}

export interface AnnotationRecord {
  source: AnnotationSourceKind;
  modelId: string | null;
  name: string;
  labels: LabelInfo[];
  contentSha256: string;
  sourcePath: string | null;
  storedPath: string;
  /** [frame, slice] pairs holding at least one label. */
  slices: Array<[number, number]>;
}

export interface VolumeRow {
  id: string;
  seriesId: string;
  studyId: string;
  name: string;
  dims: Vec3;
  frames: number;
  spacing: Vec3;
  origin: Vec3;
  direction: Mat3;
  frameInterval: number | null;
  dtype: string;
  contentSha256: string;
  sourcePaths: string[];
  sourceFormat: 'nifti' | 'dicom';
  phase: Phase | null;
  storedPath: string;
}

export interface AnnotationRow {
  id: string;
  volumeId: string;
  source: AnnotationSourceKind;
  modelId: string | null;
  name: string;
  labels: LabelInfo[];
  contentSha256: string;
  sourcePath: string | null;
  storedPath: string;
  createdAt: string;
  updatedAt: string;
}

export function newId(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

const now = () => new Date().toISOString();

/** Typed access to the catalogue tables. Every multi-row write is one transaction. */
export class Catalog {
  constructor(readonly db: Database.Database) {}

  volumeIdByContent(sha256: string): string | null {
    const row = this.db.prepare('SELECT id FROM volumes WHERE content_sha256 = ?').get(sha256) as { id: string } | undefined;
    return row?.id ?? null;
  }

  volumeIdBySource(sha256: string): string | null {
    const row = this.db.prepare('SELECT id FROM volumes WHERE source_sha256 = ?').get(sha256) as { id: string } | undefined;
    return row?.id ?? null;
  }

  hasAnnotation(volumeId: string, sha256: string): boolean {
    return (
      this.db.prepare("SELECT 1 FROM annotations WHERE volume_id = ? AND content_sha256 = ? AND source = 'imported'").get(volumeId, sha256) !==
      undefined
    );
  }

  /**
   * Add a volume (and its patient, study and series when new) with its annotations, all or nothing.
   * Returns null when a volume with the same content exists already (a concurrent import won the race).
   */
  addVolume(
    patient: PatientIdentity,
    study: StudyIdentity,
    series: SeriesIdentity,
    volume: VolumeRecord,
    annotations: AnnotationRecord[],
  ): { volumeId: string; patientAdded: boolean; studyAdded: boolean; seriesAdded: boolean; annotationIds: string[] } | null {
    return this.db.transaction(() => {
      if (this.volumeIdByContent(volume.contentSha256)) return null;
      const t = now();
      let patientId = (this.db.prepare('SELECT id FROM patients WHERE patient_key = ?').get(patient.key) as { id: string } | undefined)?.id;
      const patientAdded = !patientId;
      if (!patientId) {
        patientId = newId('pat');
        this.db.prepare('INSERT INTO patients (id, patient_key, name, created_at) VALUES (?, ?, ?, ?)').run(patientId, patient.key, patient.name, t);
      }
      let studyId = (this.db.prepare('SELECT id FROM studies WHERE uid = ?').get(study.uid) as { id: string } | undefined)?.id;
      const studyAdded = !studyId;
      if (!studyId) {
        studyId = newId('study');
        this.db
          .prepare('INSERT INTO studies (id, patient_id, uid, date, description, created_at) VALUES (?, ?, ?, ?, ?, ?)')
          .run(studyId, patientId, study.uid, study.date, study.description, t);
      }
      let seriesId = (this.db.prepare('SELECT id FROM series WHERE uid = ?').get(series.uid) as { id: string } | undefined)?.id;
      const seriesAdded = !seriesId;
      if (!seriesId) {
        seriesId = newId('series');
        this.db
          .prepare('INSERT INTO series (id, study_id, uid, number, description, modality, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
          .run(seriesId, studyId, series.uid, series.number, series.description, series.modality, t);
      }
      const volumeId = newId('vol');
      this.db
        .prepare(
          `INSERT INTO volumes (id, series_id, name, dim_i, dim_j, dim_k, frames, spacing, origin, direction, frame_interval,
             dtype, content_sha256, source_sha256, source_paths, source_format, phase, stored_path, stored_bytes, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          volumeId, seriesId, volume.name, volume.dims[0], volume.dims[1], volume.dims[2], volume.frames,
          JSON.stringify(volume.spacing), JSON.stringify(volume.origin), JSON.stringify(volume.direction), volume.frameInterval,
          volume.dtype, volume.contentSha256, volume.sourceSha256, JSON.stringify(volume.sourcePaths), volume.sourceFormat, volume.phase,
          volume.storedPath, volume.storedBytes, t,
        );
      const annotationIds = annotations.map((a) => this.insertAnnotation(volumeId, a, t));
      return { volumeId, patientAdded, studyAdded, seriesAdded, annotationIds };
    }).immediate();
  }

  /** Add an imported annotation to an existing volume; null when the same label content is already there. */
  addAnnotation(volumeId: string, a: AnnotationRecord): string | null {
    return this.db.transaction(() => {
      if (this.hasAnnotation(volumeId, a.contentSha256)) return null;
      return this.insertAnnotation(volumeId, a, now());
    }).immediate();
  }

  /** Insert a drawn or predicted annotation (no duplicate check: users may keep several versions). */
  insertAnnotationRow(volumeId: string, a: AnnotationRecord, id = newId('ann')): string {
    return this.db.transaction(() => this.insertAnnotation(volumeId, a, now(), id)).immediate();
  }

  /** Point an annotation at new voxels (a saved edit): file, hash, labels and annotated slices together. */
  updateAnnotationContent(id: string, a: Pick<AnnotationRecord, 'contentSha256' | 'storedPath' | 'labels' | 'slices'>): void {
    this.db.transaction(() => {
      const r = this.db
        .prepare('UPDATE annotations SET content_sha256 = ?, stored_path = ?, labels = ?, updated_at = ? WHERE id = ?')
        .run(a.contentSha256, a.storedPath, JSON.stringify(a.labels), now(), id);
      if (r.changes !== 1) throw new Error(`no annotation ${id}`);
      this.db.prepare('DELETE FROM annotated_slices WHERE annotation_id = ?').run(id);
      const ins = this.db.prepare('INSERT INTO annotated_slices (annotation_id, frame, slice) VALUES (?, ?, ?)');
      for (const [f, s] of a.slices) ins.run(id, f, s);
    }).immediate();
  }

  deleteAnnotation(id: string): boolean {
    return this.db.prepare('DELETE FROM annotations WHERE id = ?').run(id).changes === 1;
  }

  /** Patient identity key of a volume (`acdc:…`, `dicom:…`, `nifti:…`). */
  patientKeyOfVolume(volumeId: string): string | null {
    const r = this.db
      .prepare('SELECT p.patient_key AS k FROM volumes v JOIN series se ON se.id = v.series_id JOIN studies st ON st.id = se.study_id JOIN patients p ON p.id = st.patient_id WHERE v.id = ?')
      .get(volumeId) as { k: string } | undefined;
    return r?.k ?? null;
  }

  /** How many rows refer to a stored file (a file is deleted only when none do). */
  storedPathRefs(rel: string): number {
    const q = 'SELECT (SELECT COUNT(*) FROM volumes WHERE stored_path = ?) + (SELECT COUNT(*) FROM annotations WHERE stored_path = ?) AS n';
    return (this.db.prepare(q).get(rel, rel) as { n: number }).n;
  }

  private insertAnnotation(volumeId: string, a: AnnotationRecord, t: string, id = newId('ann')): string {
    this.db
      .prepare(
        `INSERT INTO annotations (id, volume_id, source, model_id, name, labels, content_sha256, source_path, stored_path, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(id, volumeId, a.source, a.modelId, a.name, JSON.stringify(a.labels), a.contentSha256, a.sourcePath, a.storedPath, t, t);
    const ins = this.db.prepare('INSERT INTO annotated_slices (annotation_id, frame, slice) VALUES (?, ?, ?)');
    for (const [f, s] of a.slices) ins.run(id, f, s);
    return id;
  }

  volume(id: string): VolumeRow | null {
    const r = this.db
      .prepare('SELECT v.*, s.study_id FROM volumes v JOIN series s ON s.id = v.series_id WHERE v.id = ?')
      .get(id) as Record<string, unknown> | undefined;
    return r ? toVolumeRow(r) : null;
  }

  volumesOfStudy(studyId: string): VolumeRow[] {
    const rows = this.db
      .prepare('SELECT v.*, s.study_id FROM volumes v JOIN series s ON s.id = v.series_id WHERE s.study_id = ? ORDER BY v.name')
      .all(studyId) as Record<string, unknown>[];
    return rows.map(toVolumeRow);
  }

  annotation(id: string): AnnotationRow | null {
    const r = this.db.prepare('SELECT * FROM annotations WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r ? toAnnotationRow(r) : null;
  }

  annotationsOf(volumeId: string): AnnotationRow[] {
    return (this.db.prepare('SELECT * FROM annotations WHERE volume_id = ? ORDER BY created_at, id').all(volumeId) as Record<string, unknown>[]).map(
      toAnnotationRow,
    );
  }

  annotatedSlices(annotationId: string): Array<[number, number]> {
    return (this.db.prepare('SELECT frame, slice FROM annotated_slices WHERE annotation_id = ? ORDER BY frame, slice').all(annotationId) as Array<{
      frame: number;
      slice: number;
    }>).map((r) => [r.frame, r.slice]);
  }

  /** A study by id, uid or patient name (the CLI accepts any of these). */
  findStudies(ref: string): Array<{ id: string; uid: string; patientName: string }> {
    return this.db
      .prepare(
        `SELECT st.id, st.uid, p.name AS patientName FROM studies st JOIN patients p ON p.id = st.patient_id
         WHERE st.id = ? OR st.uid = ? OR p.name = ? ORDER BY st.created_at, st.id`,
      )
      .all(ref, ref, ref) as Array<{ id: string; uid: string; patientName: string }>;
  }

  /** Every stored file path (relative) a row refers to. */
  storedPaths(): string[] {
    const v = this.db.prepare('SELECT stored_path AS p FROM volumes UNION ALL SELECT stored_path AS p FROM annotations').all() as Array<{ p: string }>;
    return v.map((r) => r.p);
  }

  counts(): { patients: number; studies: number; series: number; volumes: number; annotations: number } {
    const c = (t: string) => (this.db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n;
    return { patients: c('patients'), studies: c('studies'), series: c('series'), volumes: c('volumes'), annotations: c('annotations') };
  }

  listStudies(): StudySummary[] {
    const studies = this.db
      .prepare(
        `SELECT st.id, st.uid, st.date, st.description, p.id AS patientId, p.name AS patientName
         FROM studies st JOIN patients p ON p.id = st.patient_id ORDER BY p.name, st.date, st.uid`,
      )
      .all() as Array<{ id: string; uid: string; date: string | null; description: string; patientId: string; patientName: string }>;
    const series = this.db
      .prepare('SELECT id, study_id AS studyId, uid, description, modality FROM series ORDER BY number, description, uid')
      .all() as Array<{ id: string; studyId: string; uid: string; description: string; modality: string }>;
    const volumes = this.db
      .prepare('SELECT id, series_id, name, dim_i, dim_j, dim_k, frames, spacing, phase FROM volumes ORDER BY name, id')
      .all() as Array<Record<string, unknown>>;
    const anns = this.db
      .prepare(
        `SELECT a.id, a.volume_id AS volumeId, a.source, a.model_id AS modelId,
           (SELECT COUNT(*) FROM annotated_slices s WHERE s.annotation_id = a.id) AS annotatedSlices
         FROM annotations a ORDER BY a.created_at, a.id`,
      )
      .all() as Array<{ id: string; volumeId: string; source: AnnotationSourceKind; modelId: string | null; annotatedSlices: number }>;

    const annsByVolume = groupBy(anns, (a) => a.volumeId);
    const volsBySeries = groupBy(volumes, (v) => v.series_id as string);
    const seriesByStudy = groupBy(series, (s) => s.studyId);
    return studies.map((st) => ({
      ...st,
      series: (seriesByStudy.get(st.id) ?? []).map((se) => ({
        ...se,
        volumes: (volsBySeries.get(se.id) ?? []).map((v) => ({
          id: v.id as string,
          seriesId: se.id,
          name: v.name as string,
          dims: [v.dim_i, v.dim_j, v.dim_k] as [number, number, number],
          frames: v.frames as number,
          spacing: JSON.parse(v.spacing as string) as [number, number, number],
          phase: (v.phase as Phase | null) ?? null,
          annotations: (annsByVolume.get(v.id as string) ?? []).map(({ volumeId: _v, ...a }) => a),
        })),
      })),
    }));
  }
}

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = m.get(k);
    if (list) list.push(it);
    else m.set(k, [it]);
  }
  return m;
}

function toVolumeRow(r: Record<string, unknown>): VolumeRow {
  return {
    id: r.id as string,
    seriesId: r.series_id as string,
    studyId: r.study_id as string,
    name: r.name as string,
    dims: [r.dim_i as number, r.dim_j as number, r.dim_k as number],
    frames: r.frames as number,
    spacing: JSON.parse(r.spacing as string) as Vec3,
    origin: JSON.parse(r.origin as string) as Vec3,
    direction: JSON.parse(r.direction as string) as Mat3,
    frameInterval: (r.frame_interval as number | null) ?? null,
    dtype: r.dtype as string,
    contentSha256: r.content_sha256 as string,
    sourcePaths: JSON.parse(r.source_paths as string) as string[],
    sourceFormat: r.source_format as 'nifti' | 'dicom',
    phase: (r.phase as Phase | null) ?? null,
    storedPath: r.stored_path as string,
  };
}

function toAnnotationRow(r: Record<string, unknown>): AnnotationRow {
  return {
    id: r.id as string,
    volumeId: r.volume_id as string,
    source: r.source as AnnotationSourceKind,
    modelId: (r.model_id as string | null) ?? null,
    name: r.name as string,
    labels: JSON.parse(r.labels as string) as LabelInfo[],
    contentSha256: r.content_sha256 as string,
    sourcePath: (r.source_path as string | null) ?? null,
    storedPath: r.stored_path as string,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
  };
}
