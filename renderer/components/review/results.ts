import type { VolumeSummary } from '../../../main/contract/index.js';
import { useClient } from '../../api/index.js';
import { base64ToBytes } from '../../viewer/voxels.js';
import { cardiacIndices, cardiacLabelsFrom, dicePerLabel, type CardiacIndices, type DiceResult } from './metrics.js';

type Ann = VolumeSummary['annotations'][number];

/** The reference segmentation of a volume: its (first) imported annotation. */
export function referenceOf(v: Pick<VolumeSummary, 'annotations'> | undefined): Ann | null {
  return v?.annotations.find((a) => a.source === 'imported') ?? null;
}

/** The newest prediction of a volume, preferring one by `modelId` when given. */
export function predictionOf(v: Pick<VolumeSummary, 'annotations'> | undefined, modelId?: string | null, strict = false): Ann | null {
  const preds = (v?.annotations ?? []).filter((a) => a.source === 'predicted');
  const byModel = modelId ? preds.filter((a) => a.modelId === modelId).at(-1) : undefined;
  return byModel ?? (strict && modelId ? null : (preds.at(-1) ?? null));
}

interface LabelMap {
  map: Uint8Array;
  labels: Array<{ value: number; name: string }>;
}

async function readMap(annotationId: string, frame: number): Promise<LabelMap> {
  const r = await useClient().call('library.readAnnotation', { annotationId, frame });
  return { map: base64ToBytes(r.data), labels: r.labels };
}

export interface DiceRow extends DiceResult {
  name: string;
}

/** Dice per structure of a prediction against a reference, on one frame. */
export async function diceOf(predictionId: string, referenceId: string, frame: number): Promise<DiceRow[]> {
  const [pred, ref] = await Promise.all([readMap(predictionId, frame), readMap(referenceId, frame)]);
  const palette = ref.labels.length ? ref.labels : pred.labels;
  const values = palette.length ? palette.map((l) => l.value) : [...new Set(ref.map)].filter((v) => v !== 0).sort((a, b) => a - b);
  return dicePerLabel(pred.map, ref.map, values).map((d) => ({ ...d, name: palette.find((l) => l.value === d.value)?.name ?? `label ${d.value}` }));
}

export interface CardiacRow {
  source: 'prediction' | 'reference';
  indices: CardiacIndices;
}

/**
 * LV/RV volumes, ejection fractions and myocardial mass from the ED and ES volumes of a study, for the
 * prediction (by `modelId` when given) and the imported reference, where each exists for both phases.
 */
export async function cardiacOf(ed: VolumeSummary, es: VolumeSummary, modelId: string | null): Promise<CardiacRow[]> {
  const rows: CardiacRow[] = [];
  const pairs: Array<[CardiacRow['source'], Ann | null, Ann | null]> = [
    // Both phases from the same model: volumes and EF from two different models would mean nothing.
    ['prediction', predictionOf(ed, modelId, true), predictionOf(es, modelId, true)],
    ['reference', referenceOf(ed), referenceOf(es)],
  ];
  for (const [source, a, b] of pairs) {
    if (!a || !b) continue;
    const [mEd, mEs] = await Promise.all([readMap(a.id, 0), readMap(b.id, 0)]);
    const labels = cardiacLabelsFrom(mEd.labels.length ? mEd.labels : mEs.labels);
    rows.push({ source, indices: cardiacIndices({ map: mEd.map, spacing: ed.spacing }, { map: mEs.map, spacing: es.spacing }, labels) });
  }
  return rows;
}
