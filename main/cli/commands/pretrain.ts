import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initBackend } from '../../ml/backends/init.js';
import { pretrainConfig, type PresetName, type PretrainMethod } from '../../ml/config.js';
import { LAST, runPretraining, type PretrainProgress } from '../../ml/pretrain/loop.js';
import { findNiftiImages, niftiSliceSource, splitSlices, type SliceSource } from '../../ml/pretrain/source.js';
import { describeExpectation, expectWindow, NIGHT_SECONDS, referenceStepSeconds } from '../../ml/pretrain/expectation.js';
import { folderReadout } from '../../ml/pretrain/readout-data.js';
import { DEFAULT_READOUT_PROBE_STEPS, type ReadoutOptions, type ReadoutPoint } from '../../ml/pretrain/readout.js';
import { librarySliceSource } from '../../ml/pretrain/library-source.js';
import { workspaceLayout } from '../../library/layout.js';
import { defaultWorkspaceDir } from '../../library/workspace.js';
import { fmtSeconds, ProgressBar } from '../progress.js';
import { helpOption, jsonOption, parse, UsageError, workspaceOption, type Command, positiveInt } from '../command.js';
import { detachPretrain } from '../detach.js';
import { SUMMARIES } from '../summaries.js';

const USAGE = [
  'pix2rep pretrain [--method pix2rep|pix2rep-v2] [--preset compact|paper] [--steps N | --epochs N] [--until HH:MM]',
  '                 [--batch B] [--size PX] [--seed N] [--resume] [--out NAME] [--data DIR] [--workspace DIR] [--json]',
  '                 [--workers N] [--readout DIR [--readout-every N] [--readout-steps N]]',
  '',
  'Self-supervised Pix2Rep pretraining on every volume of the workspace (or on the NIfTI files under --data DIR).',
  '--steps and --epochs are totals: with --resume, the steps already done count. --until stops at the next',
  'occurrence of that local time. Checkpoints (last.p2r, best.p2r) go to the workspace models/NAME folder, or to',
  'NAME itself when it is a path. Ctrl-C stops after the current step and leaves a checkpoint that --resume',
  'continues. --json prints one JSON object per line (steps, validations, then a summary). --workers N trains',
  'data-parallel over N worker threads, one engine each (per-shard BatchNorm and contrastive losses; see',
  'docs/PERFORMANCE.md); default 1; detached jobs carry it too.',
  'Before starting it says what the window buys (one night, or until --until): steps and epochs from the bench',
  'step time, then again from the run\'s own step time after a few steps. --readout DIR trains a linear probe',
  'every --readout-every steps (default 100, --readout-steps probe steps, default 300) on the labeled NIfTI pairs',
  'under DIR (NAME.nii.gz + NAME_gt.nii.gz: first sub-folder trains, the others score) and reports its Dice per',
  'label; the points are kept in readout.json beside the checkpoints.',
  '',
  'As a background job: --detach queues the run and prints its job id (a job runner is started when none runs);',
  '--at HH:MM [--until HH:MM] (implies --detach) trains in that daily window, night after night, until --steps or',
  '--epochs is reached; [--priority N] [--checkpoint-minutes M] (default 5). Follow it with pix2rep jobs wait ID.',
].join('\n');


/** The next occurrence of local time HH:MM (today when still ahead, else tomorrow). */
export function nextClockTime(hhmm: string, now = new Date()): Date {
  const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm);
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) throw new UsageError(`--until must be HH:MM (24-hour clock), got "${hhmm}"`);
  const t = new Date(now);
  t.setHours(Number(m[1]), Number(m[2]), 0, 0);
  if (t.getTime() <= now.getTime()) t.setDate(t.getDate() + 1);
  return t;
}

export const pretrainCommand: Command = {
  name: 'pretrain',
  summary: SUMMARIES.pretrain,
  usage: USAGE,
  async run(argv) {
    const { values } = parse(argv, {
      ...workspaceOption,
      ...jsonOption,
      ...helpOption,
      method: { type: 'string', default: 'pix2rep' },
      preset: { type: 'string', default: 'compact' },
      steps: { type: 'string' },
      epochs: { type: 'string' },
      until: { type: 'string' },
      batch: { type: 'string' },
      size: { type: 'string' },
      seed: { type: 'string' },
      resume: { type: 'boolean', default: false },
      out: { type: 'string' },
      data: { type: 'string' },
      detach: { type: 'boolean', default: false },
      at: { type: 'string' },
      priority: { type: 'string' },
      'checkpoint-minutes': { type: 'string' },
      workers: { type: 'string' },
      readout: { type: 'string' },
      'readout-every': { type: 'string' },
      'readout-steps': { type: 'string' },
    });
    if (values.help) {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    // Queued as a background job (a runner process trains; this command returns the job id at once).
    const workers = positiveInt('workers', values.workers);
    if (values.detach || values.at !== undefined) return detachPretrain(values, resolve(values.workspace ?? defaultWorkspaceDir()));
    const method = values.method as PretrainMethod;
    if (method !== 'pix2rep' && method !== 'pix2rep-v2') throw new UsageError(`--method must be pix2rep or pix2rep-v2, got "${values.method}"`);
    const preset = values.preset as PresetName;
    if (preset !== 'compact' && preset !== 'paper') throw new UsageError(`--preset must be compact or paper, got "${values.preset}"`);
    const steps = positiveInt('steps', values.steps);
    const epochs = positiveInt('epochs', values.epochs);
    if (steps !== undefined && epochs !== undefined) throw new UsageError('give --steps or --epochs, not both');
    const until = values.until ? nextClockTime(values.until) : undefined;
    const batch = positiveInt('batch', values.batch);
    const size = positiveInt('size', values.size);
    const readoutEvery = positiveInt('readout-every', values['readout-every']) ?? 100;
    const readoutSteps = positiveInt('readout-steps', values['readout-steps']) ?? DEFAULT_READOUT_PROBE_STEPS;
    if (!values.readout && (values['readout-every'] !== undefined || values['readout-steps'] !== undefined)) throw new UsageError('--readout-every and --readout-steps need --readout DIR');
    const seed = values.seed === undefined ? undefined : Number(values.seed);
    if (seed !== undefined && !Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got "${values.seed}"`);
    let config;
    try {
      config = pretrainConfig(preset, { loss: { method }, train: { batch, seed }, preprocess: { size } });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }

    const workspace = resolve(values.workspace ?? defaultWorkspaceDir());
    const name = values.out ?? `pix2rep-${method}-${preset}`;
    const outDir = name.includes('/') || name.includes('\\') ? resolve(name) : join(workspaceLayout(workspace).models, name);
    const json = values.json;
    const emit = (obj: object) => process.stdout.write(JSON.stringify(obj) + '\n');
    const log = (text: string) => {
      if (!json) process.stderr.write(text + '\n');
    };

    const active = await initBackend();
    let source: SliceSource;
    if (values.data) {
      const files = await findNiftiImages(resolve(values.data));
      if (files.length === 0) throw new UsageError(`no NIfTI images under ${resolve(values.data)}`);
      source = await niftiSliceSource(files, config.preprocess);
      log(`data: ${files.length} NIfTI volumes under ${resolve(values.data)}, ${source.slices.length} slices`);
    } else {
      const lib = await librarySliceSource(workspace, config.preprocess);
      source = lib.source;
      log(`data: ${lib.volumes} volumes of ${workspace}, ${source.slices.length} slices`);
    }
    log(`backend ${active.name} (${active.reason}); ${method}, ${preset} U-Net, batch ${config.train.batch}, ${config.preprocess.size}²; checkpoints in ${outDir}`);

    let readout: ReadoutOptions | undefined;
    if (values.readout) {
      try {
        readout = await folderReadout(resolve(values.readout), config.preprocess, { every: readoutEvery, probeSteps: readoutSteps });
      } catch (err) {
        throw new UsageError(`--readout: ${(err as Error).message}`);
      }
      log(`readout every ${readoutEvery} steps: ${readout.description} (${readout.labeled.length} + ${readout.validation.length} slices)`);
    }
    const onReadout = (p: ReadoutPoint) => {
      if (json) emit({ event: 'readout', ...p });
      else process.stderr.write(`\nstep ${p.step}: linear-probe Dice ${Object.entries(p.dice).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')} (mean ${p.mean.toFixed(3)})\n`);
    };

    // What the window buys, before the first step: from the bench's step time for this configuration.
    const trainSlices = splitSlices(source.slices, config.train.validationFraction, config.train.seed).train.length;
    const windowSeconds = until ? Math.max(0, (until.getTime() - Date.now()) / 1000) : NIGHT_SECONDS;
    const windowLabel = until ? `until ${values.until}` : 'one night on this CPU';
    const expectation = (secondsPerStep: number, source: string) => {
      if (trainSlices < 1) return;
      const e = expectWindow({ secondsPerStep, windowSeconds, trainSlices, batch: config.train.batch });
      if (json) emit({ event: 'expectation', source, window: windowLabel, ...e, ...(steps !== undefined ? { secondsForSteps: steps * secondsPerStep } : {}) });
      else log(`expectation: ${describeExpectation(e, windowLabel, source)}${steps !== undefined ? `; --steps ${steps} would take about ${fmtSeconds(steps * secondsPerStep)}` : ''}`);
    };
    const reference = referenceStepSeconds(config, workers ?? 1);
    if (reference !== null) expectation(reference, 'bench reference, docs/PERFORMANCE.md');
    let firstStep: number | null = null;

    if (values.resume) {
      const last = join(outDir, LAST);
      log(existsSync(last) ? `resuming from ${last} (its configuration applies)` : `no checkpoint to resume in ${outDir}: starting from scratch`);
    }
    const ac = new AbortController();
    const onSigint = () => {
      log('\nstopping after this step (Ctrl-C again to kill)…');
      ac.abort();
      process.once('SIGINT', () => process.exit(130));
    };
    process.once('SIGINT', onSigint);
    const bar = json ? null : new ProgressBar('pretrain');
    const onProgress = (p: PretrainProgress) => {
      // The run's own step time, once a few steps have smoothed it.
      firstStep ??= p.step;
      if (p.kind === 'step' && p.step === firstStep + 4 && p.slicesPerSecond > 0) expectation(Math.min(config.train.batch, trainSlices) / p.slicesPerSecond, 'measured on this run');
      if (json) {
        emit({ event: p.kind, ...p });
        return;
      }
      if (p.kind === 'validation') {
        process.stderr.write(`\nstep ${p.step}: validation loss ${p.validationLoss!.toFixed(4)} (best ${p.bestValidationLoss!.toFixed(4)})\n`);
        return;
      }
      const eta = p.etaSeconds === null ? '' : ` ETA ${fmtSeconds(p.etaSeconds)}`;
      bar!.update(p.step, p.totalSteps, `loss ${p.smoothedLoss.toFixed(4)} ${p.slicesPerSecond.toFixed(2)} slices/s epoch ${p.epoch.toFixed(2)}${eta}`);
    };
    try {
      const result = await runPretraining({ config, source, outDir, steps, epochs, until, resume: values.resume, signal: ac.signal, onProgress, workers, ...(readout ? { readout, onReadout } : {}) });
      bar?.done();
      const summary = {
        event: 'done',
        backend: active.name,
        stopped: result.stopped,
        step: result.step,
        epoch: result.epoch,
        resumedFrom: result.resumedFrom,
        lastLoss: result.lastLoss,
        bestValidationLoss: result.bestValidationLoss,
        lastCheckpoint: result.lastCheckpoint,
        bestCheckpoint: result.bestCheckpoint,
        ...(result.readout.length ? { readout: result.readout } : {}),
      };
      if (json) emit(summary);
      else {
        process.stdout.write(
          `${result.stopped === 'cancelled' ? 'Stopped' : 'Done'} at step ${result.step} (epoch ${result.epoch.toFixed(2)}, ${result.stopped}); ` +
            `last loss ${result.lastLoss?.toFixed(4) ?? '-'}, best validation loss ${result.bestValidationLoss?.toFixed(4) ?? '-'}\n` +
            `checkpoint: ${result.lastCheckpoint}${result.stopped === 'cancelled' ? ' (continue with --resume)' : ''}\n`,
        );
      }
      return result.stopped === 'cancelled' ? 130 : 0;
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
};
