import { existsSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { EngineFailure } from '../../engine/errors.js';
import { readNifti } from '../../io/nifti.js';
import type { Volume } from '../../io/volume.js';
import {
  absentStructure,
  DEFAULT_STRUCTURE_NAMES,
  distinctLabels,
  evaluateLabels,
  structureName,
  type NamedLabels,
  type Structure,
  type StructureMetrics,
} from '../../ml/metrics/evaluate.js';
import { pairFolders, stripNifti, type Pair, type Pairing } from '../../ml/metrics/pairing.js';
import { buildReport, reportJson, reportTable, type EvaluatedCase } from '../../ml/metrics/report.js';
import { keepLargestComponents } from '../../ml/postprocess.js';
import { helpOption, jsonOption, parse, UsageError, type Command } from '../command.js';
import { SUMMARIES } from '../summaries.js';

export const evaluateCommand: Command = {
  name: 'evaluate',
  summary: SUMMARIES.evaluate,
  usage: [
    'pix2rep evaluate PRED GT [--labels 1=RV,2=MYO,3=LV] [--largest-component] [--json]',
    '  PRED, GT             two NIfTI label maps, or two folders paired by name:',
    '                       X_pred.nii.gz (or X.nii.gz) with X_gt.nii.gz, else X.nii.gz',
    '  --labels LIST        structures to report, as VALUE[=NAME] (default: 1=RV, 2=MYO, 3=LV and any other',
    '                       label found, called "label N")',
    '  --largest-component  keep only the largest 6-connected piece of each predicted structure first',
    '  --json               one JSON object (undefined distances are null, with the reason)',
  ].join('\n'),
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      { ...jsonOption, ...helpOption, labels: { type: 'string' }, 'largest-component': { type: 'boolean', default: false } },
      true,
    );
    if (values.help) {
      process.stdout.write(this.usage + '\n');
      return 0;
    }
    if (positionals.length !== 2) throw new UsageError('give a prediction and a reference (two files or two folders)');
    const requested = values.labels === undefined ? undefined : parseLabels(values.labels);
    const pairing = pairInputs(resolve(positionals[0]!), resolve(positionals[1]!));
    for (const p of pairing.unmatchedPredictions) {
      process.stderr.write(`pix2rep evaluate: no reference for ${p} (looked for ${stripNifti(basename(p)).replace(/_pred$/i, '')}_gt.nii[.gz] or .nii[.gz])\n`);
    }

    const evaluated: { pair: Pair; frame?: number; metrics: StructureMetrics[] }[] = [];
    const found = new Set<number>();
    for (const pair of pairing.pairs) {
      const ref = { volume: await readNifti(pair.ref), name: pair.ref };
      let predVolume: Volume = await readNifti(pair.pred);
      if (values['largest-component']) predVolume = keepLargestComponents(predVolume);
      const pred = { volume: predVolume, name: pair.pred };
      let structures: Structure[];
      if (requested) structures = requested;
      else {
        const labels = new Set([1, 2, 3, ...autoLabels(pred), ...autoLabels(ref)]);
        labels.forEach((l) => found.add(l));
        structures = [...labels].sort((a, b) => a - b).map((label) => ({ label, name: structureName(label) }));
      }
      const frames = evaluateLabels(pred, ref, structures);
      frames.forEach((metrics, t) => evaluated.push({ pair, ...(frames.length > 1 ? { frame: t } : {}), metrics }));
    }

    // Without --labels, every case reports the union of the labels found anywhere: a structure missing from both
    // maps of a case is known without re-reading it (Dice 1, no distance).
    const structures =
      requested ?? [...found].sort((a, b) => a - b).map((label) => ({ label, name: structureName(label) }));
    const cases: EvaluatedCase[] = evaluated.map(({ pair, frame, metrics }) => ({
      name: frame === undefined ? pair.key : `${pair.key}[t=${frame}]`,
      pred: pair.pred,
      ref: pair.ref,
      ...(frame === undefined ? {} : { frame }),
      metrics: structures.map((s) => metrics.find((m) => m.label === s.label) ?? absentStructure(s)),
    }));
    const report = buildReport(structures, cases, {
      predictions: pairing.unmatchedPredictions,
      references: pairing.unmatchedReferences,
    });
    process.stdout.write((values.json ? reportJson(report) : reportTable(report)) + '\n');
    return 0;
  },
};

/** More distinct values than any segmentation protocol uses: the file is an image given by mistake. */
const MAX_AUTO_LABELS = 64;

function autoLabels(m: NamedLabels): number[] {
  const labels = distinctLabels(m);
  if (labels.length > MAX_AUTO_LABELS) {
    throw new EngineFailure(
      'BAD_INPUT',
      `${m.name} holds ${labels.length} distinct values: it looks like an image, not a label map ` +
        '(give --labels to evaluate chosen labels anyway)',
    );
  }
  return labels;
}

/** `1=RV,2,3=LV` → structures; a bare value takes its default name. */
function parseLabels(text: string): Structure[] {
  const out: Structure[] = [];
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:=(.+))?$/.exec(item);
    const label = m ? Number(m[1]) : NaN;
    if (!m || label < 1 || label > 65535) throw new UsageError(`--labels: "${item}" is not VALUE[=NAME] with VALUE in 1..65535`);
    if (out.some((s) => s.label === label)) throw new UsageError(`--labels: label ${label} is listed twice`);
    out.push({ label, name: m[2]?.trim() || structureName(label, DEFAULT_STRUCTURE_NAMES) });
  }
  if (!out.length) throw new UsageError('--labels: give at least one label');
  return out;
}

/** Two files make one pair; two folders are paired by name. */
function pairInputs(pred: string, ref: string): Pairing {
  const kind = (path: string, role: string) => {
    if (!existsSync(path)) throw new Error(`${role} ${path} does not exist`);
    return statSync(path).isDirectory() ? 'folder' : 'file';
  };
  const a = kind(pred, 'prediction');
  const b = kind(ref, 'reference');
  if (a !== b) throw new UsageError(`the prediction is a ${a} (${pred}) but the reference is a ${b} (${ref}): give two files or two folders`);
  if (a === 'file') {
    const key = stripNifti(basename(pred)).replace(/_pred$/i, '');
    return { pairs: [{ key, pred, ref }], unmatchedPredictions: [], unmatchedReferences: [] };
  }
  const pairing = pairFolders(pred, ref);
  if (!pairing.pairs.length) {
    throw new Error(
      `no prediction in ${pred} pairs with a reference in ${ref} ` +
        '(expected X_pred.nii.gz or X.nii.gz with X_gt.nii.gz or X.nii.gz)',
    );
  }
  return pairing;
}

