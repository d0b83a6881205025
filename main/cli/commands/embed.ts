import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeNifti } from '../../io/nifti.js';
import { indexToPoint, type Volume } from '../../io/volume.js';
import { defaultWorkspaceDir } from '../../library/workspace.js';
import { helpOption, jsonOption, parse, UsageError, workspaceOption, type Command } from '../command.js';
import { SUMMARIES } from '../summaries.js';

const USAGE = [
  'pix2rep embed similarity --model NAME --volume V [--frame F] --slice K --at X,Y [--against V2[:K2[:F2]],…] --out DIR',
  'pix2rep embed project    --model NAME --volume V [--frame F] --slice K [--method umap|pca] [--sample N] [--seed S] --out DIR',
  '                         [--workspace DIR] [--json]',
  '',
  'Inspect what a pretrained backbone learned. NAME is a model of the workspace (id or name), a folder under',
  'its models/, or a checkpoint path. V is a library volume id or a NIfTI file. X,Y is the query pixel (i, j)',
  'in the slice grid; PNGs put i along x and j along y (row 0 is j = 0).',
  'similarity: writes sim-<n>.nii.gz (a one-slice volume in the slice\'s own geometry, float32 cosine',
  '  similarity in [-1, 1]) and sim-<n>.png (heat map, best match marked in cyan) per slice, and summary.json.',
  'project: writes projection.png (2D projection colours painted back), pca.png (PCA-to-RGB preview),',
  '  points.csv (i,j,x,y of the projected pixels) and summary.json. t-SNE is not offered: see docs.',
  'Embeddings are cached under the workspace cache/embeddings/ and recomputed when the model changes.',
].join('\n');

function int(name: string, v: string | undefined, min = 0): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${v}"`);
  return n;
}

function need(name: string, v: string | undefined): string {
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

/** `V2[:K2[:F2]]` items; slice and frame default to the query's. */
export function parseAgainst(list: string | undefined, slice: number, frame: number): Array<{ volumeId: string; slice: number; frame: number }> {
  if (!list) return [];
  return list.split(',').map((item) => {
    const parts = item.split(':');
    const vol = parts[0];
    if (!vol || parts.length > 3) throw new UsageError(`--against items are V[:K[:F]], got "${item}"`);
    return { volumeId: vol, slice: int('against slice', parts[1], 0) ?? slice, frame: int('against frame', parts[2], 0) ?? frame };
  });
}

/** One slice of `volume` as a one-slice volume whose origin is that slice's, so viewers overlay it in place. */
function sliceVolume(geometry: Omit<Volume, 'data'>, k: number, data: Float32Array): Volume {
  return {
    dims: [geometry.dims[0], geometry.dims[1], 1],
    frames: 1,
    spacing: geometry.spacing,
    origin: indexToPoint(geometry, [0, 0, k]),
    direction: geometry.direction,
    data,
  };
}

export const embedCommand: Command = {
  name: 'embed',
  summary: SUMMARIES.embed,
  usage: USAGE,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (!sub || sub === '--help' || sub === '-h') {
      process.stdout.write(USAGE + '\n');
      return sub ? 0 : 2;
    }
    if (sub !== 'similarity' && sub !== 'project') throw new UsageError(`unknown sub-command "${sub}" (similarity or project)`);
    const { values } = parse(rest, {
      ...workspaceOption,
      ...jsonOption,
      ...helpOption,
      model: { type: 'string' },
      volume: { type: 'string' },
      frame: { type: 'string' },
      slice: { type: 'string' },
      at: { type: 'string' },
      against: { type: 'string' },
      method: { type: 'string', default: 'umap' },
      sample: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
    });
    if (values.help) {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    const model = need('model', values.model);
    const volumeId = need('volume', values.volume);
    const slice = int('slice', need('slice', values.slice))!;
    const frame = int('frame', values.frame) ?? 0;
    const out = resolve(need('out', values.out));
    const workspace = resolve(values.workspace ?? defaultWorkspaceDir());
    const log = (s: string) => {
      if (!values.json) process.stderr.write(s + '\n');
    };
    // Every argument is checked before the engine parts load (seconds under load), so usage errors are quick.
    let at: [number, number] = [0, 0];
    let against: ReturnType<typeof parseAgainst> = [];
    const method = values.method;
    if (sub === 'similarity') {
      const m = /^(\d+),(\d+)$/.exec(need('at', values.at));
      if (!m) throw new UsageError(`--at must be X,Y (pixel indices), got "${values.at}"`);
      at = [Number(m[1]), Number(m[2])];
      against = parseAgainst(values.against, slice, frame);
    } else {
      if (method === 'tsne') throw new UsageError('t-SNE is not available (no maintained t-SNE package fits 20,000 pixels here): use --method umap or pca');
      if (method !== 'umap' && method !== 'pca') throw new UsageError(`--method must be umap or pca, got "${method}"`);
    }
    const sample = int('sample', values.sample, 10);
    const seed = int('seed', values.seed);
    // Loaded here, not at the top: tfjs and umap-js only when the command really runs.
    const { EmbedService } = await import('../../embed/service.js');
    const { encodePng } = await import('../../embed/png.js');
    const { writeProjectionFiles } = await import('../../embed/files.js');
    const { heatImage } = await import('../../embed/colormap.js');
    const service = new EmbedService(workspace, { allowPaths: true });
    try {
      await mkdir(out, { recursive: true });
      if (sub === 'similarity') {
        const r = await service.similarity(model, { volumeId, frame, slice }, at, against);
        const files: Array<{ volumeId: string; frame: number; slice: number; nifti: string; png: string; best: { at: [number, number]; value: number } }> = [];
        for (const [n, map] of r.maps.entries()) {
          const nifti = join(out, `sim-${n}.nii.gz`);
          const png = join(out, `sim-${n}.png`);
          await writeNifti(nifti, sliceVolume(map.geometry, map.slice, map.values), { description: `pix2rep similarity ${r.model.name}` });
          const rgb = heatImage(map.values);
          const mark = n === 0 ? at : map.best.at;
          const [ni, nj] = map.dims;
          for (let dj = -2; dj <= 2; dj++) {
            for (let di = -2; di <= 2; di++) {
              if (Math.abs(di) !== 2 && Math.abs(dj) !== 2) continue;
              const i = mark[0] + di;
              const j = mark[1] + dj;
              if (i >= 0 && j >= 0 && i < ni && j < nj) rgb.set([0, 255, 255], (j * ni + i) * 3);
            }
          }
          await writeFile(png, encodePng(ni, nj, rgb, 3));
          files.push({ volumeId: map.volumeId, frame: map.frame, slice: map.slice, nifti, png, best: map.best });
          log(`${map.volumeId} frame ${map.frame} slice ${map.slice}: best match (${map.best.at.join(', ')}) similarity ${map.best.value.toFixed(3)} [${map.source}] -> ${png}`);
        }
        const summary = { model: { id: r.model.id, name: r.model.name, hash: r.model.hash }, query: r.query, maps: files, seconds: r.seconds };
        await writeFile(join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
        if (values.json) process.stdout.write(JSON.stringify(summary) + '\n');
        else process.stdout.write(`Wrote ${files.length} similarity map(s) to ${out}\n`);
        return 0;
      }
      let last = '';
      const r = await service.project(model, [{ volumeId, frame, slice }], {
        method: method as 'umap' | 'pca',
        ...(sample !== undefined ? { sample } : {}),
        ...(seed !== undefined ? { seed } : {}),
        onProgress: (p) => {
          const line = `${p.stage} ${p.done}${p.total ? `/${p.total}` : ''}`;
          if (line !== last && !values.json && process.stderr.isTTY) process.stderr.write(`\r${line}   `);
          last = line;
        },
      });
      if (!values.json && process.stderr.isTTY) process.stderr.write('\n');
      const summary = await writeProjectionFiles(out, r);
      if (values.json) process.stdout.write(JSON.stringify(summary) + '\n');
      else process.stdout.write(`Projected ${summary.points} pixels (${method}, ${r.seconds.project.toFixed(1)} s) into ${out}\n`);
      return 0;
    } finally {
      service.close();
    }
  },
};
