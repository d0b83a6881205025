import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND_ORDER, chooseBackend, probeBackend } from '../../../main/ml/backends/probe.js';
import { initBackend, wasmDistDir } from '../../../main/ml/backends/init.js';

describe('chooseBackend', () => {
  it('prefers CUDA, then libtensorflow, then wasm; never cpu by default', () => {
    expect(BACKEND_ORDER).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm']);
    const choice = chooseBackend({});
    const first = BACKEND_ORDER.find((n) => probeBackend(n).available) ?? null;
    expect(choice.selected).toBe(first);
    expect(choice.reason).toBe('first available of tensorflow-gpu > tensorflow > wasm');
    expect(choice.probes.map((p) => p.name)).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
  });

  it('honours PIX2REP_BACKEND for an available backend', () => {
    expect(chooseBackend({ PIX2REP_BACKEND: 'wasm' })).toMatchObject({ selected: 'wasm', reason: 'forced by PIX2REP_BACKEND=wasm' });
    expect(chooseBackend({ PIX2REP_BACKEND: ' cpu ' })).toMatchObject({ selected: 'cpu', reason: 'forced by PIX2REP_BACKEND=cpu' });
  });

  it('refuses an unknown name, listing the known ones', () => {
    const c = chooseBackend({ PIX2REP_BACKEND: 'cuda' });
    expect(c.selected).toBeNull();
    expect(c.reason).toBe('PIX2REP_BACKEND=cuda is not one of tensorflow-gpu, tensorflow, wasm, cpu');
  });

  it('explains why a forced backend cannot be used', () => {
    for (const name of ['tensorflow', 'tensorflow-gpu'] as const) {
      const probe = probeBackend(name);
      const c = chooseBackend({ PIX2REP_BACKEND: name });
      if (probe.available) expect(c.selected).toBe(name);
      else {
        expect(c.selected).toBeNull();
        expect(c.reason).toBe(`PIX2REP_BACKEND=${name} but ${probe.reason}`);
        expect(probe.reason).toMatch(/not installed|without its native binding|only for Linux and Windows/);
      }
    }
  });

  it('says why cpu is never chosen for training', () => {
    expect(probeBackend('cpu')).toMatchObject({ available: true, reason: expect.stringContaining('never used for training') });
  });
});

describe('initBackend', () => {
  it('loads the wasm binaries from the package on disk', () => {
    const dir = wasmDistDir();
    for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm']) expect(existsSync(join(dir, f))).toBe(true);
  });

  it('starts wasm with our training kernels, once', async () => {
    const a = await initBackend({ backend: 'wasm' });
    expect(a.name).toBe('wasm');
    expect(a.tf.getBackend()).toBe('wasm');
    expect(a.kernels).toEqual(['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'UnsortedSegmentSum', 'Identity', 'Sum', 'Mean', 'SplitV']);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    const b = await initBackend({ backend: 'wasm' });
    expect(b.tf).toBe(a.tf);
    expect(b.kernels).toEqual(a.kernels);
    // Real compute on it: a 2×2 conv of a ramp by a box filter.
    const y = a.tf.conv2d(a.tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]), a.tf.ones([2, 2, 1, 1]) as tf.Tensor4D, 1, 'valid');
    expect(Array.from(await y.data())).toEqual([12, 16, 24, 28]);
  });

  it('follows PIX2REP_BACKEND and switches backends on request', async () => {
    const c = await initBackend({ env: { PIX2REP_BACKEND: 'cpu' } });
    expect(c).toMatchObject({ name: 'cpu', reason: 'forced by PIX2REP_BACKEND=cpu', kernels: [] });
    expect(tf.getBackend()).toBe('cpu');
    const w = await initBackend({ env: { PIX2REP_BACKEND: 'wasm' } });
    expect(w.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('picks the first available backend when nothing is forced', async () => {
    const first = BACKEND_ORDER.find((n) => probeBackend(n).available);
    if (first !== 'wasm') return; // on a machine with tfjs-node this would load libtensorflow: not in a unit test
    const b = await initBackend({ env: {} });
    expect(b).toMatchObject({ name: 'wasm', reason: 'first available of tensorflow-gpu > tensorflow > wasm' });
  });

  it('fails with the reason for an unknown or unavailable backend', async () => {
    await expect(initBackend({ env: { PIX2REP_BACKEND: 'cuda' } })).rejects.toThrow('no compute backend: PIX2REP_BACKEND=cuda is not one of tensorflow-gpu, tensorflow, wasm, cpu');
    const probe = probeBackend('tensorflow-gpu');
    if (!probe.available) {
      await expect(initBackend({ backend: 'tensorflow-gpu' })).rejects.toThrow(`backend tensorflow-gpu was requested but ${probe.reason}`);
    }
  });
});
