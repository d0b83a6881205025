import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeNifti } from '../../../main/io/nifti.js';
import { classifyFile } from '../../../main/library/import/classify.js';
import { scanDicomFiles } from '../../../main/library/import/dicom-unit.js';
import { guard, readNiftiSafe } from '../../../main/library/import/read.js';
import { readDicomSeries } from '../../../main/io/dicom/index.js';
import { dataPath, hasData } from '../../support/data.js';
import { tempDir, tinyLabels, tinyVolume } from './helpers.js';

/** Seeded PRNG (mulberry32): every run mutates the same way, so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Truncate at a random length, or flip 1–8 random bits (often inside the header, where it hurts most). */
function mutate(src: Buffer, rand: () => number): Buffer {
  if (rand() < 0.4) return src.subarray(0, Math.floor(rand() * src.length));
  const out = Buffer.from(src);
  const flips = 1 + Math.floor(rand() * 8);
  for (let i = 0; i < flips; i++) {
    const span = rand() < 0.7 ? Math.min(out.length, 600) : out.length;
    const at = Math.floor(rand() * span);
    out[at]! ^= 1 << Math.floor(rand() * 8);
  }
  return out;
}

type Outcome = 'read' | 'error' | 'skip';

/** classify → (NIfTI) read, or (DICOM) header scan → series decode: what an import does with one file. */
async function processOne(path: string): Promise<{ outcome: Outcome; reasons: string[] }> {
  const c = await classifyFile(path);
  if (c.kind === 'skip') return { outcome: 'skip', reasons: [c.reason] };
  if (c.kind === 'nifti') {
    const r = await readNiftiSafe(path);
    return r.ok ? { outcome: 'read', reasons: [] } : { outcome: 'error', reasons: [r.reason] };
  }
  if (c.kind === 'dicom') {
    const scan = await scanDicomFiles([path]);
    const reasons = scan.issues.map((i) => i.reason);
    let read = 0;
    for (const s of scan.series) {
      const r = await guard(() => readDicomSeries(s));
      if (r.ok) read++;
      else reasons.push(r.reason);
    }
    return { outcome: read ? 'read' : 'error', reasons };
  }
  return { outcome: 'skip', reasons: ['sidecar'] };
}

describe('fuzz: mutated copies of real files through classify and read', () => {
  it('1,200 truncated or bit-flipped files: every one read or rejected with a reason, nothing thrown', async () => {
    const dir = tempDir('fuzz');
    const seeds: Array<{ name: string; bytes: Buffer; copies: number }> = [];
    const v = tinyVolume({ dims: [8, 7, 3], frames: 2 });
    await writeNifti(join(dir, 'seed.nii'), v);
    await writeNifti(join(dir, 'seed.nii.gz'), v);
    await writeNifti(join(dir, 'seed_gt.nii.gz'), tinyLabels(v, [1]));
    seeds.push({ name: 'x.nii', bytes: readFileSync(join(dir, 'seed.nii')), copies: 300 });
    seeds.push({ name: 'x.nii.gz', bytes: readFileSync(join(dir, 'seed.nii.gz')), copies: 300 });
    seeds.push({ name: 'x_gt.nii.gz', bytes: readFileSync(join(dir, 'seed_gt.nii.gz')), copies: 100 });
    const dicomSeeds = ['compressed/mr-small-pydicom/MR_small.dcm', 'compressed/mr-small-pydicom/MR_small_RLE.dcm', 'compressed/mr-small-pydicom/MR_small_implicit.dcm'];
    if (hasData('dicom')) for (const d of dicomSeeds) seeds.push({ name: d.split('/').pop()!, bytes: readFileSync(dataPath('dicom', d)), copies: 170 });
    else seeds[0]!.copies += 510; // keep ≥ 1,000 cases when the DICOM data is missing

    const rand = rng(20240731);
    const tally: Record<Outcome, number> = { read: 0, error: 0, skip: 0 };
    const thrown: string[] = [];
    let n = 0;
    for (const s of seeds) {
      for (let i = 0; i < s.copies; i++) {
        const p = join(dir, `${n++}-${s.name}`);
        writeFileSync(p, mutate(s.bytes, rand));
        try {
          const r = await processOne(p);
          tally[r.outcome]++;
          if (r.outcome !== 'read') {
            expect(r.reasons.length).toBeGreaterThan(0);
            for (const reason of r.reasons) expect(typeof reason === 'string' && reason.length > 3).toBe(true);
          }
        } catch (err) {
          thrown.push(`${p}: ${String(err)}`);
        }
      }
    }
    expect(thrown).toEqual([]);
    expect(n).toBeGreaterThanOrEqual(1000);
    // Both paths were exercised: some mutants still read (flips in voxel data), many were rejected.
    expect(tally.read).toBeGreaterThan(50);
    expect(tally.error + tally.skip).toBeGreaterThan(300);
    console.log(`fuzz: ${n} files, ${JSON.stringify(tally)}`);
  });
});
