import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodePng } from './png.js';
import type { ProjectResult } from './service.js';

/**
 * The files of a projection, shared by `pix2rep embed project` and the `embed` job so both lay out the same
 * outputs: projection.png (projection colours painted back), pca.png (PCA-to-RGB preview), points.csv and
 * summary.json. With several slices the images are numbered in request order (projection-0.png, …) and the
 * CSV gains a leading `slice` column; one slice keeps the plain names and the `i,j,x,y` header.
 */

export interface ProjectionSummary {
  model: { id: string; name: string; hash: string };
  method: ProjectResult['method'];
  /** The first slice (kept for readers of single-slice summaries). */
  slice: { volumeId: string; frame: number; slice: number; dims: [number, number] };
  slices: Array<{ volumeId: string; frame: number; slice: number; dims: [number, number]; projection: string; pca: string }>;
  points: number;
  pcaExplained: number;
  seconds: ProjectResult['seconds'];
  /** Absolute paths of the images and the CSV. */
  files: string[];
}

/**
 * Written next to the target and renamed over it, so a reader (the UI, a later job run) never sees half a
 * file, and a stopped or crashed writer leaves at most a stray temp file, removed on failure.
 */
async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export function pointsCsv(r: ProjectResult): string {
  const many = r.slices.length > 1;
  const lines = [many ? 'slice,i,j,x,y' : 'i,j,x,y'];
  for (let n = 0; n < r.points.x.length; n++) {
    const s = r.points.slice[n]!;
    const ni = r.slices[s]!.dims[0];
    const p = r.points.pixel[n]!;
    const xy = `${p % ni},${Math.floor(p / ni)},${r.points.x[n]!.toFixed(5)},${r.points.y[n]!.toFixed(5)}`;
    lines.push(many ? `${s},${xy}` : xy);
  }
  return lines.join('\n') + '\n';
}

/** Writes the projection's files into `dir` (created if needed); summary.json last, so it marks a complete set. */
export async function writeProjectionFiles(dir: string, r: ProjectResult): Promise<ProjectionSummary> {
  if (r.slices.length === 0 || r.slices.length !== r.keys.length) throw new Error(`projection has ${r.slices.length} slice images for ${r.keys.length} slices`);
  await mkdir(dir, { recursive: true });
  const many = r.slices.length > 1;
  const slices: ProjectionSummary['slices'] = [];
  for (const [n, s] of r.slices.entries()) {
    const suffix = many ? `-${n}` : '';
    const projection = join(dir, `projection${suffix}.png`);
    const pca = join(dir, `pca${suffix}.png`);
    await writeAtomic(projection, encodePng(s.dims[0], s.dims[1], s.rgb, 3));
    await writeAtomic(pca, encodePng(s.dims[0], s.dims[1], s.pcaRgb, 3));
    const k = r.keys[n]!;
    slices.push({ volumeId: k.volumeId, frame: k.frame, slice: k.slice, dims: s.dims, projection, pca });
  }
  const csv = join(dir, 'points.csv');
  await writeAtomic(csv, pointsCsv(r));
  const { projection: _p, pca: _c, ...first } = slices[0]!;
  const summary: ProjectionSummary = {
    model: { id: r.model.id, name: r.model.name, hash: r.model.hash },
    method: r.method,
    slice: first,
    slices,
    points: r.points.x.length,
    pcaExplained: r.pcaExplained,
    seconds: r.seconds,
    files: [...slices.flatMap((s) => [s.projection, s.pca]), csv],
  };
  await writeAtomic(join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}
