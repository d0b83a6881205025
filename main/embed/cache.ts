import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { removeDeadTemps, writeFileAtomic } from '../library/atomic.js';
import type { SliceEmbedding } from './compute.js';

/**
 * On-disk cache of slice embeddings under `<workspace>/cache/embeddings/`.
 *
 * One file per (model, volume, frame, slice): "P2REMB01", uint32 LE header length, UTF-8 JSON header, zero
 * padding to a multiple of 4, then the planar values as float16 or float32 LE. A file is named by a hash of
 * its key; the header repeats the key and carries the model's content hash, so a retrained model (same id,
 * new weights) or a changed volume reads as a miss and the stale file is deleted. Files are written whole
 * to a temporary name and renamed. The cache is bounded by total bytes: after each write the least recently
 * used files (a hit touches the file's mtime) are removed until the total fits.
 */

const MAGIC = 'P2REMB01';
const HOST_LE = endianness() === 'LE';
const EXT = '.emb';

export type CacheDtype = 'float16' | 'float32';

export interface EmbeddingKey {
  modelId: string;
  volumeId: string;
  frame: number;
  slice: number;
}

export interface EmbeddingStamp {
  /** Content hash of the model's weights. */
  modelHash: string;
  /** Content hash of the volume's voxels (or a file fingerprint). */
  volumeHash: string;
}

interface Header extends EmbeddingKey, EmbeddingStamp {
  format: 1;
  dims: [number, number];
  channels: number;
  dtype: CacheDtype;
  createdAt: string;
}

export interface CacheOptions {
  /** Upper bound on the total size of the cache files (default 2 GiB). */
  maxBytes?: number;
  /** float16 halves the files; its ~1e-3 relative rounding is below what a similarity map can show. */
  dtype?: CacheDtype;
}

export interface CacheStats {
  hits: number;
  misses: number;
  /** Files found stale (model or volume changed) and removed. */
  invalidated: number;
  evicted: number;
  writes: number;
}

export const DEFAULT_CACHE_BYTES = 2 * 1024 ** 3;

export class EmbeddingCache {
  readonly maxBytes: number;
  readonly dtype: CacheDtype;
  readonly stats: CacheStats = { hits: 0, misses: 0, invalidated: 0, evicted: 0, writes: 0 };

  constructor(
    readonly dir: string,
    opts: CacheOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_CACHE_BYTES;
    if (!(this.maxBytes > 0)) throw new RangeError(`embedding cache size must be positive, got ${this.maxBytes}`);
    this.dtype = opts.dtype ?? 'float16';
    mkdirSync(dir, { recursive: true });
    removeDeadTemps(dir);
  }

  pathOf(key: EmbeddingKey): string {
    const h = createHash('sha256').update(JSON.stringify([key.modelId, key.volumeId, key.frame, key.slice])).digest('hex');
    return join(this.dir, h.slice(0, 32) + EXT);
  }

  /** The cached embedding, or null on a miss (absent, stale or unreadable: stale and broken files are removed). */
  get(key: EmbeddingKey, stamp: EmbeddingStamp): SliceEmbedding | null {
    const path = this.pathOf(key);
    let buf: Buffer;
    try {
      buf = readFileSync(path);
    } catch {
      this.stats.misses++;
      return null;
    }
    let decoded: { header: Header; emb: SliceEmbedding };
    try {
      decoded = decode(buf);
    } catch {
      rmSync(path, { force: true });
      this.stats.misses++;
      this.stats.invalidated++;
      return null;
    }
    const h = decoded.header;
    const sameKey = h.modelId === key.modelId && h.volumeId === key.volumeId && h.frame === key.frame && h.slice === key.slice;
    if (!sameKey || h.modelHash !== stamp.modelHash || h.volumeHash !== stamp.volumeHash) {
      rmSync(path, { force: true });
      this.stats.misses++;
      this.stats.invalidated++;
      return null;
    }
    const now = new Date();
    try {
      utimesSync(path, now, now);
    } catch {
      // Evicted by another process between read and touch: the data read is still valid.
    }
    this.stats.hits++;
    return decoded.emb;
  }

  put(key: EmbeddingKey, stamp: EmbeddingStamp, emb: SliceEmbedding): void {
    const header: Header = { format: 1, ...key, ...stamp, dims: emb.dims, channels: emb.channels, dtype: this.dtype, createdAt: new Date().toISOString() };
    writeFileAtomic(this.pathOf(key), encode(header, emb.data));
    this.stats.writes++;
    this.evict(this.pathOf(key));
  }

  /** Total bytes of the cache files. */
  totalBytes(): number {
    return this.files().reduce((n, f) => n + f.size, 0);
  }

  /** Removes every cached embedding of a model (e.g. when it is deleted). */
  clear(): void {
    for (const f of this.files()) rmSync(f.path, { force: true });
  }

  private files(): Array<{ path: string; size: number; used: number }> {
    const out: Array<{ path: string; size: number; used: number }> = [];
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith(EXT) || name.startsWith('.')) continue;
      const path = join(this.dir, name);
      try {
        const st = statSync(path);
        out.push({ path, size: st.size, used: st.mtimeMs });
      } catch {
        // Removed by a concurrent eviction.
      }
    }
    return out;
  }

  /** Least recently used first, never the file just written (a single file larger than the bound stays). */
  private evict(keep: string): void {
    const files = this.files().sort((a, b) => a.used - b.used);
    let total = files.reduce((n, f) => n + f.size, 0);
    for (const f of files) {
      if (total <= this.maxBytes) break;
      if (f.path === keep) continue;
      rmSync(f.path, { force: true });
      total -= f.size;
      this.stats.evicted++;
    }
  }
}

function encode(header: Header, data: Float32Array): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const start = align4(12 + json.length);
  const width = header.dtype === 'float16' ? 2 : 4;
  const buf = Buffer.alloc(start + data.length * width);
  buf.write(MAGIC, 0, 'latin1');
  buf.writeUInt32LE(json.length, 8);
  json.copy(buf, 12);
  if (header.dtype === 'float16') {
    for (let n = 0; n < data.length; n++) buf.writeUInt16LE(toHalf(data[n]!), start + 2 * n);
  } else if (HOST_LE) {
    Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(buf, start);
  } else {
    for (let n = 0; n < data.length; n++) buf.writeFloatLE(data[n]!, start + 4 * n);
  }
  return buf;
}

function decode(buf: Buffer): { header: Header; emb: SliceEmbedding } {
  if (buf.length < 12 || buf.toString('latin1', 0, 8) !== MAGIC) throw new Error('not an embedding cache file');
  const len = buf.readUInt32LE(8);
  if (12 + len > buf.length) throw new Error('truncated header');
  const header = JSON.parse(buf.toString('utf8', 12, 12 + len)) as Header;
  const n = header.dims[0] * header.dims[1] * header.channels;
  const start = align4(12 + len);
  const width = header.dtype === 'float16' ? 2 : 4;
  if (header.format !== 1 || !(n > 0) || buf.length !== start + n * width) throw new Error('size does not match the header');
  const data = new Float32Array(n);
  if (header.dtype === 'float16') for (let i = 0; i < n; i++) data[i] = fromHalf(buf.readUInt16LE(start + 2 * i));
  else if (HOST_LE) new Uint8Array(data.buffer).set(buf.subarray(start, start + 4 * n));
  else for (let i = 0; i < n; i++) data[i] = buf.readFloatLE(start + 4 * i);
  return { header, emb: { dims: header.dims, channels: header.channels, data } };
}

const align4 = (n: number) => n + ((4 - (n % 4)) % 4);

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits of x, rounded to nearest even; overflow → ±Infinity, NaN kept. */
export function toHalf(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
