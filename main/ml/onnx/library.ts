import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EngineFailure } from '../../engine/errors.js';
import type { Library } from '../../library/library.js';
import { disposeSegmenter, type Segmenter } from '../fewshot/segmenter.js';
import { findModel, loadLibraryModel, resolveBackbone } from '../fewshot/library.js';
import { segmenterFromFile } from '../fewshot/model-file.js';
import { loadPretrainedNet } from '../pretrain/loop.js';
import { disposeNet, type Net } from '../unet.js';
import { netToOnnx, segmenterToOnnx, writeOnnxFile } from './export.js';

/**
 * `pix2rep models export NAME --format onnx`: a workspace model as a standalone ONNX file for PyTorch, MONAI,
 * 3D Slicer or any ONNX runtime. Pretrained backbones export their embedding (the projection head is a
 * pretraining device and is left out); segmentation models export class logits. The metadata says how the
 * input must be prepared, since the file alone cannot. A tfjs backend must be active (the weights load into it).
 */
export async function exportModelOnnx(lib: Library, ref: string, outDir: string): Promise<string> {
  const row = findModel(lib, ref);
  if (!row) throw new EngineFailure('NOT_FOUND', `no model "${ref}" in the workspace (pix2rep models list)`);
  const dest = join(resolve(outDir), `${row.name.replace(/[^\w.-]+/g, '_')}.onnx`);
  if (existsSync(dest)) throw new EngineFailure('BAD_INPUT', `${dest} already exists`);
  const common = { layout: 'input image [N, H, W, 1] float32 (NHWC); H and W divisible by 2^(levels-1)', model_id: row.id, model_name: row.name, kind: row.kind };
  let bytes: Uint8Array;
  if (row.kind === 'pretrain') {
    let net: Net | null = null;
    try {
      const loaded = await loadPretrainedNet(resolveBackbone(lib, row.id).path, false);
      net = loaded.net;
      bytes = netToOnnx(net, {
        name: row.name,
        metadata: { ...common, output: 'embedding [N, H, W, D]', preprocess: JSON.stringify(loaded.header.config.preprocess), unet: JSON.stringify(net.config.unet) },
      });
    } finally {
      if (net) disposeNet(net);
    }
  } else {
    const { file, path } = await loadLibraryModel(lib, row.id);
    let s: Segmenter | null = null;
    try {
      s = segmenterFromFile(file, path);
      bytes = segmenterToOnnx(s, {
        name: row.name,
        metadata: {
          ...common,
          output: 'logits [N, H, W, K]; class 0 is background, class i > 0 is label value classes[i-1]',
          classes: JSON.stringify(file.header.classes),
          labels: JSON.stringify(file.header.labels),
          preprocess: JSON.stringify(file.header.preprocess),
          unet: JSON.stringify(file.header.model.unet),
        },
      });
    } finally {
      if (s) disposeSegmenter(s);
    }
  }
  await writeOnnxFile(dest, bytes);
  return dest;
}
