import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { readNifti } from '../../io/nifti.js';
import { EngineFailure } from '../../engine/errors.js';
import { newId, type LabelInfo } from '../../library/catalog.js';
import type { Library } from '../../library/library.js';
import { writeFileAtomic } from '../../library/atomic.js';
import { niftiSliceSource, type SliceSource } from '../pretrain/source.js';
import type { PreprocessConfig } from '../config.js';
import { labeledSlices, labelValuesOf, type LabeledSlice } from './data.js';
import type { Volume } from '../../io/volume.js';
import { MODEL_FILE, readModelFile, writeModelFile, type ModelFile } from './model-file.js';
import type { Segmenter } from './segmenter.js';
import type { BackboneRef, TrainingRecord } from './train.js';

/**
 * The few-shot side of a workspace library: which slices are labeled (the annotated_slices of drawn and
 * imported annotations; predictions never train), the unlabeled slices for Mean Teacher, and trained
 * models (a folder models/<id>/ with the model file plus a `models` catalogue row holding the training record).
 */

export interface WorkspaceTrainingData {
  labeled: LabeledSlice[];
  classes: number[];
  labels: LabelInfo[];
  volumes: string[];
  /** Every slice of the selected studies' volumes (Mean Teacher), lazily loaded. */
  unlabeled: SliceSource | null;
}

/** The volume ids of the given studies (id, uid or patient name), or of every study. */
export function selectVolumes(lib: Library, studies?: string[]): string[] {
  const all = lib.catalog.listStudies();
  if (!studies || studies.length === 0) return all.flatMap((st) => st.series.flatMap((se) => se.volumes.map((v) => v.id)));
  const ids: string[] = [];
  for (const ref of studies) {
    const found = lib.catalog.findStudies(ref);
    if (found.length === 0) throw new EngineFailure('NOT_FOUND', `no study "${ref}" in the workspace (give a study id, UID or patient name)`);
    for (const f of found) for (const v of lib.catalog.volumesOfStudy(f.id)) ids.push(v.id);
  }
  return [...new Set(ids)];
}

/**
 * Labeled slices of the selected volumes. Per volume, drawn annotations (newest first) win over imported
 * ones slice by slice; the classes are the union of the annotations' label lists, so a class counts even
 * when no slice of this selection happens to show it.
 */
export async function workspaceTrainingData(lib: Library, preprocess: PreprocessConfig, studies?: string[]): Promise<WorkspaceTrainingData> {
  const volumeIds = selectVolumes(lib, studies);
  const plans: Array<{ volumeId: string; group: string; byAnnotation: Map<string, Array<[number, number]>> }> = [];
  const labelByValue = new Map<number, LabelInfo>();
  for (const vid of volumeIds) {
    const anns = lib.catalog.annotationsOf(vid).filter((a) => a.source !== 'predicted');
    anns.sort((a, b) => (a.source === b.source ? b.updatedAt.localeCompare(a.updatedAt) : a.source === 'manual' ? -1 : 1));
    const taken = new Set<string>();
    const byAnnotation = new Map<string, Array<[number, number]>>();
    for (const a of anns) {
      for (const l of a.labels) if (!labelByValue.has(l.value) && l.value !== 0) labelByValue.set(l.value, l);
      const mine: Array<[number, number]> = [];
      for (const [frame, k] of lib.catalog.annotatedSlices(a.id)) {
        const key = `${frame}/${k}`;
        if (taken.has(key)) continue;
        taken.add(key);
        mine.push([frame, k]);
      }
      if (mine.length) byAnnotation.set(a.id, mine);
    }
    if (byAnnotation.size) plans.push({ volumeId: vid, group: lib.catalog.volume(vid)?.studyId ?? vid, byAnnotation });
  }
  // First every label map (values missing from the lists still count: the list is a naming aid, the voxels
  // are the truth), then the slices, so that class indices are final before any slice is encoded.
  const maps = new Map<string, Volume>();
  for (const p of plans) {
    for (const annId of p.byAnnotation.keys()) {
      const label = await readNifti(lib.abs(lib.catalog.annotation(annId)!.storedPath));
      maps.set(annId, label);
      for (const v of labelValuesOf(label)) if (!labelByValue.has(v)) labelByValue.set(v, { value: v, name: `label ${v}`, color: '#888888' });
    }
  }
  const classes = [...labelByValue.keys()].sort((a, b) => a - b);
  const labeled: LabeledSlice[] = [];
  for (const p of plans) {
    const image = await readNifti(lib.abs(lib.catalog.volume(p.volumeId)!.storedPath));
    for (const [annId, slices] of p.byAnnotation) {
      labeled.push(...labeledSlices(image, maps.get(annId)!, slices, classes, preprocess, { volumeId: p.volumeId, group: p.group, name: `annotation ${annId}` }));
    }
  }
  const paths = volumeIds.map((id) => lib.abs(lib.catalog.volume(id)!.storedPath));
  return {
    labeled,
    classes,
    labels: classes.map((v) => labelByValue.get(v)!),
    volumes: volumeIds,
    unlabeled: paths.length ? await niftiSliceSource(paths, preprocess) : null,
  };
}

export interface ModelRow {
  id: string;
  name: string;
  kind: string;
  parentId: string | null;
  status: string;
  config: unknown;
  metrics: Record<string, unknown>;
  path: string | null;
  createdAt: string;
}

function toModelRow(r: Record<string, unknown>): ModelRow {
  return {
    id: r.id as string,
    name: r.name as string,
    kind: r.kind as string,
    parentId: (r.parent_id as string | null) ?? null,
    status: r.status as string,
    config: JSON.parse((r.config as string) || '{}'),
    metrics: JSON.parse((r.metrics as string) || '{}') as Record<string, unknown>,
    path: (r.path as string | null) ?? null,
    createdAt: r.created_at as string,
  };
}

export function listModels(lib: Library): ModelRow[] {
  return (lib.db.prepare('SELECT * FROM models ORDER BY created_at, id').all() as Record<string, unknown>[]).map(toModelRow);
}

/** A model by id or name (the newest of that name). */
export function findModel(lib: Library, ref: string): ModelRow | null {
  const r = lib.db.prepare('SELECT * FROM models WHERE id = ? OR name = ? ORDER BY (id = ?) DESC, created_at DESC LIMIT 1').get(ref, ref, ref) as
    | Record<string, unknown>
    | undefined;
  return r ? toModelRow(r) : null;
}

function absPath(lib: Library, p: string): string {
  return isAbsolute(p) ? p : lib.abs(p);
}

/** The checkpoint to use inside a pretraining output (a .p2r file, or a folder with best.p2r / last.p2r / any .p2r). */
export function checkpointIn(path: string): string | null {
  if (!existsSync(path)) return null;
  if (statSync(path).isFile()) return path;
  for (const n of ['best.p2r', 'last.p2r']) if (existsSync(join(path, n))) return join(path, n);
  const any = readdirSync(path)
    .filter((n) => n.endsWith('.p2r'))
    .map((n) => join(path, n))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (any[0]) return any[0];
  const sub = join(path, 'checkpoints');
  return existsSync(sub) ? checkpointIn(sub) : null;
}

/**
 * A pretrained backbone: a `pretrain` model of the library (by id or name), a models/NAME folder written by
 * `pix2rep pretrain --out NAME`, or a checkpoint path.
 */
export function resolveBackbone(lib: Library, ref: string): BackboneRef {
  const row = findModel(lib, ref);
  if (row) {
    if (row.kind !== 'pretrain') throw new EngineFailure('BAD_INPUT', `model ${ref} is a ${row.kind} model, not a pretrained backbone`);
    const ck = row.path ? checkpointIn(absPath(lib, row.path)) : null;
    if (!ck) throw new EngineFailure('NOT_FOUND', `pretrained model ${ref} has no checkpoint on disk (${row.path ?? 'no path'})`);
    return { path: ck, id: row.id, name: row.name };
  }
  for (const candidate of [join(lib.layout.models, ref), resolve(ref)]) {
    const ck = checkpointIn(candidate);
    if (ck) return { path: ck, id: null, name: basename(candidate) };
  }
  throw new EngineFailure('NOT_FOUND', `no pretrained backbone "${ref}": not a library model, not a folder under ${lib.layout.models}, not a checkpoint file`);
}

/** Stores a trained segmenter: models/<id>/model.p2s (atomic), then the catalogue row. Returns the model id. */
export function saveSegmenter(lib: Library, s: Segmenter, opts: { name: string; record: TrainingRecord; labels: LabelInfo[]; preprocess: PreprocessConfig }): string {
  const id = newId('model');
  const rel = join('models', id);
  mkdirSync(lib.abs(rel), { recursive: true });
  writeModelFile(join(lib.abs(rel), MODEL_FILE), s, { preprocess: opts.preprocess, labels: opts.labels, record: opts.record });
  const parent = opts.record.backbone?.id && findModel(lib, opts.record.backbone.id) ? opts.record.backbone.id : null;
  const now = new Date().toISOString();
  const { curves, ...summary } = opts.record;
  try {
    lib.db
      .prepare('INSERT INTO models (id, name, kind, parent_id, status, config, metrics, path, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(
        id,
        opts.name,
        opts.record.mode,
        parent,
        'ready',
        JSON.stringify(opts.record.config),
        JSON.stringify({ ...summary, config: undefined, curves, classes: s.classes, labels: opts.labels }),
        rel,
        now,
        now,
      );
  } catch (err) {
    rmSync(lib.abs(rel), { recursive: true, force: true });
    throw err;
  }
  return id;
}

/** A segmentation model of the library with its file. */
export async function loadLibraryModel(lib: Library, ref: string): Promise<{ row: ModelRow; file: ModelFile; path: string }> {
  const row = findModel(lib, ref);
  if (!row) throw new EngineFailure('NOT_FOUND', `no model "${ref}" in the workspace (pix2rep models list)`);
  if (row.kind === 'pretrain') throw new EngineFailure('BAD_INPUT', `model ${ref} is a pretrained backbone, not a segmentation model: train one first (pix2rep train)`);
  if (!row.path) throw new EngineFailure('NOT_FOUND', `model ${ref} has no folder`);
  const path = join(absPath(lib, row.path), MODEL_FILE);
  return { row, file: await readModelFile(path), path };
}

/** Copies a model's folder to DIR/<name> with a model.json describing it. */
export function exportModel(lib: Library, ref: string, outDir: string): string {
  const row = findModel(lib, ref);
  if (!row) throw new EngineFailure('NOT_FOUND', `no model "${ref}" in the workspace`);
  if (!row.path) throw new EngineFailure('NOT_FOUND', `model ${ref} has no folder to export`);
  const dest = join(resolve(outDir), row.name.replace(/[^\w.-]+/g, '_'));
  if (existsSync(dest)) throw new EngineFailure('BAD_INPUT', `${dest} already exists`);
  mkdirSync(dest, { recursive: true });
  cpSync(absPath(lib, row.path), dest, { recursive: true });
  writeFileAtomic(join(dest, 'model.json'), Buffer.from(JSON.stringify({ id: row.id, name: row.name, kind: row.kind, config: row.config, metrics: row.metrics, createdAt: row.createdAt }, null, 2)));
  return dest;
}

/** Imports a folder written by exportModel (or any folder holding a model.p2s) as a new model of this library. */
export async function importModel(lib: Library, dir: string): Promise<string> {
  const src = resolve(dir);
  const file = join(src, MODEL_FILE);
  if (!existsSync(file)) throw new EngineFailure('BAD_INPUT', `${src} holds no ${MODEL_FILE} (not an exported model folder)`);
  const m = await readModelFile(file);
  let meta: { name?: string; kind?: string } = {};
  if (existsSync(join(src, 'model.json'))) {
    try {
      meta = JSON.parse(readFileSync(join(src, 'model.json'), 'utf8')) as typeof meta;
    } catch {
      throw new EngineFailure('BAD_INPUT', `${join(src, 'model.json')} is not valid JSON`);
    }
  }
  const id = newId('model');
  const rel = join('models', id);
  cpSync(src, lib.abs(rel), { recursive: true });
  const now = new Date().toISOString();
  const { curves, ...summary } = m.header.record;
  lib.db
    .prepare('INSERT INTO models (id, name, kind, parent_id, status, config, metrics, path, created_at, updated_at) VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?)')
    .run(id, meta.name ?? basename(src), m.header.record.mode, 'ready', JSON.stringify(m.header.record.config), JSON.stringify({ ...summary, config: undefined, curves, classes: m.header.classes, labels: m.header.labels, importedFrom: src }), rel, now, now);
  return id;
}
