import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../../main/ml/tf.js';
import { pretrainConfig, type ModelConfig } from '../../../../main/ml/config.js';
import { createSegmenter, disposeSegmenter, segLogits, type Segmenter } from '../../../../main/ml/fewshot/segmenter.js';
import { Adam } from '../../../../main/ml/pretrain/adam.js';
import { netToOnnx, segmenterToOnnx, ONNX_OPSET } from '../../../../main/ml/onnx/export.js';
import { decodeFields, decodePackedInts, decodeString } from '../../../../main/ml/onnx/proto.js';
import { createInferenceRuntime, loadOnnxRuntime, tfjsRuntime } from '../../../../main/ml/infer/runtime.js';
import { findNiftiImages, niftiSliceSource } from '../../../../main/ml/pretrain/source.js';
import { predictVolume } from '../../../../main/ml/infer/index.js';
import { readNiftiFile } from '../../../../main/io/nifti.js';
import { dataPath, hasData, MISSING_DATA } from '../../../support/data.js';
import { phantomSlices } from '../phantoms.js';
import { useCpu } from '../cpu.js';
import { maxAbs, maxAbsDiff } from './max-abs.js';

beforeAll(useCpu);

const model = (levels: number, base: number, embedding: number): ModelConfig =>
  pretrainConfig('compact', { model: { unet: { levels, base, embedding }, head: { hidden: 8, out: 8 } } }).model;

/** A few supervised steps (labels = intensity bands) so weights and BatchNorm running statistics move. */
function briefTrain(s: Segmenter, size: number, steps: number): void {
  const images = phantomSlices(2, size, 3);
  const x = new Float32Array(2 * size * size);
  images.forEach((im, i) => x.set(im, i * size * size));
  const k = s.classes.length + 1;
  const labels = Array.from(x, (v) => Math.min(k - 1, Math.floor(v * k)));
  const params = { ...s.net.params, 'seg.w': s.head.w, 'seg.b': s.head.b };
  const adam = new Adam({ lr: 1e-2, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }, params);
  for (let i = 0; i < steps; i++) {
    const { value, grads } = tf.variableGrads(
      () =>
        tf.tidy(() => {
          const logits = segLogits(s, tf.tensor4d(x, [2, size, size, 1]), { training: true, trainBackbone: true });
          return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(labels, 'int32'), k), tf.reshape(logits, [-1, k])) as tf.Scalar;
        }),
      Object.values(params),
    );
    const byName: Record<string, tf.Tensor> = {};
    for (const [n, v] of Object.entries(params)) if (grads[v.name]) byName[n] = grads[v.name]!;
    adam.apply(params, byName);
    value.dispose();
    tf.dispose(grads);
  }
  adam.dispose();
}

const ort = await loadOnnxRuntime();
const ortReason = ort instanceof Error ? ` (skipped: onnxruntime-node not usable: ${ort.message.split('\n')[0]})` : '';

describe('ONNX export', () => {
  it('writes a ModelProto that reads back with the expected opset, graph, nodes and initialiser shapes', () => {
    const s = createSegmenter(model(3, 4, 8), [1, 2, 3], 1);
    const bytes = segmenterToOnnx(s, { name: 'tiny' });
    disposeSegmenter(s);
    const m = decodeFields(bytes);
    expect(m.get(1)).toEqual([7]);
    const opset = decodeFields(m.get(8)![0] as Uint8Array);
    expect(opset.get(2)).toEqual([ONNX_OPSET]);
    const g = decodeFields(m.get(7)![0] as Uint8Array);
    expect(decodeString(g.get(2)![0])).toBe('tiny');
    const ops = g.get(1)!.map((n) => decodeString(decodeFields(n as Uint8Array).get(4)![0]));
    const count = (op: string) => ops.filter((o) => o === op).length;
    // 3 levels: 6 encoder convs + 2·2 decoder convs + out + seg = 12 Conv, each 3×3 followed by a ReLU.
    expect(count('Conv')).toBe(12);
    expect(count('Relu')).toBe(10);
    expect(count('MaxPool')).toBe(2);
    expect(count('ConvTranspose')).toBe(2);
    expect(count('Concat')).toBe(2);
    expect(count('Transpose')).toBe(2);
    const inits = new Map(
      g.get(5)!.map((t) => {
        const f = decodeFields(t as Uint8Array);
        return [decodeString(f.get(8)![0]), { dims: decodePackedInts(f.get(1)![0] as Uint8Array), bytes: (f.get(9)![0] as Uint8Array).length }];
      }),
    );
    expect(inits.get('enc0.c1.W')).toEqual({ dims: [4, 1, 3, 3], bytes: 4 * 36 });
    expect(inits.get('enc1.c2.W')).toEqual({ dims: [8, 8, 3, 3], bytes: 4 * 576 });
    expect(inits.get('dec0.up.W')).toEqual({ dims: [8, 4, 2, 2], bytes: 4 * 128 });
    expect(inits.get('dec1.c1.W')?.dims).toEqual([8, 16, 3, 3]);
    expect(inits.get('seg.W')?.dims).toEqual([4, 8, 1, 1]);
    const output = decodeFields(g.get(12)![0] as Uint8Array);
    expect(decodeString(output.get(1)![0])).toBe('logits');
  });

  it('folds BatchNorm exactly: first conv weights are W·γ/√(σ²+ε) in [out, in, kh, kw] order', () => {
    const s = createSegmenter(model(2, 2, 4), [1], 4);
    const gamma = tf.tensor1d([2, -0.5]);
    const variance = tf.tensor1d([3, 0.25]);
    s.net.params['enc0.c1.gamma']!.assign(gamma);
    s.net.stats['enc0.c1.var']!.assign(variance);
    const w = s.net.params['enc0.c1.w']!.dataSync(); // [3, 3, 1, 2]
    const bytes = netToOnnx(s.net);
    const g = decodeFields(decodeFields(bytes).get(7)![0] as Uint8Array);
    const t = g.get(5)!.map((x) => decodeFields(x as Uint8Array)).find((f) => decodeString(f.get(8)![0]) === 'enc0.c1.W')!;
    const raw = t.get(9)![0] as Uint8Array;
    const got = new Float32Array(raw.slice().buffer);
    const eps = s.net.config.unet.bnEpsilon;
    const scale = [2 / Math.sqrt(3 + eps), -0.5 / Math.sqrt(0.25 + eps)];
    for (let o = 0; o < 2; o++) for (let p = 0; p < 9; p++) expect(got[o * 9 + p]!).toBeCloseTo(w[p * 2 + o]! * scale[o]!, 6);
    tf.dispose([gamma, variance]);
    disposeSegmenter(s);
  });
});

describe.skipIf(ort instanceof Error)(`ONNX through onnxruntime-node agrees with tfjs${ortReason}`, () => {
  it('random-init and briefly trained U-Nets: embeddings and logits within 1e-4 of their largest magnitude', async () => {
    const size = 32;
    const s = createSegmenter(model(3, 4, 8), [1, 2, 3], 7);
    const x = new Float32Array(2 * size * size);
    phantomSlices(2, size, 9).forEach((im, i) => x.set(im, i * size * size));
    for (const trained of [false, true]) {
      if (trained) briefTrain(s, size, 3);
      for (const target of [s.net, s]) {
        const ref = await tfjsRuntime(target).run(x, 2, size);
        const rt = await createInferenceRuntime(target, { prefer: 'onnxruntime', threads: 1 });
        expect(rt.name).toBe('onnxruntime');
        const got = await rt.run(x, 2, size);
        await rt.dispose();
        const tol = 1e-4 * maxAbs(ref) + 1e-6;
        expect(maxAbsDiff(ref, got)).toBeLessThan(tol);
      }
    }
    // Training moved the statistics away from (0, 1): the folding was really exercised.
    expect(Math.abs(s.net.stats['enc0.c1.mean']!.dataSync()[0]!)).toBeGreaterThan(1e-3);
    disposeSegmenter(s);
  });

  it('auto picks onnxruntime here; tfjs when asked', async () => {
    const s = createSegmenter(model(2, 2, 4), [1], 2);
    const auto = await createInferenceRuntime(s);
    expect(auto.name).toBe('onnxruntime');
    expect(auto.channels).toBe(2);
    await expect(auto.run(new Float32Array(10), 1, 8)).rejects.toThrow(/1×8×8×1 needs 64/);
    await auto.dispose();
    const t = await createInferenceRuntime(s, { prefer: 'tfjs' });
    expect(t.name).toBe('tfjs');
    disposeSegmenter(s);
  });
});

const ACDC = 'acdc/training/patient001';
describe.skipIf(ort instanceof Error || !hasData(ACDC))(`ONNX labels on a real ACDC slice${ortReason}${hasData(ACDC) ? '' : ` (skipped: ${MISSING_DATA})`}`, () => {
  it('gives the argmax labels of tfjs at every pixel whose top-2 logit margin exceeds 1e-3', async () => {
    const cfg = pretrainConfig('compact');
    const src = await niftiSliceSource(await findNiftiImages(dataPath(ACDC)), cfg.preprocess);
    const img = await src.load(5);
    const size = src.size;
    const s = createSegmenter(model(3, 4, 8), [1, 2, 3], 5);
    briefTrain(s, 32, 2);
    const ref = await tfjsRuntime(s).run(img, 1, size);
    const rt = await createInferenceRuntime(s, { prefer: 'onnxruntime', threads: 1 });
    const got = await rt.run(img, 1, size);
    await rt.dispose();
    const k = 4;
    let compared = 0;
    let classesSeen = new Set<number>();
    for (let p = 0; p < size * size; p++) {
      const r = Array.from(ref.subarray(p * k, p * k + k));
      const g = Array.from(got.subarray(p * k, p * k + k));
      const sorted = [...r].sort((a, b) => b - a);
      if (sorted[0]! - sorted[1]! < 1e-3) continue;
      compared++;
      const ar = r.indexOf(sorted[0]!);
      classesSeen.add(ar);
      expect(g.indexOf(Math.max(...g))).toBe(ar);
    }
    expect(compared).toBeGreaterThan(0.95 * size * size);
    expect(classesSeen.size).toBeGreaterThan(1);
    disposeSegmenter(s);
  });

  it('predictVolume labels a whole ACDC volume the same through onnxruntime (default here) and tfjs', async () => {
    const cfg = pretrainConfig('compact');
    const { volume } = await readNiftiFile(dataPath(ACDC, 'patient001_frame01.nii.gz'));
    const s = createSegmenter(model(3, 4, 8), [1, 2, 3], 8);
    briefTrain(s, 32, 2);
    const m = { segmenter: s, preprocess: cfg.preprocess };
    const viaTfjs = await predictVolume(m, volume, { runtime: 'tfjs' });
    const viaOnnx = await predictVolume(m, volume);
    let same = 0;
    for (let i = 0; i < viaTfjs.length; i++) if (viaTfjs[i] === viaOnnx[i]) same++;
    // Scores interpolated to the voxel grid: only near-ties can flip.
    expect(same / viaTfjs.length).toBeGreaterThan(0.999);
    expect(new Set(viaOnnx).size).toBeGreaterThan(1);
    disposeSegmenter(s);
  });
});
