import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pretrainConfig, scheduledLr, type PretrainConfig } from '../../../../main/ml/config.js';
import { readCheckpoint } from '../../../../main/ml/pretrain/checkpoint.js';
import { readoutCheckpointName, runPretraining } from '../../../../main/ml/pretrain/loop.js';
import { measureReadout, pooledDice, readReadout, READOUT_FILE, writeReadout, type ReadoutOptions, type ReadoutPoint } from '../../../../main/ml/pretrain/readout.js';
import { arraySliceSource } from '../../../../main/ml/pretrain/source.js';
import { fewShotConfig } from '../../../../main/ml/fewshot/config.js';
import { runFewShot, meanForegroundDice } from '../../../../main/ml/fewshot/train.js';
import { disposeSegmenter, predictClasses } from '../../../../main/ml/fewshot/segmenter.js';
import type { LabeledSlice } from '../../../../main/ml/fewshot/data.js';
import { Rng } from '../../../../main/ml/augment/rng.js';
import { useCpu } from '../cpu.js';

beforeAll(useCpu);

const S = 16;
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** A disc (class 1) in a ring (class 2) at a random place: image and label drawn from the same geometry. */
function labeledPhantoms(count: number, seed: number, volumeId: string): LabeledSlice[] {
  const r = new Rng(seed);
  return Array.from({ length: count }, (_, k) => {
    const image = new Float32Array(S * S);
    const label = new Uint8Array(S * S);
    const cx = r.uniform(0.35, 0.65) * S;
    const cy = r.uniform(0.35, 0.65) * S;
    const rad = r.uniform(0.15, 0.25) * S;
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++) {
        const d = Math.hypot(x - cx, y - cy);
        const c = d < rad ? 1 : d < rad * 1.6 ? 2 : 0;
        label[y * S + x] = c;
        image[y * S + x] = c === 1 ? 0.9 : c === 2 ? 0.45 : 0.1 + 0.05 * Math.sin(x * 0.7 + y * 0.3);
      }
    return { volumeId, group: volumeId, k, frame: 0, image, label };
  });
}

function tinyConfig(over: Parameters<typeof pretrainConfig>[1] = {}): PretrainConfig {
  return pretrainConfig('compact', {
    model: { unet: { levels: 2, base: 4, embedding: 8 }, head: { hidden: 8, out: 8 } },
    preprocess: { size: S },
    loss: { samples: 48 },
    train: { batch: 2, seed: 5, validationFraction: 0.2 },
    ...over,
  });
}

const pool = arraySliceSource(
  labeledPhantoms(10, 1, 'pool').map((s) => s.image),
  S,
);
const labeled = labeledPhantoms(4, 2, 'dev-a');
const validation = labeledPhantoms(3, 3, 'dev-b');
const readout: ReadoutOptions = { every: 2, labeled, validation, classes: [1, 2], names: ['disc', 'ring'], probeSteps: 4, batch: 2, description: 'dev-a → dev-b' };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2r-readout-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('pooledDice', () => {
  it('sums overlap over all pixels before dividing (hand-computed)', () => {
    // pred: [1,1,0,2,2,0], ref: [1,0,0,2,0,2] → class 1: 2·1/(2+1) = 2/3; class 2: 2·1/(2+2) = 1/2.
    const d = pooledDice(Uint8Array.from([1, 1, 0, 2, 2, 0]), Uint8Array.from([1, 0, 0, 2, 0, 2]), 3);
    expect(d[0]).toBeCloseTo(2 / 3, 12);
    expect(d[1]).toBeCloseTo(0.5, 12);
    // A class in neither map: nothing to find, nothing found.
    expect(pooledDice(Uint8Array.from([0, 1]), Uint8Array.from([0, 1]), 3)).toEqual([1, 1]);
  });
});

describe('readout along pretraining', () => {
  it('stores a linear-probe Dice per structure every N steps, read back from the run folder', async () => {
    const out = join(dir, 'run');
    const seen: number[] = [];
    const r = await runPretraining({ config: tinyConfig(), source: pool, outDir: out, steps: 5, readout, onReadout: (p) => seen.push(p.step) });
    // Step 0 (the untrained network), every 2 steps, and the last step.
    expect(r.readout.map((p) => p.step)).toEqual([0, 2, 4, 5]);
    expect(seen).toEqual([0, 2, 4, 5]);
    const rec = readReadout(out)!;
    expect(rec.points).toEqual(r.readout);
    expect(rec.structures).toEqual(['disc', 'ring']);
    expect(rec.labeledSlices).toBe(4);
    expect(rec.validationSlices).toBe(3);
    expect(rec.description).toBe('dev-a → dev-b');
    for (const p of rec.points) {
      expect(Object.keys(p.dice)).toEqual(['disc', 'ring']);
      for (const v of Object.values(p.dice)) expect(v >= 0 && v <= 1).toBe(true);
      expect(p.mean).toBeCloseTo((p.dice.disc! + p.dice.ring!) / 2, 12);
      expect(p.probeSteps).toBe(4);
    }

    // The last point is the probe of the final checkpoint scored on the validation slices: train the same probe
    // by hand and score it with the few-shot module's own Dice (both structures present, so the means agree).
    const last = rec.points.at(-1)!;
    const cfg = fewShotConfig('linear', { model: r.config.model, preprocess: r.config.preprocess, steps: 4, batch: 2, validateEvery: 4, patience: 0, seed: 1 });
    const { segmenter } = await runFewShot({ config: cfg, data: { labeled, validation: [], classes: [1, 2] }, backbone: { path: r.lastCheckpoint } });
    try {
      const n = S * S;
      const x = new Float32Array(validation.length * n);
      const ref = new Uint8Array(validation.length * n);
      validation.forEach((s, i) => {
        x.set(s.image, i * n);
        ref.set(s.label, i * n);
      });
      expect(meanForegroundDice(predictClasses(segmenter, x, validation.length, S), ref, 3)).toBeCloseTo(last.mean, 10);
    } finally {
      disposeSegmenter(segmenter);
    }
    const again = await measureReadout(r.lastCheckpoint, r.config, readout, { step: 5, epoch: 0 });
    expect(again.dice).toEqual(last.dice);
  });

  it('keeps the checkpoint of each readout when asked, with the weights that readout measured', async () => {
    const out = join(dir, 'kept');
    await runPretraining({ config: tinyConfig(), source: pool, outDir: out, steps: 3, readout, keepReadoutCheckpoints: true });
    // Readouts at 0, 2 and the last step, 3; a resume to 5 adds 4 and 5.
    const r = await runPretraining({ config: tinyConfig(), source: pool, outDir: out, steps: 5, resume: true, readout, keepReadoutCheckpoints: true });
    expect(r.readout.map((p) => p.step)).toEqual([0, 2, 3, 4, 5]);
    for (const step of [0, 2, 3, 4, 5]) {
      const kept = await readCheckpoint(join(out, readoutCheckpointName(step)));
      expect(kept.header.step).toBe(step);
      // The readout of this step, measured again from the kept file, gives the same Dice.
      const again = await measureReadout(join(out, readoutCheckpointName(step)), tinyConfig(), readout, { step, epoch: 0 });
      expect(again.dice).toEqual(r.readout.find((p) => p.step === step)!.dice);
    }
    expect((await readCheckpoint(join(out, 'last.p2r'))).data).toEqual((await readCheckpoint(join(out, readoutCheckpointName(5)))).data);
    // Off by default: the run folder keeps last and best only.
    await runPretraining({ config: tinyConfig(), source: pool, outDir: join(dir, 'not-kept'), steps: 3, readout });
    expect(readdirSync(join(dir, 'not-kept')).filter((n) => n.startsWith('step-'))).toEqual([]);
  });

  it('does not change the training, nor the configuration stored in the checkpoint', async () => {
    const plain = await runPretraining({ config: tinyConfig(), source: pool, outDir: join(dir, 'plain'), steps: 5 });
    const withReadout = readReadout(join(dir, 'run'))!;
    expect(withReadout.points.length).toBe(4);
    const a = await readCheckpoint(plain.lastCheckpoint);
    const b = await readCheckpoint(join(dir, 'run', 'last.p2r'));
    expect(b.header.history).toEqual(a.header.history);
    expect(JSON.stringify(b.header.config)).toBe(JSON.stringify(a.header.config));
    expect('schedule' in b.header.config.optimizer).toBe(false);
    expect(plain.readout).toEqual([]);
    expect(existsSync(join(dir, 'plain', READOUT_FILE))).toBe(false);
  });

  it('a run written without readout (as before issue 10) resumes with readout on; earlier points survive a resume', async () => {
    const out = join(dir, 'resume');
    await runPretraining({ config: tinyConfig(), source: pool, outDir: out, steps: 3 });
    expect(existsSync(join(out, READOUT_FILE))).toBe(false);
    const r1 = await runPretraining({ config: tinyConfig(), source: pool, outDir: out, steps: 4, resume: true, readout });
    expect(r1.resumedFrom).toBe(3);
    expect(r1.readout.map((p) => p.step)).toEqual([4]);
    const r2 = await runPretraining({ config: tinyConfig(), source: pool, outDir: out, steps: 6, resume: true, readout });
    expect(r2.resumedFrom).toBe(4);
    expect(r2.readout.map((p) => p.step)).toEqual([4, 6]);
    expect(readReadout(out)!.points[0]).toEqual(r1.readout[0]);
    // The same 6 steps uninterrupted, without readout: identical losses (the probe draws no pretraining randomness).
    const straight = await runPretraining({ config: tinyConfig(), source: pool, outDir: join(dir, 'straight'), steps: 6 });
    expect(r2.history).toEqual(straight.history);
  });

  it('on resume keeps only points of the same probe: not the streaming or mini-batch probe of earlier records, not another step count, not other patients', async () => {
    const out = join(dir, 'probes');
    const r1 = await runPretraining({ config: tinyConfig(), source: pool, outDir: out, steps: 4, readout });
    expect(r1.readout.map((p) => [p.step, p.probe])).toEqual([[0, 'balanced-full-batch'], [2, 'balanced-full-batch'], [4, 'balanced-full-batch']]);
    // Rewrite the step-0 point as an earlier session's streaming-probe point (no `probe` field), the step-2 point
    // as one of the mini-batch probe on cached features that preceded the current one.
    const rec = readReadout(out)!;
    const { probe: _dropped, ...streaming } = rec.points[0]!;
    writeReadout(out, { ...rec, points: [streaming as ReadoutPoint, { ...rec.points[1]!, probe: 'cached-features' }, ...rec.points.slice(2)] });
    const r2 = await runPretraining({ config: tinyConfig(), source: pool, outDir: out, steps: 6, resume: true, readout });
    expect(r2.readout.map((p) => p.step)).toEqual([4, 6]);
    // Another probe step count: every earlier point goes, and the resumed checkpoint (step 6) is measured again.
    const r3 = await runPretraining({ config: tinyConfig(), source: pool, outDir: out, steps: 8, resume: true, readout: { ...readout, probeSteps: readout.probeSteps + 1 } });
    expect(r3.readout.map((p) => p.step)).toEqual([6, 8]);
    // Scored on other slices (another description): the earlier points go too.
    const r4 = await runPretraining({ config: tinyConfig(), source: pool, outDir: out, steps: 10, resume: true, readout: { ...readout, probeSteps: readout.probeSteps + 1, description: 'dev-a → dev-c' } });
    expect(r4.readout.map((p) => p.step)).toEqual([8, 10]);
    expect(readReadout(out)!.description).toBe('dev-a → dev-c');
  });

  it('a run stopped after the checkpoint of a due step but before its readout measures it on resume', async () => {
    const out = join(dir, 'missed');
    const r1 = await runPretraining({ config: tinyConfig(), source: pool, outDir: out, steps: 4, readout });
    expect(r1.readout.map((p) => p.step)).toEqual([0, 2, 4]);
    // As if the process died right after writing the step-4 checkpoint.
    const rec = readReadout(out)!;
    writeReadout(out, { ...rec, points: rec.points.filter((p) => p.step !== 4) });
    const r2 = await runPretraining({ config: tinyConfig(), source: pool, outDir: out, steps: 6, resume: true, readout });
    expect(r2.resumedFrom).toBe(4);
    expect(r2.readout.map((p) => p.step)).toEqual([0, 2, 4, 6]);
    expect(r2.readout[2]).toEqual({ ...r1.readout[2]!, seconds: r2.readout[2]!.seconds });
  });

  it('resumes a checkpoint written by the code before issue 10 (fixture: commit 7eed2b2, 3 steps) with readout on', async () => {
    // The fixture was trained by that commit's runPretraining on these same pool images and tinyConfig().
    const out = join(dir, 'old');
    await mkdir(out, { recursive: true });
    await copyFile(join(FIXTURES, 'pre-issue10-last.p2r'), join(out, 'last.p2r'));
    const old = await readCheckpoint(join(out, 'last.p2r'));
    expect(old.header.step).toBe(3);
    expect(JSON.stringify(old.header.config)).toBe(JSON.stringify(tinyConfig()));
    const r = await runPretraining({ config: tinyConfig(), source: pool, outDir: out, steps: 6, resume: true, readout });
    expect(r.resumedFrom).toBe(3);
    expect(r.readout.map((p) => p.step)).toEqual([4, 6]);
    // Exactly what the current code does uninterrupted from scratch.
    const straight = await runPretraining({ config: tinyConfig(), source: pool, outDir: join(dir, 'straight-old'), steps: 6 });
    expect(r.history).toEqual(straight.history);
  });

  it('refuses a readout without slices to score', async () => {
    await expect(runPretraining({ config: tinyConfig(), source: pool, outDir: join(dir, 'bad'), steps: 1, readout: { ...readout, validation: [] } })).rejects.toThrow(/no validation slices/);
  });
});

describe('warm-up + cosine learning rate', () => {
  it('is absent by default and follows the hand-computed curve when asked for', () => {
    const plain = tinyConfig();
    expect(plain.optimizer.schedule).toBeUndefined();
    expect(scheduledLr(plain.optimizer, 7)).toBe(plain.optimizer.lr);
    const cfg = tinyConfig({ optimizer: { lr: 1e-3, schedule: { kind: 'warmup-cosine', warmupSteps: 4, totalSteps: 12, minFraction: 0.1 } } });
    const lr = (s: number) => scheduledLr(cfg.optimizer, s);
    expect(lr(1)).toBeCloseTo(0.25e-3, 15);
    expect(lr(4)).toBeCloseTo(1e-3, 15);
    // Halfway through the cosine (step 8 of 4..12): 0.1 + 0.9 · 0.5 · (1 + cos(π/2)) = 0.55.
    expect(lr(8)).toBeCloseTo(0.55e-3, 15);
    expect(lr(12)).toBeCloseTo(0.1e-3, 15);
    expect(lr(20)).toBeCloseTo(0.1e-3, 15);
    expect(() => tinyConfig({ optimizer: { schedule: { kind: 'warmup-cosine', warmupSteps: 5, totalSteps: 3, minFraction: 0 } } })).toThrow(/totalSteps/);
  });

  it('changes the training only when present (a scheduled run differs from the constant one)', async () => {
    const cfg = tinyConfig({ optimizer: { schedule: { kind: 'warmup-cosine', warmupSteps: 2, totalSteps: 4, minFraction: 0 } } });
    const a = await runPretraining({ config: cfg, source: pool, outDir: join(dir, 'cos'), steps: 3 });
    const b = await runPretraining({ config: tinyConfig(), source: pool, outDir: join(dir, 'const'), steps: 3 });
    // Step 1 is computed before any update: identical; the updates differ afterwards.
    expect(a.history[0]!.loss).toBe(b.history[0]!.loss);
    expect(a.history[2]!.loss).not.toBe(b.history[2]!.loss);
    expect((await readCheckpoint(a.lastCheckpoint)).header.config.optimizer.schedule).toEqual(cfg.optimizer.schedule);
  });
});
