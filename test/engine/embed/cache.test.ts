import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddingCache, fromHalf, toHalf } from '../../../main/embed/cache.js';
import { randomArray } from '../ml/cpu.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2r-embcache-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const emb = (seed: number, dims: [number, number] = [20, 10], channels = 8) => ({ dims, channels, data: randomArray(dims[0] * dims[1] * channels, seed, 3) });
const key = (slice: number) => ({ modelId: 'models/tiny', volumeId: 'vol-1', frame: 0, slice });
const stamp = { modelHash: 'aaa', volumeHash: 'vvv' };

describe('float16 conversion', () => {
  it('round-trips exactly representable values and rounds others to nearest even', () => {
    for (const x of [0, 1, -2, 0.5, 65504, 2 ** -24, -0.25]) expect(fromHalf(toHalf(x))).toBe(x);
    expect(toHalf(1)).toBe(0x3c00);
    expect(toHalf(-2)).toBe(0xc000);
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00); // halfway between 1 and 1+2^-10: even mantissa wins
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(fromHalf(toHalf(1e6))).toBe(Infinity);
    expect(Number.isNaN(fromHalf(toHalf(NaN)))).toBe(true);
  });
});

describe('embedding cache', () => {
  it('returns what was stored (float32 exactly, float16 within its rounding)', () => {
    const c32 = new EmbeddingCache(join(dir, 'f32'), { dtype: 'float32' });
    const e = emb(1);
    c32.put(key(0), stamp, e);
    const back = c32.get(key(0), stamp)!;
    expect(back.dims).toEqual(e.dims);
    expect(back.channels).toBe(8);
    expect(Array.from(back.data)).toEqual(Array.from(e.data));
    const c16 = new EmbeddingCache(join(dir, 'f16'));
    c16.put(key(0), stamp, e);
    const half = c16.get(key(0), stamp)!;
    let worst = 0;
    for (let n = 0; n < e.data.length; n++) worst = Math.max(worst, Math.abs(half.data[n]! - e.data[n]!) / Math.max(Math.abs(e.data[n]!), 2 ** -14));
    expect(worst).toBeLessThanOrEqual(2 ** -11);
    expect(c16.stats).toMatchObject({ hits: 1, writes: 1 });
  });

  it('is a miss for another slice, and a changed model (or volume) hash invalidates and deletes the file', async () => {
    const c = new EmbeddingCache(join(dir, 'inv'));
    c.put(key(1), stamp, emb(2));
    expect(c.get(key(2), stamp)).toBeNull();
    expect(c.get(key(1), { ...stamp, modelHash: 'bbb' })).toBeNull();
    expect(c.stats.invalidated).toBe(1);
    expect(await readdir(join(dir, 'inv'))).toEqual([]);
    expect(c.get(key(1), stamp)).toBeNull();
    c.put(key(1), stamp, emb(2));
    expect(c.get(key(1), { ...stamp, volumeHash: 'www' })).toBeNull();
    expect(c.stats.invalidated).toBe(2);
  });

  it('a damaged file is a miss and is removed', async () => {
    const c = new EmbeddingCache(join(dir, 'bad'));
    c.put(key(3), stamp, emb(3));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(c.pathOf(key(3)), Buffer.from('P2REMB01garbage'));
    expect(c.get(key(3), stamp)).toBeNull();
    expect(await readdir(join(dir, 'bad'))).toEqual([]);
  });

  it('stays within its byte bound, evicting the least recently used file', async () => {
    const probe = new EmbeddingCache(join(dir, 'probe'));
    probe.put(key(0), stamp, emb(0));
    const one = (await stat(probe.pathOf(key(0)))).size;
    const c = new EmbeddingCache(join(dir, 'lru'), { maxBytes: 3 * one });
    const { utimesSync } = await import('node:fs');
    for (let s = 0; s < 3; s++) {
      c.put(key(s), stamp, emb(s));
      // Distinct use times (file mtimes) without sleeping.
      utimesSync(c.pathOf(key(s)), new Date(1e12 + s * 1000), new Date(1e12 + s * 1000));
    }
    expect(c.get(key(0), stamp)).not.toBeNull(); // slice 0 is now the most recently used
    c.put(key(3), stamp, emb(3));
    expect(c.totalBytes()).toBeLessThanOrEqual(3 * one);
    expect(c.stats.evicted).toBe(1);
    expect(c.get(key(1), stamp)).toBeNull(); // the least recently used went
    expect(c.get(key(0), stamp)).not.toBeNull();
    expect(c.get(key(3), stamp)).not.toBeNull();
  });
});
