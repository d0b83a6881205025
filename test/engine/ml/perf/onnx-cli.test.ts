import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pretrainConfig } from '../../../../main/ml/config.js';
import { openLibrary } from '../../../../main/library/library.js';
import { createSegmenter, disposeSegmenter } from '../../../../main/ml/fewshot/segmenter.js';
import { saveSegmenter } from '../../../../main/ml/fewshot/library.js';
import type { TrainingRecord } from '../../../../main/ml/fewshot/train.js';
import { decodeFields, decodeString } from '../../../../main/ml/onnx/proto.js';
import { loadOnnxRuntime, tfjsRuntime } from '../../../../main/ml/infer/runtime.js';
import { modelsCommand } from '../../../../main/cli/commands/models.js';
import { phantomSlices } from '../phantoms.js';
import { useCpu } from '../cpu.js';

const ort = await loadOnnxRuntime();

describe('pix2rep models export NAME --format onnx', () => {
  let ws = '';
  let out = '';
  let reference: Float32Array;
  const size = 16;
  const x = new Float32Array(size * size);
  beforeAll(async () => {
    await useCpu();
    ws = mkdtempSync(join(tmpdir(), 'p2r-onnx-ws-'));
    out = mkdtempSync(join(tmpdir(), 'p2r-onnx-out-'));
    x.set(phantomSlices(1, size, 4)[0]!);
    const model = pretrainConfig('compact', { model: { unet: { levels: 2, base: 4, embedding: 8 } } }).model;
    const s = createSegmenter(model, [1, 2], 3);
    reference = await tfjsRuntime(s).run(x, 1, size);
    const lib = openLibrary(ws);
    try {
      const record = { mode: 'supervised', backbone: null, config: {}, curves: { loss: [], validation: [] } } as unknown as TrainingRecord;
      saveSegmenter(lib, s, { name: 'tiny seg', record, labels: [{ value: 1, name: 'RV', color: '#ff0000' }, { value: 2, name: 'MYO', color: '#00ff00' }], preprocess: pretrainConfig('compact').preprocess });
    } finally {
      lib.close();
      disposeSegmenter(s);
    }
  });
  afterAll(() => {
    rmSync(ws, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  });

  it('writes NAME.onnx with metadata; it refuses an unknown format and an existing file', async () => {
    let printed = '';
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => {
      printed += chunk;
      return true;
    }) as typeof process.stdout.write;
    try {
      expect(await modelsCommand.run(['export', 'tiny seg', '--out', out, '--format', 'onnx', '--workspace', ws, '--json'])).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    const dest = join(out, 'tiny_seg.onnx');
    expect(JSON.parse(printed)).toEqual({ exported: dest });
    const m = decodeFields(readFileSync(dest));
    const meta = new Map((m.get(14) ?? []).map((e) => {
      const f = decodeFields(e as Uint8Array);
      return [decodeString(f.get(1)![0]), decodeString(f.get(2)![0])];
    }));
    expect(JSON.parse(meta.get('classes')!)).toEqual([1, 2]);
    expect(meta.get('kind')).toBe('supervised');
    expect(JSON.parse(meta.get('preprocess')!).size).toBe(128);
    await expect(modelsCommand.run(['export', 'tiny seg', '--out', out, '--format', 'onnx', '--workspace', ws])).rejects.toThrow(/already exists/);
    await expect(modelsCommand.run(['export', 'tiny seg', '--out', out, '--format', 'tflite', '--workspace', ws])).rejects.toThrow(/expected p2s or onnx/);
  });

  it.skipIf(ort instanceof Error)('the written file runs in onnxruntime and gives the logits of the stored model', async () => {
    if (ort instanceof Error) return;
    const session = await ort.InferenceSession.create(join(out, 'tiny_seg.onnx'));
    const res = await session.run({ image: new ort.Tensor('float32', x, [1, size, size, 1]) });
    const got = res.logits!.data as Float32Array;
    await session.release();
    let m = 0;
    let d = 0;
    for (let i = 0; i < reference.length; i++) {
      m = Math.max(m, Math.abs(reference[i]!));
      d = Math.max(d, Math.abs(reference[i]! - got[i]!));
    }
    expect(got.length).toBe(size * size * 3);
    expect(d).toBeLessThan(1e-4 * m + 1e-6);
  });
});
