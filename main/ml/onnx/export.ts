import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { UNetConfig } from '../config.js';
import { levelChannels, type Net } from '../unet.js';
import type { Segmenter } from '../fewshot/segmenter.js';
import { bytesField, concat, float32Bytes, intField, messageField, packedIntsField, stringField, type Chunk } from './proto.js';

/**
 * ONNX export of our U-Net in inference mode, written directly as protobuf (no onnx package, no Python).
 *
 * The graph keeps the engine's NHWC interface (input `image` [N, H, W, C], output [N, H, W, D or K]) and
 * computes in NCHW, the layout every ONNX runtime's convolutions are written for: one Transpose in, one out.
 * BatchNorm (running statistics) is folded into the preceding bias-free convolution, W' = W·s, b' = β − μ·s
 * with s = γ/√(σ² + ε), which is what the tfjs eval path computes up to float rounding.
 *
 * Weight layouts: tfjs conv [kh, kw, in, out] → ONNX Conv [out, in, kh, kw]; tfjs conv2dTranspose
 * [kh, kw, out, in] → ONNX ConvTranspose [in, out, kh, kw]. Both are cross-correlations, no kernel flip.
 */

export const ONNX_OPSET = 13;
/** IR version 7 is the one that goes with opset 13. */
const IR_VERSION = 7;
const FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;

/** A 1×1 classifier on top of the embedding (a segmentation model's head). */
export interface OnnxSegHead {
  /** [1, 1, D, K] as tfjs stores it. */
  w: Float32Array;
  b: Float32Array;
  classes: number;
}

export interface OnnxExportOptions {
  head?: OnnxSegHead;
  /** Graph name and producer metadata. */
  name?: string;
  /** Free-form key/value metadata stored in the model (e.g. label values, preprocessing). */
  metadata?: Record<string, string>;
}

export const ONNX_INPUT = 'image';
export const onnxOutputName = (head: boolean): string => (head ? 'logits' : 'embedding');

type Attr = { name: string; ints?: number[]; i?: number };

function attribute(a: Attr): Chunk {
  if (a.ints) return messageField(5, [stringField(1, a.name), packedIntsField(8, a.ints), intField(20, ATTR_INTS)]);
  return messageField(5, [stringField(1, a.name), intField(3, a.i ?? 0), intField(20, ATTR_INT)]);
}

function node(op: string, inputs: string[], outputs: string[], name: string, attrs: Attr[] = []): Chunk {
  return messageField(1, [...inputs.map((s) => stringField(1, s)), ...outputs.map((s) => stringField(2, s)), stringField(3, name), stringField(4, op), ...attrs.map(attribute)]);
}

function initializer(name: string, dims: number[], data: Float32Array): Chunk {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected) throw new Error(`ONNX export: ${name} has ${data.length} values, shape [${dims.join(', ')}] needs ${expected}`);
  return messageField(5, [packedIntsField(1, dims), intField(2, FLOAT), stringField(8, name), bytesField(9, float32Bytes(data))]);
}

function valueInfo(field: number, name: string, dims: Array<number | string>): Chunk {
  const dim = dims.map((d) => messageField(1, [typeof d === 'number' ? intField(1, d) : stringField(2, d)]));
  const tensorType = messageField(1, [intField(1, FLOAT), messageField(2, dim)]);
  return messageField(field, [stringField(1, name), messageField(2, [tensorType])]);
}

/** [kh, kw, in, out] → [out, in, kh, kw], each output channel scaled by `scale` (folded BatchNorm). */
function convWeight(w: Float32Array, k: number, cin: number, cout: number, scale?: Float64Array): Float32Array {
  const out = new Float32Array(w.length);
  for (let y = 0; y < k; y++)
    for (let x = 0; x < k; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) {
          out[((o * cin + i) * k + y) * k + x] = w[((y * k + x) * cin + i) * cout + o]! * (scale ? scale[o]! : 1);
        }
  return out;
}

/** [kh, kw, out, in] → [in, out, kh, kw]. */
function convTransposeWeight(w: Float32Array, k: number, cout: number, cin: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let y = 0; y < k; y++)
    for (let x = 0; x < k; x++)
      for (let o = 0; o < cout; o++)
        for (let i = 0; i < cin; i++) out[((i * cout + o) * k + y) * k + x] = w[((y * k + x) * cout + o) * cin + i]!;
  return out;
}

export type TensorValues = (name: string) => Float32Array;

/** Plain values of every backbone tensor by name (parameters and BatchNorm statistics). */
export function netValues(net: Net): TensorValues {
  return (name) => {
    const v = net.params[name] ?? net.stats[name];
    if (!v) throw new Error(`ONNX export: the network has no tensor ${name}`);
    return v.dataSync() as Float32Array;
  };
}

/** The serialised ONNX model of the backbone (and optional 1×1 classifier) described by `u` and `values`. */
export function unetToOnnx(u: UNetConfig, values: TensorValues, opts: OnnxExportOptions = {}): Uint8Array {
  const ch = levelChannels(u);
  const nodes: Chunk[] = [];
  const inits: Chunk[] = [];
  let counter = 0;
  const fresh = (base: string): string => `${base}_${++counter}`;

  // One conv(3×3, same) + BN (folded) or bias + ReLU; returns the output name.
  const convBlock = (x: string, name: string, cin: number, cout: number): string => {
    const w = values(`${name}.w`);
    let scale: Float64Array | undefined;
    let bias: Float32Array;
    if (u.normalization === 'batch') {
      const gamma = values(`${name}.gamma`);
      const beta = values(`${name}.beta`);
      const mean = values(`${name}.mean`);
      const variance = values(`${name}.var`);
      scale = new Float64Array(cout);
      bias = new Float32Array(cout);
      for (let o = 0; o < cout; o++) {
        scale[o] = gamma[o]! / Math.sqrt(variance[o]! + u.bnEpsilon);
        bias[o] = beta[o]! - mean[o]! * scale[o]!;
      }
    } else bias = values(`${name}.b`);
    inits.push(initializer(`${name}.W`, [cout, cin, 3, 3], convWeight(w, 3, cin, cout, scale)), initializer(`${name}.B`, [cout], bias));
    const y = fresh(name);
    nodes.push(node('Conv', [x, `${name}.W`, `${name}.B`], [y], `${name}/conv`, [{ name: 'kernel_shape', ints: [3, 3] }, { name: 'pads', ints: [1, 1, 1, 1] }, { name: 'strides', ints: [1, 1] }]));
    const r = fresh(`${name}.relu`);
    nodes.push(node('Relu', [y], [r], `${name}/relu`));
    return r;
  };

  let h = 'image_nchw';
  nodes.push(node('Transpose', [ONNX_INPUT], [h], 'input/to_nchw', [{ name: 'perm', ints: [0, 3, 1, 2] }]));
  const skips: string[] = [];
  for (let l = 0; l < u.levels; l++) {
    if (l > 0) {
      const p = fresh(`enc${l}.pool`);
      nodes.push(node('MaxPool', [h], [p], `enc${l}/pool`, [{ name: 'kernel_shape', ints: [2, 2] }, { name: 'strides', ints: [2, 2] }]));
      h = p;
    }
    const cin = l === 0 ? u.inChannels : ch[l - 1]!;
    h = convBlock(h, `enc${l}.c1`, cin, ch[l]!);
    h = convBlock(h, `enc${l}.c2`, ch[l]!, ch[l]!);
    skips.push(h);
  }
  for (let l = u.levels - 2; l >= 0; l--) {
    const name = `dec${l}.up`;
    inits.push(initializer(`${name}.W`, [ch[l + 1]!, ch[l]!, 2, 2], convTransposeWeight(values(`${name}.w`), 2, ch[l]!, ch[l + 1]!)), initializer(`${name}.B`, [ch[l]!], values(`${name}.b`)));
    const up = fresh(name);
    nodes.push(node('ConvTranspose', [h, `${name}.W`, `${name}.B`], [up], `${name}/convtranspose`, [{ name: 'kernel_shape', ints: [2, 2] }, { name: 'strides', ints: [2, 2] }]));
    const cat = fresh(`dec${l}.concat`);
    // Skip first, upsampled second: the channel order of the tfjs graph, which the next conv's weights assume.
    nodes.push(node('Concat', [skips[l]!, up], [cat], `dec${l}/concat`, [{ name: 'axis', i: 1 }]));
    h = convBlock(cat, `dec${l}.c1`, 2 * ch[l]!, ch[l]!);
    h = convBlock(h, `dec${l}.c2`, ch[l]!, ch[l]!);
  }
  const pointwise = (x: string, name: string, w: Float32Array, b: Float32Array, cin: number, cout: number): string => {
    inits.push(initializer(`${name}.W`, [cout, cin, 1, 1], convWeight(w, 1, cin, cout)), initializer(`${name}.B`, [cout], b));
    const y = fresh(name);
    nodes.push(node('Conv', [x, `${name}.W`, `${name}.B`], [y], `${name}/conv`, [{ name: 'kernel_shape', ints: [1, 1] }]));
    return y;
  };
  h = pointwise(h, 'out', values('out.w'), values('out.b'), ch[0]!, u.embedding);
  let channels = u.embedding;
  if (opts.head) {
    h = pointwise(h, 'seg', opts.head.w, opts.head.b, u.embedding, opts.head.classes);
    channels = opts.head.classes;
  }
  const outName = onnxOutputName(!!opts.head);
  nodes.push(node('Transpose', [h], [outName], 'output/to_nhwc', [{ name: 'perm', ints: [0, 2, 3, 1] }]));

  const graph: Chunk[] = [
    ...nodes,
    stringField(2, opts.name ?? 'pix2rep_unet'),
    ...inits,
    valueInfo(11, ONNX_INPUT, ['batch', 'height', 'width', u.inChannels]),
    valueInfo(12, outName, ['batch', 'height', 'width', channels]),
  ];
  const meta = Object.entries(opts.metadata ?? {}).map(([k, v]) => messageField(14, [stringField(1, k), stringField(2, v)]));
  return concat([
    intField(1, IR_VERSION),
    stringField(2, 'pix2rep'),
    stringField(3, '1'),
    messageField(7, graph),
    messageField(8, [stringField(1, ''), intField(2, ONNX_OPSET)]),
    ...meta,
  ]);
}

/** Writes bytes atomically (temp file + rename), creating the folder. */
export async function writeOnnxFile(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}


/** A segmentation model (backbone + 1×1 classifier) as ONNX: output `logits` [N, H, W, K]. */
export function segmenterToOnnx(s: Segmenter, opts: Omit<OnnxExportOptions, 'head'> = {}): Uint8Array {
  const head = { w: s.head.w.dataSync() as Float32Array, b: s.head.b.dataSync() as Float32Array, classes: s.classes.length + 1 };
  return unetToOnnx(s.net.config.unet, netValues(s.net), { ...opts, head });
}

/** A backbone as ONNX: output `embedding` [N, H, W, D] (the projection head, if any, is left out). */
export function netToOnnx(net: Net, opts: Omit<OnnxExportOptions, 'head'> = {}): Uint8Array {
  return unetToOnnx(net.config.unet, netValues(net), opts);
}
