import type { BatchViews, PixelPairs } from '../pretrain/step.js';

export interface Shard {
  views: BatchViews;
  pairs: PixelPairs;
}

/**
 * Splits a batch into `n` contiguous shards of images (sizes differ by at most one) with the sampled pixel
 * pairs that fall in each, re-indexed to the shard. The pairs are drawn once over the whole batch, so the
 * shards together use exactly the pixels a single worker would.
 */
export function splitBatch(views: BatchViews, pairs: PixelPairs, n: number): Shard[] {
  const b = views.grids.length;
  if (!Number.isInteger(n) || n < 1) throw new Error(`cannot split a batch into ${n} shards`);
  if (n > b) throw new Error(`a batch of ${b} images cannot feed ${n} workers (at least one image each)`);
  const px = views.size * views.size;
  const shards: Shard[] = [];
  let start = 0;
  for (let s = 0; s < n; s++) {
    const count = Math.floor(b / n) + (s < b % n ? 1 : 0);
    const end = start + count;
    const idx: number[] = [];
    for (let i = 0; i < pairs.batch.length; i++) if (pairs.batch[i]! >= start && pairs.batch[i]! < end) idx.push(i);
    const p: PixelPairs = { batch: new Int32Array(idx.length), xs: new Int32Array(idx.length), ys: new Int32Array(idx.length), src: new Float32Array(2 * idx.length) };
    idx.forEach((i, j) => {
      p.batch[j] = pairs.batch[i]! - start;
      p.xs[j] = pairs.xs[i]!;
      p.ys[j] = pairs.ys[i]!;
      p.src[2 * j] = pairs.src[2 * i]!;
      p.src[2 * j + 1] = pairs.src[2 * i + 1]!;
    });
    shards.push({
      views: {
        size: views.size,
        inputA: views.inputA.slice(start * px, end * px),
        inputB: views.inputB.slice(start * px, end * px),
        grids: views.grids.slice(start, end),
        valid: views.valid.slice(start, end),
      },
      pairs: p,
    });
    start = end;
  }
  return shards;
}
