import type { VolumeSummary } from '../../main/contract/index.js';

const TIMES = '\u00d7';

export function formatDims(dims: readonly number[]): string {
  return dims.join(` ${TIMES} `);
}

/** Spacing in mm with just enough decimals to tell 1.5625 from 1.56 apart where it matters (2). */
export function formatSpacing(spacing: readonly number[]): string {
  return `${spacing.map((s) => trimNumber(s, 2)).join(` ${TIMES} `)} mm`;
}

export function trimNumber(x: number, decimals: number): string {
  return Number(x.toFixed(decimals)).toString();
}

export function formatDate(iso: string | null): string {
  return iso ?? 'unknown date';
}

export function patientLabel(name: string, id: string): string {
  if (name.trim()) return name.trim();
  if (id.trim()) return id.trim();
  return 'Anonymous';
}

/** What the study list says about a volume's annotations, e.g. "imported, 10 slices". */
export function annotationStatus(v: Pick<VolumeSummary, 'annotations'>): { text: string; state: 'none' | 'partial' | 'annotated' | 'predicted' } {
  if (v.annotations.length === 0) return { text: 'not annotated', state: 'none' };
  const parts = v.annotations.map((a) => {
    const slices = `${a.annotatedSlices} slice${a.annotatedSlices === 1 ? '' : 's'}`;
    if (a.source === 'predicted') return `predicted${a.modelId ? ` by ${a.modelId}` : ''}, ${slices}`;
    return `${a.source}, ${slices}`;
  });
  const human = v.annotations.filter((a) => a.source !== 'predicted');
  const state = human.length === 0 ? 'predicted' : human.some((a) => a.annotatedSlices > 0) ? 'annotated' : 'partial';
  return { text: parts.join('; '), state };
}

export function formatCount(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

export function formatSeconds(s: number): string {
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${trimNumber(s, 1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

/** Turn what a file manager drops (file:// URIs or plain paths, one per line) into local paths. */
export function pathsFromDroppedText(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      if (!l.startsWith('file://')) return l;
      try {
        const u = new URL(l);
        const p = decodeURIComponent(u.pathname);
        // file:///C:/x on Windows
        return /^\/[A-Za-z]:\//.test(p) ? p.slice(1) : p;
      } catch {
        return l;
      }
    })
    .filter((p) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p));
}
