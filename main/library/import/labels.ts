import { basename } from 'node:path';
import { frameSize, type Volume } from '../../io/volume.js';

const GEOMETRY_TOL = 1e-3;

/** Null when the label map fits the image voxel for voxel, else the reason (names both files). */
export function labelGeometryMismatch(image: Volume, label: Volume, imagePath: string, labelPath: string): string | null {
  const diffs: string[] = [];
  if (label.dims.some((n, i) => n !== image.dims[i])) diffs.push(`dims ${label.dims.join('x')} vs ${image.dims.join('x')}`);
  if (label.frames !== image.frames) diffs.push(`frames ${label.frames} vs ${image.frames}`);
  const far = (a: readonly number[], b: readonly number[]) => a.some((x, i) => !(Math.abs(x - b[i]!) <= GEOMETRY_TOL));
  if (far(label.spacing, image.spacing)) diffs.push(`spacing ${fmt(label.spacing)} vs ${fmt(image.spacing)}`);
  if (far(label.origin, image.origin)) diffs.push(`origin ${fmt(label.origin)} vs ${fmt(image.origin)}`);
  if (far(label.direction, image.direction)) diffs.push('direction differs');
  if (!diffs.length) return null;
  return `label map geometry does not match image ${basename(imagePath)} (${basename(labelPath)}: ${diffs.join('; ')})`;
}

function fmt(a: readonly number[]): string {
  return a.map((x) => +x.toFixed(3)).join(',');
}

/** Label values must be small non-negative integers; returns the offending value's reason or null. */
export function labelValueProblem(label: Volume): string | null {
  const d = label.data;
  for (let i = 0; i < d.length; i++) {
    const x = d[i]!;
    if (!Number.isInteger(x) || x < 0 || x > 65535) return `label map holds a value that is not a label (${x} at voxel ${i})`;
  }
  return null;
}

/** Distinct non-zero label values, ascending. */
export function labelValues(label: Volume): number[] {
  const seen = new Set<number>();
  const d = label.data;
  for (let i = 0; i < d.length; i++) if (d[i]) seen.add(d[i]!);
  return [...seen].sort((a, b) => a - b);
}

/** [frame, k] of every slice (constant k) holding at least one non-zero voxel. */
export function annotatedSlices(label: Volume): Array<[number, number]> {
  const [ni, nj, nk] = label.dims;
  const plane = ni * nj;
  const out: Array<[number, number]> = [];
  const n = frameSize(label);
  for (let f = 0; f < label.frames; f++) {
    for (let k = 0; k < nk; k++) {
      const start = f * n + k * plane;
      const d = label.data;
      for (let i = start; i < start + plane; i++) {
        if (d[i]) {
          out.push([f, k]);
          break;
        }
      }
    }
  }
  return out;
}
