/**
 * Cardiac short-axis cines are often exported one series per slice (Siemens "CINE_segmented_SAX_b1", "b2",
 * ...): each series is a single-slice cine. For volumes (and ejection fractions) the slices belong in one
 * 3D+t stack. This merges such series when they provably form one: same study, frame of reference,
 * orientation, matrix, pixel spacing and number of phases, ordered by TriggerTime, at distinct positions.
 */
import { createHash } from 'node:crypto';
import type { Vec3 } from '../volume.js';
import type { DicomSeriesInfo } from './series.js';

const TOL = 1e-3;

function normalOf(s: DicomSeriesInfo): Vec3 {
  const d = s.direction;
  return [d[2], d[5], d[8]];
}

function signature(s: DicomSeriesInfo): string | undefined {
  if (s.dims[2] !== 1 || s.frames < 2 || s.frameOrder !== 'TriggerTime' || !s.frameOfReferenceUid) return undefined;
  const r = (v: number) => (Math.round(v / TOL) * TOL).toFixed(3);
  return [
    s.studyInstanceUid,
    s.frameOfReferenceUid,
    s.modality,
    s.dims[0],
    s.dims[1],
    s.frames,
    s.direction.map(r).join(','),
    s.spacing.slice(0, 2).map(r).join(','),
  ].join('|');
}

function commonPrefix(names: string[]): string {
  if (!names.length) return '';
  let p = names[0]!;
  for (const n of names) while (!n.startsWith(p)) p = p.slice(0, -1);
  return p.replace(/[\s_\-(]+$/, '');
}

/**
 * Replace groups of compatible single-slice cine series by one stacked series each. Series that do not
 * qualify are returned unchanged. A merged series has `mergedFrom` (the member keys) and its planes point
 * to the members' files; `readDicomSeries` reads it like any other.
 */
export function mergeCineSlices(series: DicomSeriesInfo[]): DicomSeriesInfo[] {
  const groups = new Map<string, DicomSeriesInfo[]>();
  for (const s of series) {
    const sig = signature(s);
    if (!sig) continue;
    const list = groups.get(sig) ?? [];
    list.push(s);
    groups.set(sig, list);
  }
  const replaced = new Set<DicomSeriesInfo>();
  const merged: DicomSeriesInfo[] = [];
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    const n = normalOf(members[0]!);
    const d = (s: DicomSeriesInfo) => n[0] * s.origin[0] + n[1] * s.origin[1] + n[2] * s.origin[2];
    const sorted = [...members].sort((a, b) => d(a) - d(b));
    const gaps = sorted.slice(1).map((s, k) => d(s) - d(sorted[k]!));
    // Two series at one position (a repeated slice) cannot be stacked: leave the group alone.
    if (gaps.some((g) => g < 0.01)) continue;
    // The stack must run along the normal (no in-plane shifts between slices).
    const first = sorted[0]!;
    const sheared = sorted.some((s) => {
      const along = d(s) - d(first);
      return [0, 1, 2].some((a) => Math.abs(s.origin[a]! - first.origin[a]! - along * n[a]!) > 0.05);
    });
    if (sheared) continue;
    const mean = (d(sorted.at(-1)!) - d(first)) / (sorted.length - 1);
    const warnings = sorted.flatMap((s) => s.warnings);
    if (gaps.some((g) => Math.abs(g - mean) > 0.01 * mean + 1e-3)) {
      warnings.push(`uneven slice spacing (${Math.min(...gaps).toFixed(3)}..${Math.max(...gaps).toFixed(3)} mm): mean used`);
    }
    const name = commonPrefix(sorted.map((s) => s.seriesDescription)) || first.seriesDescription;
    merged.push({
      ...first,
      key: `${first.studyInstanceUid}#stack-${createHash('sha1').update(sorted.map((s) => s.key).join('\n')).digest('hex').slice(0, 8)}`,
      seriesInstanceUid: first.seriesInstanceUid,
      seriesDescription: name,
      part: `${sorted.length} single-slice series stacked`,
      files: sorted.flatMap((s) => s.files),
      unusedFiles: sorted.flatMap((s) => s.unusedFiles),
      transferSyntaxes: [...new Set(sorted.flatMap((s) => s.transferSyntaxes))],
      dims: [first.dims[0], first.dims[1], sorted.length],
      spacing: [first.spacing[0], first.spacing[1], mean],
      origin: [...first.origin],
      planes: Array.from({ length: first.frames }, (_, t) => sorted.map((s) => s.planes[t]![0]!)),
      warnings,
      mergedFrom: sorted.map((s) => s.key),
    });
    for (const s of members) replaced.add(s);
  }
  return [...series.filter((s) => !replaced.has(s)), ...merged];
}
