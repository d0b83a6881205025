import { tf } from './tf.js';
import type { ModelConfig, UNetConfig, HeadConfig } from './config.js';
import { Rng } from './augment/rng.js';
import { batchNormTrain } from './kernels/batchNorm.js';

/**
 * The 2D U-Net backbone f and the projection head g as plain functions over a dictionary of named tensors.
 * No layers library: weights serialise as (name, shape, float32) triples and map one-to-one onto ONNX
 * initialisers. Tensors are NHWC; conv filters are [kh, kw, in, out]; transposed-conv filters [kh, kw, out, in].
 *
 * Naming: enc{l}.c{1,2}.{w,gamma,beta} (level l = 0 is full resolution), dec{l}.up.{w,b} (2×2 stride-2
 * transposed conv from level l+1 to l), dec{l}.c{1,2}.*, out.{w,b} (1×1 conv to D channels),
 * head.c1.{w,gamma,beta}, head.c2.{w,b}. BatchNorm running statistics: {layer}.mean, {layer}.var.
 */

export type Init = 'he' | 'zeros' | 'ones';

export interface TensorSpec {
  name: string;
  shape: number[];
  init: Init;
  /** He fan-in for 'he'. */
  fanIn?: number;
  /** false for BatchNorm running statistics. */
  trainable: boolean;
}

export interface Net {
  config: ModelConfig;
  /** Trainable parameters, in spec order. */
  params: Record<string, tf.Variable>;
  /** BatchNorm running statistics (not trained, updated in training mode). */
  stats: Record<string, tf.Variable>;
}

export interface ForwardOptions {
  /** Batch statistics and running-statistic updates (true) or running statistics only (false). */
  training: boolean;
  /**
   * Training-mode BatchNorm through tf.moments differentiated by tfjs instead of the closed-form gradient of
   * kernels/batchNorm.ts: the reference the fused path is tested against (same values, ~15% slower step).
   */
  autodiffBatchNorm?: boolean;
}

export function levelChannels(u: UNetConfig): number[] {
  return Array.from({ length: u.levels }, (_, l) => u.base * 2 ** l);
}

function convSpecs(name: string, k: number, cin: number, cout: number, norm: boolean): TensorSpec[] {
  const s: TensorSpec[] = [{ name: `${name}.w`, shape: [k, k, cin, cout], init: 'he', fanIn: k * k * cin, trainable: true }];
  if (norm) {
    // A conv bias before BatchNorm is cancelled by the mean subtraction: omitted.
    s.push(
      { name: `${name}.gamma`, shape: [cout], init: 'ones', trainable: true },
      { name: `${name}.beta`, shape: [cout], init: 'zeros', trainable: true },
      { name: `${name}.mean`, shape: [cout], init: 'zeros', trainable: false },
      { name: `${name}.var`, shape: [cout], init: 'ones', trainable: false },
    );
  } else {
    s.push({ name: `${name}.b`, shape: [cout], init: 'zeros', trainable: true });
  }
  return s;
}

/** The backbone's tensors, in a fixed order. */
export function unetSpecs(u: UNetConfig): TensorSpec[] {
  const ch = levelChannels(u);
  const norm = u.normalization === 'batch';
  const specs: TensorSpec[] = [];
  for (let l = 0; l < u.levels; l++) {
    const cin = l === 0 ? u.inChannels : ch[l - 1]!;
    specs.push(...convSpecs(`enc${l}.c1`, 3, cin, ch[l]!, norm), ...convSpecs(`enc${l}.c2`, 3, ch[l]!, ch[l]!, norm));
  }
  for (let l = u.levels - 2; l >= 0; l--) {
    specs.push(
      { name: `dec${l}.up.w`, shape: [2, 2, ch[l]!, ch[l + 1]!], init: 'he', fanIn: 4 * ch[l + 1]!, trainable: true },
      { name: `dec${l}.up.b`, shape: [ch[l]!], init: 'zeros', trainable: true },
      ...convSpecs(`dec${l}.c1`, 3, 2 * ch[l]!, ch[l]!, norm),
      ...convSpecs(`dec${l}.c2`, 3, ch[l]!, ch[l]!, norm),
    );
  }
  specs.push(
    { name: 'out.w', shape: [1, 1, ch[0]!, u.embedding], init: 'he', fanIn: ch[0]!, trainable: true },
    { name: 'out.b', shape: [u.embedding], init: 'zeros', trainable: true },
  );
  return specs;
}

/** The projection head's tensors (pretraining only). */
export function headSpecs(embedding: number, h: HeadConfig): TensorSpec[] {
  return [
    ...convSpecs('head.c1', 1, embedding, h.hidden, true),
    { name: 'head.c2.w', shape: [1, 1, h.hidden, h.out], init: 'he', fanIn: h.hidden, trainable: true },
    { name: 'head.c2.b', shape: [h.out], init: 'zeros', trainable: true },
  ];
}

export function modelSpecs(cfg: ModelConfig, withHead = true): TensorSpec[] {
  return [...unetSpecs(cfg.unet), ...(withHead ? headSpecs(cfg.unet.embedding, cfg.head) : [])];
}

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** Trainable parameter count from the configuration alone (nothing is allocated). */
export function countParams(cfg: ModelConfig, withHead = false): number {
  return modelSpecs(cfg, withHead)
    .filter((s) => s.trainable)
    .reduce((n, s) => n + size(s.shape), 0);
}

/** Initial values of one spec; He-normal draws come from `rng` so a seed reproduces the initial weights. */
export function initialValues(spec: TensorSpec, rng: Rng): Float32Array {
  const v = new Float32Array(size(spec.shape));
  if (spec.init === 'ones') v.fill(1);
  else if (spec.init === 'he') {
    const std = Math.sqrt(2 / (spec.fanIn ?? 1));
    for (let i = 0; i < v.length; i++) v[i] = std * rng.normal();
  }
  return v;
}

let netCounter = 0;

/**
 * Allocates a network (backbone + head unless `withHead` is false) with He-initialised weights. tfjs variable
 * names are global, so each net's variables get a unique prefix; the dictionaries are keyed by the plain name.
 */
export function createNet(cfg: ModelConfig, seed: number, withHead = true): Net {
  const rng = new Rng(seed);
  const prefix = `net${++netCounter}/`;
  const net: Net = { config: cfg, params: {}, stats: {} };
  for (const spec of modelSpecs(cfg, withHead)) {
    const t = tf.tensor(initialValues(spec, rng), spec.shape, 'float32');
    const v = tf.variable(t, spec.trainable, prefix + spec.name);
    t.dispose();
    (spec.trainable ? net.params : net.stats)[spec.name] = v;
  }
  return net;
}

export function disposeNet(net: Net): void {
  for (const v of Object.values(net.params)) v.dispose();
  for (const v of Object.values(net.stats)) v.dispose();
}

function need(dict: Record<string, tf.Variable>, name: string): tf.Variable {
  const v = dict[name];
  if (!v) throw new Error(`network has no tensor named ${name}`);
  return v;
}

/**
 * BatchNorm over every axis but the last. In training mode the batch moments normalise and the running
 * statistics move towards them (unbiased variance, as PyTorch does); in eval mode the running ones are used.
 */
function batchNorm(net: Net, x: tf.Tensor, name: string, opt: ForwardOptions, eps: number, momentum: number): tf.Tensor {
  const gamma = need(net.params, `${name}.gamma`);
  const beta = need(net.params, `${name}.beta`);
  const runMean = need(net.stats, `${name}.mean`);
  const runVar = need(net.stats, `${name}.var`);
  let mean: tf.Tensor;
  let variance: tf.Tensor;
  let fused: tf.Tensor | null = null;
  if (opt.training) {
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    if (opt.autodiffBatchNorm) {
      const m = tf.moments(x, axes);
      mean = m.mean;
      variance = m.variance;
    } else {
      const r = batchNormTrain(x, gamma as unknown as tf.Tensor1D, beta as unknown as tf.Tensor1D, eps);
      fused = r.y;
      mean = r.mean;
      variance = r.variance;
    }
    const n = x.size / x.shape[x.shape.length - 1]!;
    const unbias = n > 1 ? n / (n - 1) : 1;
    // Running statistics are state: these ops do not lead to the loss, so backprop never visits them.
    const newMean = tf.tidy(() => tf.add(tf.mul(runMean, 1 - momentum), tf.mul(mean, momentum)));
    const newVar = tf.tidy(() => tf.add(tf.mul(runVar, 1 - momentum), tf.mul(variance, momentum * unbias)));
    runMean.assign(newMean);
    runVar.assign(newVar);
    newMean.dispose();
    newVar.dispose();
  } else {
    mean = runMean;
    variance = runVar;
  }
  if (fused) return fused;
  // (x − m)·γ/√(v+ε) + β folded into one per-channel scale and shift: two full-size ops (and two full-size
  // reductions in the backward pass) instead of four.
  const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, eps)));
  const shift = tf.sub(beta, tf.mul(mean, scale));
  return tf.add(tf.mul(x, scale), shift);
}

function conv(net: Net, x: tf.Tensor4D, name: string, opt: ForwardOptions, u: Pick<UNetConfig, 'normalization' | 'bnEpsilon' | 'bnMomentum'>): tf.Tensor4D {
  const w = need(net.params, `${name}.w`) as unknown as tf.Tensor4D;
  const y = tf.conv2d(x, w, 1, 'same');
  const z = u.normalization === 'batch' ? batchNorm(net, y, name, opt, u.bnEpsilon, u.bnMomentum) : tf.add(y, need(net.params, `${name}.b`));
  return tf.relu(z) as tf.Tensor4D;
}

/** f: [B, H, W, inChannels] → [B, H, W, D]. H and W must be divisible by 2^(levels−1). */
export function unetForward(net: Net, x: tf.Tensor4D, opt: ForwardOptions): tf.Tensor4D {
  const u = net.config.unet;
  const div = 2 ** (u.levels - 1);
  if (x.shape[1] % div !== 0 || x.shape[2] % div !== 0) {
    throw new Error(`U-Net input ${x.shape[1]}×${x.shape[2]} is not divisible by ${div} (${u.levels} levels)`);
  }
  const ch = levelChannels(u);
  const skips: tf.Tensor4D[] = [];
  let h = x;
  for (let l = 0; l < u.levels; l++) {
    if (l > 0) h = tf.maxPool(h, 2, 2, 'valid');
    h = conv(net, h, `enc${l}.c1`, opt, u);
    h = conv(net, h, `enc${l}.c2`, opt, u);
    skips.push(h);
  }
  for (let l = u.levels - 2; l >= 0; l--) {
    const w = need(net.params, `dec${l}.up.w`) as unknown as tf.Tensor4D;
    const [b, hh, ww] = h.shape;
    const up = tf.add(tf.conv2dTranspose(h, w, [b, hh * 2, ww * 2, ch[l]!], 2, 'valid'), need(net.params, `dec${l}.up.b`)) as tf.Tensor4D;
    h = tf.concat([skips[l]!, up], 3);
    h = conv(net, h, `dec${l}.c1`, opt, u);
    h = conv(net, h, `dec${l}.c2`, opt, u);
  }
  const wOut = need(net.params, 'out.w') as unknown as tf.Tensor4D;
  return tf.add(tf.conv2d(h, wOut, 1, 'same'), need(net.params, 'out.b')) as tf.Tensor4D;
}

/**
 * g on pixel vectors [N, D] → [N, out]: 1×1 conv, BN, ReLU, 1×1 conv. Applied to the sampled pixels only
 * (a 1×1 conv is per-pixel, so this equals the full map at those pixels up to BN batch statistics).
 */
export function headForward(net: Net, h: tf.Tensor2D, opt: ForwardOptions): tf.Tensor2D {
  const { embedding } = net.config.unet;
  const { hidden, out } = net.config.head;
  const w1 = tf.reshape(need(net.params, 'head.c1.w'), [embedding, hidden]) as tf.Tensor2D;
  let y: tf.Tensor = tf.matMul(h, w1);
  y = tf.relu(batchNorm(net, y, 'head.c1', opt, net.config.unet.bnEpsilon, net.config.unet.bnMomentum));
  const w2 = tf.reshape(need(net.params, 'head.c2.w'), [hidden, out]) as tf.Tensor2D;
  return tf.add(tf.matMul(y as tf.Tensor2D, w2), need(net.params, 'head.c2.b')) as tf.Tensor2D;
}

/** Gradients from `tf.variableGrads` (keyed by tfjs variable name) keyed by parameter name. */
export function gradsByParam(net: Net, grads: tf.NamedTensorMap): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [name, v] of Object.entries(net.params)) {
    const g = grads[v.name];
    if (g) out[name] = g;
  }
  return out;
}

/** All tensors of a network by name (parameters then statistics), for checkpoints and export. */
export function netTensors(net: Net): [string, tf.Variable][] {
  return [...Object.entries(net.params), ...Object.entries(net.stats)];
}
