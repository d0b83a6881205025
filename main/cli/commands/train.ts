import { resolve } from 'node:path';
import { initBackend } from '../../ml/backends/init.js';
import { FEWSHOT_MODES, type FewShotMode } from '../../ml/fewshot/config.js';
import { trainInWorkspace } from '../../ml/fewshot/service.js';
import type { TrainProgress } from '../../ml/fewshot/train.js';
import { defaultWorkspaceDir } from '../../library/workspace.js';
import { ProgressBar } from '../progress.js';
import { helpOption, jsonOption, parse, UsageError, workspaceOption, type Command, positiveInt } from '../command.js';
import { SUMMARIES } from '../summaries.js';

const USAGE = [
  'pix2rep train --mode linear|finetune|mean-teacher|supervised [--backbone MODEL] [--studies ID,…] [--out NAME]',
  '              [--steps N] [--batch B] [--seed N] [--workspace DIR] [--json]',
  '',
  "Learns a segmentation model from the workspace's annotated slices (drawn or imported; predictions never",
  'train). linear: 1×1 head on a frozen pretrained backbone; finetune: the whole network (backbone lr 1e-3, head',
  '1e-2); mean-teacher: fine-tuning (or supervised without --backbone) plus an EMA teacher on unlabeled slices;',
  'supervised: the same U-Net from random weights. Held-back annotated slices choose the best step and stop',
  'training early. The model is stored in the workspace (pix2rep models list). --json prints JSON lines.',
].join('\n');


export const trainCommand: Command = {
  name: 'train',
  summary: SUMMARIES.train,
  usage: USAGE,
  async run(argv) {
    const { values } = parse(argv, {
      ...workspaceOption,
      ...jsonOption,
      ...helpOption,
      mode: { type: 'string' },
      backbone: { type: 'string' },
      studies: { type: 'string' },
      out: { type: 'string' },
      steps: { type: 'string' },
      batch: { type: 'string' },
      seed: { type: 'string' },
    });
    if (values.help) {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    const mode = values.mode as FewShotMode;
    if (!FEWSHOT_MODES.includes(mode)) throw new UsageError(`--mode must be one of ${FEWSHOT_MODES.join(', ')}${values.mode ? `, got "${values.mode}"` : ''}`);
    const steps = positiveInt('steps', values.steps);
    const batch = positiveInt('batch', values.batch);
    const seed = values.seed === undefined ? undefined : Number(values.seed);
    if (seed !== undefined && !Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got "${values.seed}"`);
    const studies = values.studies?.split(',').map((s) => s.trim()).filter(Boolean);
    const workspace = resolve(values.workspace ?? defaultWorkspaceDir());
    const json = values.json;
    const emit = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
    const active = await initBackend();
    if (!json) process.stderr.write(`backend ${active.name} (${active.reason})\n`);
    const ac = new AbortController();
    const onSigint = () => {
      process.stderr.write('\nstopping after this step (Ctrl-C again to kill)…\n');
      ac.abort();
      process.once('SIGINT', () => process.exit(130));
    };
    process.once('SIGINT', onSigint);
    // Each phase its own bar, made when the phase starts, so each ETA counts only its own time.
    const bars: { features: ProgressBar | null; steps: ProgressBar | null } = { features: null, steps: null };
    const onProgress = (p: TrainProgress) => {
      if (json) {
        emit({ event: p.kind, ...p });
        return;
      }
      switch (p.kind) {
        case 'features':
          bars.features ??= new ProgressBar('caching features');
          bars.features.update(p.done, p.total, 'slices');
          if (p.done === p.total) bars.features.done();
          break;
        case 'validation':
          process.stderr.write(`\nstep ${p.step}: validation Dice ${p.validationDice!.toFixed(3)} (best ${p.bestValidationDice!.toFixed(3)})\n`);
          break;
        case 'step':
          bars.steps ??= new ProgressBar(`train ${mode}`);
          bars.steps.update(p.step, p.totalSteps, `loss ${p.smoothedLoss.toFixed(4)}${p.consistency !== undefined ? ` consistency ${p.consistency.toFixed(4)}` : ''}`);
          break;
        default:
          p satisfies never;
      }
    };
    try {
      const res = await trainInWorkspace(workspace, {
        mode,
        backbone: values.backbone,
        studies,
        name: values.out,
        overrides: { steps, batch, seed },
        signal: ac.signal,
        onProgress,
        onLog: (t) => {
          if (!json) process.stderr.write(t + '\n');
        },
      });
      bars.steps?.done();
      const r = res.record;
      const summary = { event: 'done', modelId: res.modelId, name: res.name, mode, backend: active.name, steps: r.steps, stopped: r.stopped, bestStep: r.bestStep, validationDice: r.validationDice, seconds: r.seconds, data: r.data };
      if (json) emit(summary);
      else if (res.modelId) {
        process.stdout.write(
          `model ${res.name} (${res.modelId}): ${r.steps} steps (${r.stopped}), validation Dice ${r.validationDice === null ? 'n/a (no held-back slices)' : r.validationDice.toFixed(3)} at step ${r.bestStep}, ${r.seconds.toFixed(0)} s\n`,
        );
      } else process.stdout.write(`cancelled after ${r.steps} steps: no model stored\n`);
      return res.modelId ? 0 : 130;
    } finally {
      process.removeListener('SIGINT', onSigint);
    }
  },
};
