import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { history, KEEP, prepareResume, snapshot, verify } from '../../../main/jobs/checkpoints.js';
import { librarySliceSource } from '../../../main/ml/pretrain/library-source.js';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointHeader } from '../../../main/ml/pretrain/checkpoint.js';
import { pretrainConfig } from '../../../main/ml/config.js';
import { syntheticWorkspace } from './fixture.js';

/** A real checkpoint file (format of main/ml/pretrain/checkpoint.ts) holding one tensor whose values name the step. */
function ckBytes(step: number): Buffer {
  const header = {
    format: 1,
    kind: 'pix2rep-pretrain',
    createdAt: new Date(0).toISOString(),
    backend: 'cpu',
    step,
    epoch: step / 10,
    adamStep: step,
    rng: { seed: 1, scheme: 'mulberry32(deriveSeed(seed, stream, index))' },
    config: pretrainConfig('compact'),
    provenance: { kind: 'memory', volumes: [], slices: 0 },
    split: { train: 0, validation: 0 },
    history: [],
    validation: [],
    bestValidationLoss: null,
    tensors: [{ name: 'w', group: 'param', shape: [4], offset: 0 }],
  } as unknown as CheckpointHeader;
  return encodeCheckpoint({ header, data: Float32Array.from([step, step, step, step]) });
}

describe('checkpoint history of a job', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'p2r-ckhist-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('copies each new last.p2r with a checksum, keeps the newest two, and resumes from the newest good one', () => {
    const job = join(dir, 'a');
    mkdirSync(job);
    const last = join(job, 'last.p2r');
    expect(prepareResume(job)).toEqual({ step: 0, from: null, rejected: [] });
    for (const s of [5, 10, 15]) {
      writeFileSync(last, ckBytes(s));
      expect(snapshot(job)).toMatchObject({ step: s });
    }
    expect(snapshot(job)).toBeNull();
    expect(history(job).map((c) => c.step)).toEqual([15, 10]);
    expect(KEEP).toBe(2);
    expect(verify(history(job)[0]!.path)).toEqual({ ok: true, step: 15 });

    // last.p2r written after the newest copy (a crash before it was copied) is the newest good one.
    writeFileSync(last, ckBytes(17));
    expect(prepareResume(job)).toEqual({ step: 17, from: last, rejected: [] });

    // Garbage in last.p2r: the newest verified copy replaces it.
    writeFileSync(last, 'P2RCKPT1 but nothing else');
    let r = prepareResume(job);
    expect(r.step).toBe(15);
    expect(r.rejected[0]!.reason).toMatch(/truncated checkpoint header/);
    expect(decodeCheckpoint(readFileSync(last)).header.step).toBe(15);

    // A bit flip in the data of both the working file and its copy: checksum catches the copy, the mismatch the file.
    const flipped = ckBytes(15);
    flipped[flipped.length - 2] = flipped[flipped.length - 2]! ^ 0x40;
    writeFileSync(last, flipped);
    writeFileSync(history(job)[0]!.path, flipped);
    r = prepareResume(job);
    expect(r.step).toBe(10);
    expect(r.rejected.map((x) => x.reason)).toEqual([
      'its checksum does not match (the file is damaged)',
      'it differs from the verified copy of the same step (the file is damaged)',
    ]);
    expect(decodeCheckpoint(readFileSync(last)).data[0]).toBe(10);

    // Nothing usable left: start over rather than fail.
    for (const c of history(job)) writeFileSync(c.path, 'x');
    writeFileSync(last, 'y');
    r = prepareResume(job);
    expect(r).toMatchObject({ step: 0, from: null });
    expect(r.rejected).toHaveLength(3);
    expect(existsSync(last)).toBe(false);
  });
});

describe('library slice source', () => {
  let ws: Awaited<ReturnType<typeof syntheticWorkspace>>;
  beforeAll(async () => {
    ws = await syntheticWorkspace('source');
  });
  afterAll(() => ws?.cleanup());

  it('every slice of every frame of the stored volumes, all studies or the listed ones', async () => {
    const cfg = { ...pretrainConfig('compact').preprocess, size: 16 };
    const all = await librarySliceSource(ws.workspace, cfg);
    // 2 volumes × 3 slices × 2 frames.
    expect(all.volumes).toBe(2);
    expect(all.source.slices).toHaveLength(12);
    expect(new Set(all.source.slices.map((s) => `${s.k}/${s.frame}`)).size).toBe(6);
    const px = await all.source.load(7);
    expect(px).toHaveLength(16 * 16);
    expect(Math.max(...px)).toBeLessThanOrEqual(1);
    const db = new Database(join(ws.workspace, 'catalog.sqlite'), { readonly: true });
    let studies: { id: string }[];
    try {
      studies = db.prepare('SELECT id FROM studies ORDER BY id').all() as { id: string }[];
    } finally {
      db.close();
    }
    expect(studies).toHaveLength(2);
    const one = await librarySliceSource(ws.workspace, cfg, [studies[0]!.id]);
    expect(one.volumes).toBe(1);
    expect(one.source.slices).toHaveLength(6);
    await expect(librarySliceSource(ws.workspace, cfg, ['study-nope'])).rejects.toThrow(/no stored volumes for study study-nope/);
    // The same list in the same order on every call: a resumed run sees the slices its checkpoint saw.
    const again = await librarySliceSource(ws.workspace, cfg);
    expect(again.source.slices).toEqual(all.source.slices);
    const emptyDir = mkdtempSync(join(tmpdir(), 'p2r-empty-'));
    try {
      await expect(librarySliceSource(emptyDir, { ...pretrainConfig('compact').preprocess, size: 16 })).rejects.toThrow(/no volumes to train on/);
    } finally {
      rmSync(emptyDir, { recursive: true, force: true });
    }
  });
});
