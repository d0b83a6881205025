import { describe, expect, it } from 'vitest';
import { benchCommand } from '../../../../main/cli/commands/bench.js';
import { stdoutOf } from '../../../support/cli.js';
import { loadOnnxRuntime } from '../../../../main/ml/infer/runtime.js';

const capture = (argv: string[]) => stdoutOf(() => benchCommand.run(argv));

describe('pix2rep bench infer', () => {
  it('reports ms and CPU ms per slice for each runtime (no timing asserted, only the shape of the report)', async () => {
    const ort = await loadOnnxRuntime();
    const { code, out } = await capture(['infer', '--size', '16', '--batch', '2', '--steps', '2', '--threads', '1', '--json']);
    expect(code).toBe(0);
    const r = JSON.parse(out);
    expect(r).toMatchObject({ batch: 2, size: 16, iterations: 2, preset: 'compact', threads: 1 });
    const names = r.results.map((x: { runtime: string }) => x.runtime);
    expect(names).toEqual(ort instanceof Error ? ['tfjs'] : ['tfjs', 'onnxruntime']);
    for (const x of r.results) {
      expect(x.ms_per_slice).toBeGreaterThan(0);
      expect(x.cpu_ms_per_slice).toBeGreaterThanOrEqual(0);
      expect(x.batch_ms).toHaveLength(2);
      expect(r[`ms_per_slice_${x.runtime}`]).toBe(x.ms_per_slice);
    }
    expect(r.peak_rss_mb).toBeGreaterThan(0);
  });

  it('rejects an unknown runtime and a sub-command it does not know', async () => {
    await expect(benchCommand.run(['infer', '--runtime', 'cuda', '--size', '16'])).rejects.toThrow(/--runtime must be/);
    await expect(benchCommand.run(['predict'])).rejects.toThrow(/expected train-step, infer, import, library, embed or augment, got "predict"/);
  });
});

describe('pix2rep bench train-step --workers', () => {
  it('times data-parallel Pix2Rep steps and reports the worker count and backend (no timing asserted)', async () => {
    const { code, out } = await capture(['train-step', '--workers', '2', '--size', '16', '--batch', '2', '--steps', '1', '--warmup', '0', '--json']);
    expect(code).toBe(0);
    const r = JSON.parse(out);
    expect(r).toMatchObject({ kind: 'pix2rep-step', workers: 2, batch: 2, size: 16, preset: 'compact' });
    expect(r.step_ms).toHaveLength(1);
    expect(r.cpu_ms_per_step).toBeGreaterThan(0);
    await expect(benchCommand.run(['train-step', '--workers', '3', '--batch', '2'])).rejects.toThrow(/exceeds --batch 2/);
  }, 120_000);
});

describe('pix2rep bench train-step memory', () => {
  it('reports peak memory and runs a batch as micro-batches with --micro-batch; refuses an image larger than a heap', async () => {
    const { code, out } = await capture(['train-step', '--size', '16', '--batch', '5', '--micro-batch', '2', '--steps', '1', '--warmup', '0', '--json']);
    expect(code).toBe(0);
    const r = JSON.parse(out);
    // 5 images at most 2 per pass: 3 passes of 2, 2 and 1 (sizes differ by at most one).
    expect(r).toMatchObject({ batch: 5, size: 16, micro_batches: 3, micro_batch: 2 });
    expect(r.peak_rss_mb).toBeGreaterThan(0);
    expect(r.tensor_peak_mb).toBeGreaterThan(0);
    if (r.backend === 'wasm') expect(r.wasm_heap_mb).toBeGreaterThan(0);
    else expect(r.wasm_heap_mb).toBeNull();
    if (r.backend === 'wasm') {
      // 4096² compact: ~160 GB of activations per image, no heap holds it.
      await expect(benchCommand.run(['train-step', '--size', '4096', '--batch', '1'])).rejects.toThrow(/wasm32 caps its heap at 4 GB/);
    }
  }, 120_000);
});
