import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../../main/ml/tf.js';
import { pretrainConfig } from '../../../../main/ml/config.js';
import { createNet, disposeNet } from '../../../../main/ml/unet.js';
import { createInferenceRuntime, loadOnnxRuntime, tfjsRuntime } from '../../../../main/ml/infer/runtime.js';
import { embedSlice, embedSliceWith } from '../../../../main/embed/compute.js';
import { IDENTITY, type Volume } from '../../../../main/io/volume.js';
import { randomArray, useCpu } from '../cpu.js';

beforeAll(useCpu);

const ort = await loadOnnxRuntime();
const ortReason = ort instanceof Error ? ` (skipped: onnxruntime-node not usable: ${ort.message.split('\n')[0]})` : '';

/**
 * A 3-level U-Net (D 8) whose BatchNorm statistics are moved off (0, 1), so that the ONNX export's folding of
 * BatchNorm into the convolutions is really exercised, and a non-square slice (37×29 at 1.2 mm) whose covering
 * network grid (at 1.5 mm, divisible by 4) is non-square too: 32×24.
 */
function fixture() {
  const cfg = pretrainConfig('compact', { model: { unet: { levels: 3, base: 4, embedding: 8 }, head: { hidden: 8, out: 8 } } });
  const net = createNet(cfg.model, 11, false);
  let seed = 100;
  for (const [name, v] of Object.entries(net.stats)) {
    const r = randomArray(v.size, seed++, 0.5);
    const t = tf.tensor(name.endsWith('.var') ? r.map((x) => 1 + x) : r, v.shape);
    v.assign(t);
    t.dispose();
  }
  const [ni, nj, nk] = [37, 29, 2];
  const data = new Float32Array(ni * nj * nk);
  for (let k = 0; k < nk; k++)
    for (let j = 0; j < nj; j++) for (let i = 0; i < ni; i++) data[(k * nj + j) * ni + i] = Math.hypot(i - 18, j - 14 + 3 * k) < 8 ? 0.9 : 0.2 + 0.1 * Math.sin(i * 0.7 + j);
  const volume: Volume = { dims: [ni, nj, nk], frames: 1, spacing: [1.2, 1.2, 8], origin: [0, 0, 0], direction: [...IDENTITY], data };
  return { net, volume, pre: { spacingMm: 1.5 } };
}

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

describe('embedding forward pass through an inference runtime', () => {
  it('through the tfjs runtime: exactly the tfjs embedding (same graph; only where the transpose runs differs)', async () => {
    const { net, volume, pre } = fixture();
    const ref = embedSlice(net, pre, volume, volume.data as Float32Array, 1, 0);
    const got = await embedSliceWith(tfjsRuntime(net), net, pre, volume, volume.data as Float32Array, 1, 0);
    expect(got.dims).toEqual([37, 29]);
    expect(got.channels).toBe(8);
    expect(got.data).toEqual(ref.data);
    disposeNet(net);
  });

  it('refuses a runtime whose channel count is not the embedding size', async () => {
    const { net, volume, pre } = fixture();
    const other = createNet(pretrainConfig('compact', { model: { unet: { levels: 3, base: 4, embedding: 4 }, head: { hidden: 8, out: 8 } } }).model, 1, false);
    await expect(embedSliceWith(tfjsRuntime(other), net, pre, volume, volume.data as Float32Array, 0, 0)).rejects.toThrow(/4 channels, the backbone's embedding has 8/);
    disposeNet(net);
    disposeNet(other);
  });
});

describe.skipIf(ort instanceof Error)(`embeddings through onnxruntime-node agree with tfjs${ortReason}`, () => {
  it('on a non-square slice grid: within 1e-4 of the largest embedding magnitude at every pixel and channel', async () => {
    const { net, volume, pre } = fixture();
    const rt = await createInferenceRuntime(net, { prefer: 'onnxruntime', threads: 1 });
    expect(rt.name).toBe('onnxruntime');
    for (const k of [0, 1]) {
      const ref = embedSlice(net, pre, volume, volume.data as Float32Array, k, 0);
      const got = await embedSliceWith(rt, net, pre, volume, volume.data as Float32Array, k, 0);
      expect(got.dims).toEqual(ref.dims);
      let diff = 0;
      for (let i = 0; i < ref.data.length; i++) diff = Math.max(diff, Math.abs(ref.data[i]! - got.data[i]!));
      const scale = maxAbs(ref.data);
      expect(scale).toBeGreaterThan(1e-3);
      expect(diff).toBeLessThan(1e-4 * scale + 1e-6);
    }
    await rt.dispose();
    disposeNet(net);
  });
});
