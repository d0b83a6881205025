import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { LabelSpec } from '../contract/annotations.js';
import type { Handlers } from '../engine/engine.js';
import { EngineFailure } from '../engine/errors.js';
import { readNifti, readNiftiHeader, writeNiftiLike } from '../io/nifti.js';
import type { VoxelArray } from '../io/volume.js';
import { DEFAULT_LABELS, newId, type AnnotationRow, type VolumeRow } from './catalog.js';
import { openLibrary, type Library } from './library.js';

/**
 * Reading and saving annotations slice by slice, the way the viewer edits them.
 *
 * A save never overwrites the file the catalogue points to: the whole label map is written to a new file
 * (temp + rename), then one transaction points the row at it and updates its slices and palette, then the
 * old file is removed. A crash at any point leaves the catalogue on a complete file; a file written but
 * never committed is removed as debris when the workspace is next opened.
 */
export function annotationHandlers(workspaceDir: string): Handlers {
  let lib: Library | null = null;
  const open = () => (lib ??= openLibrary(workspaceDir));
  // Saves of one volume run one at a time: two first saves racing would otherwise create two annotations.
  const locks = new Map<string, Promise<unknown>>();
  const serial = <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const run = (locks.get(key) ?? Promise.resolve()).then(fn, fn);
    const tail = run.catch(() => undefined);
    locks.set(key, tail);
    void tail.then(() => {
      if (locks.get(key) === tail) locks.delete(key);
    });
    return run;
  };

  return {
    'library.readAnnotation': async ({ annotationId, frame }) => {
      const l = open();
      const ann = l.catalog.annotation(annotationId);
      if (!ann) throw new EngineFailure('NOT_FOUND', `no annotation ${annotationId}`);
      const vol = volumeOf(l, ann);
      if (frame >= vol.frames) {
        throw new EngineFailure('BAD_INPUT', `volume ${vol.id} has ${vol.frames} frame(s); frame ${frame} does not exist`);
      }
      const all = await readLabels(l, ann, vol);
      const n = vol.dims[0] * vol.dims[1] * vol.dims[2];
      const data = all.subarray(frame * n, (frame + 1) * n);
      return {
        id: ann.id,
        volumeId: vol.id,
        source: ann.source,
        modelId: ann.modelId,
        labels: ann.labels.filter(validLabel),
        dims: vol.dims,
        frames: vol.frames,
        frame,
        annotatedSlices: l.catalog.annotatedSlices(ann.id),
        data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'),
      };
    },

    'library.saveAnnotation': (p, ctx) =>
      serial(p.volumeId, async () => {
        const l = open();
        const vol = l.catalog.volume(p.volumeId);
        if (!vol) throw new EngineFailure('NOT_FOUND', `no volume ${p.volumeId}`);
        if (p.frame >= vol.frames) {
          throw new EngineFailure('BAD_INPUT', `volume ${vol.id} has ${vol.frames} frame(s); frame ${p.frame} does not exist`);
        }
        const [nx, ny, nz] = vol.dims;
        const sliceLen = nx * ny;
        const slices = p.slices.map(({ k, data }) => {
          if (k >= nz) throw new EngineFailure('BAD_INPUT', `slice ${k} outside volume ${vol.id}, which has ${nz} slices`);
          const bytes = Buffer.from(data, 'base64');
          if (bytes.length !== sliceLen) {
            throw new EngineFailure('BAD_INPUT', `slice ${k} holds ${bytes.length} bytes; a ${nx}x${ny} slice of uint8 labels holds ${sliceLen}`);
          }
          return { k, bytes };
        });
        if (p.annotatedSlices?.some((k) => k >= nz)) {
          throw new EngineFailure('BAD_INPUT', `annotated slice index outside volume ${vol.id}, which has ${nz} slices`);
        }
        const values = new Set(p.labels?.map((x) => x.value));
        if (p.labels && values.size !== p.labels.length) throw new EngineFailure('BAD_INPUT', 'two labels share one voxel value');

        // Without an id, edits go to the volume's latest manual annotation, created when there is none:
        // a page reloaded before its first save answered must not start a second one.
        let ann: AnnotationRow | null = p.annotationId ? null : (l.catalog.annotationsOf(vol.id).filter((a) => a.source === 'manual').at(-1) ?? null);
        if (p.annotationId) {
          ann = l.catalog.annotation(p.annotationId);
          if (!ann) throw new EngineFailure('NOT_FOUND', `no annotation ${p.annotationId}`);
          if (ann.volumeId !== vol.id) throw new EngineFailure('BAD_INPUT', `annotation ${ann.id} belongs to volume ${ann.volumeId}, not ${vol.id}`);
          if (ann.source !== 'manual') {
            throw new EngineFailure('BAD_INPUT', `annotation ${ann.id} is ${ann.source}; edits are saved into a manual annotation (omit annotationId)`);
          }
        }

        const labels = ann ? await readLabels(l, ann, vol) : new Uint8Array(sliceLen * nz * vol.frames);
        const frameOff = p.frame * sliceLen * nz;
        for (const { k, bytes } of slices) labels.set(bytes, frameOff + k * sliceLen);

        const id = ann?.id ?? newId('ann');
        const rel = join('annotations', `${id}-${Date.now().toString(36)}${randomBytes(3).toString('hex')}.nii.gz`);
        const header = await readNiftiHeader(l.abs(vol.storedPath));
        // Level 1: a save happens every few strokes; speed matters more than a few kB.
        await writeNiftiLike(l.abs(rel), header, labels, { gzipLevel: 1, description: 'Pix2Rep manual annotation' });

        let committed = false;
        try {
          const before = ann ? l.catalog.annotatedSlices(ann.id).length : 0;
          const total = commit(l, { id, vol, ann, rel, labels, frame: p.frame, annotatedSlices: p.annotatedSlices, palette: p.labels });
          committed = true;
          if (ann) rmSync(l.abs(ann.storedPath), { force: true });
          if (!ann || total !== before) ctx.emit('library.changed', { reason: 'annotation' });
          return { annotationId: id, created: !ann, annotatedSlices: total };
        } finally {
          if (!committed) rmSync(l.abs(rel), { force: true });
        }
      }),
  };
}

function volumeOf(l: Library, ann: AnnotationRow): VolumeRow {
  const vol = l.catalog.volume(ann.volumeId);
  if (!vol) throw new EngineFailure('INTERNAL', `annotation ${ann.id} refers to missing volume ${ann.volumeId}`);
  return vol;
}

function validLabel(x: { value: number; name: string; color: string }): x is LabelSpec {
  return Number.isInteger(x.value) && x.value >= 1 && x.value <= 255 && /^#[0-9a-fA-F]{6}$/.test(x.color);
}

/** The stored label map, all frames, as uint8; a file that does not fit the volume or holds non-labels is refused. */
async function readLabels(l: Library, ann: AnnotationRow, vol: VolumeRow): Promise<Uint8Array> {
  const path = l.abs(ann.storedPath);
  const v = await readNifti(path);
  if (v.dims.some((n, i) => n !== vol.dims[i]) || v.frames !== vol.frames) {
    throw new EngineFailure('INTERNAL', `annotation file ${path} is ${v.dims.join('x')}x${v.frames}, its volume ${vol.id} ${vol.dims.join('x')}x${vol.frames}`);
  }
  return toUint8(v.data, path);
}

function toUint8(data: VoxelArray, path: string): Uint8Array {
  if (data instanceof Uint8Array) return new Uint8Array(data);
  const out = new Uint8Array(data.length);
  for (let n = 0; n < data.length; n++) {
    const x = data[n]!;
    if (!(x >= 0 && x <= 255 && Number.isInteger(x))) {
      throw new EngineFailure('BAD_INPUT', `annotation file ${path} holds value ${x} at voxel ${n}; labels must be integers 0..255`);
    }
    out[n] = x;
  }
  return out;
}

interface CommitArgs {
  id: string;
  vol: VolumeRow;
  ann: AnnotationRow | null;
  rel: string;
  labels: Uint8Array;
  frame: number;
  annotatedSlices: number[] | undefined;
  palette: LabelSpec[] | undefined;
}

/** Point the catalogue at the new file, in one transaction. Returns the annotated slice count after it. */
function commit(l: Library, a: CommitArgs): number {
  const db = l.db;
  return db.transaction(() => {
    const t = new Date().toISOString();
    let sha = createHash('sha256').update(a.labels).digest('hex');
    // (volume, content) is unique so that re-importing a label map adds nothing; a drawing that happens to
    // equal another annotation of the volume keeps its own row through a suffixed identity.
    const clash = db.prepare('SELECT id FROM annotations WHERE volume_id = ? AND content_sha256 = ? AND id != ?').get(a.vol.id, sha, a.id);
    if (clash) sha = `${sha}:${a.id}`;
    if (a.ann) {
      db.prepare('UPDATE annotations SET stored_path = ?, content_sha256 = ?, updated_at = ? WHERE id = ?').run(a.rel, sha, t, a.id);
    } else {
      db.prepare(
        `INSERT INTO annotations (id, volume_id, source, model_id, name, labels, content_sha256, source_path, stored_path, created_at, updated_at)
         VALUES (?, ?, 'manual', NULL, 'manual', ?, ?, NULL, ?, ?, ?)`,
      ).run(a.id, a.vol.id, JSON.stringify(a.palette ?? DEFAULT_LABELS), sha, a.rel, t, t);
    }
    if (a.palette && a.ann) db.prepare('UPDATE annotations SET labels = ? WHERE id = ?').run(JSON.stringify(a.palette), a.id);
    if (a.annotatedSlices) {
      db.prepare('DELETE FROM annotated_slices WHERE annotation_id = ? AND frame = ?').run(a.id, a.frame);
      const ins = db.prepare('INSERT INTO annotated_slices (annotation_id, frame, slice) VALUES (?, ?, ?)');
      for (const k of new Set(a.annotatedSlices)) ins.run(a.id, a.frame, k);
    }
    return (db.prepare('SELECT COUNT(*) AS n FROM annotated_slices WHERE annotation_id = ?').get(a.id) as { n: number }).n;
  }).immediate();
}
