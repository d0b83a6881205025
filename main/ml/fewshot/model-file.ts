import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { tf } from '../tf.js';
import type { ModelConfig, PreprocessConfig } from '../config.js';
import { writeFileAtomic } from '../../library/atomic.js';
import { EngineFailure } from '../../engine/errors.js';
import type { LabelInfo } from '../../library/catalog.js';
import { createSegmenter, segmenterTensors, type Segmenter } from './segmenter.js';
import type { TrainingRecord } from './train.js';

/**
 * Segmentation model file: "P2RSEG01", uint32 LE header length, UTF-8 JSON header, zero padding to a multiple
 * of 4, float32 LE tensors. Self-contained: the header holds everything inference needs (architecture,
 * preprocessing, classes and their names) and the training record; written atomically.
 */
const MAGIC = 'P2RSEG01';
export const MODEL_FILE = 'model.p2s';

export interface ModelHeader {
  format: 1;
  kind: 'pix2rep-segmenter';
  createdAt: string;
  model: ModelConfig;
  preprocess: PreprocessConfig;
  /** Label values of classes 1..K−1. */
  classes: number[];
  labels: LabelInfo[];
  record: TrainingRecord;
  tensors: Array<{ name: string; shape: number[]; offset: number }>;
}

export interface ModelFile {
  header: ModelHeader;
  data: Float32Array;
}

export function encodeModel(s: Segmenter, meta: Pick<ModelHeader, 'preprocess' | 'labels' | 'record'>): Buffer {
  const tensors: ModelHeader['tensors'] = [];
  const parts: Float32Array[] = [];
  let offset = 0;
  for (const [name, v] of segmenterTensors(s)) {
    const values = v.dataSync() as Float32Array;
    tensors.push({ name, shape: [...v.shape], offset });
    parts.push(values);
    offset += values.length;
  }
  const header: ModelHeader = { format: 1, kind: 'pix2rep-segmenter', createdAt: new Date().toISOString(), model: s.net.config, classes: s.classes, ...meta, tensors };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const start = 12 + json.length + ((4 - ((12 + json.length) % 4)) % 4);
  const buf = Buffer.alloc(start + offset * 4);
  buf.write(MAGIC, 0, 'latin1');
  buf.writeUInt32LE(json.length, 8);
  json.copy(buf, 12);
  let at = start;
  for (const p of parts) {
    if (endianness() === 'LE') Buffer.from(p.buffer, p.byteOffset, p.byteLength).copy(buf, at);
    else for (let i = 0; i < p.length; i++) buf.writeFloatLE(p[i]!, at + 4 * i);
    at += p.byteLength;
  }
  return buf;
}

export function decodeModel(buf: Buffer, path: string): ModelFile {
  if (buf.length < 12 || buf.toString('latin1', 0, 8) !== MAGIC) throw new EngineFailure('BAD_INPUT', `${path}: not a Pix2Rep segmentation model (bad magic)`);
  const len = buf.readUInt32LE(8);
  if (12 + len > buf.length) throw new EngineFailure('BAD_INPUT', `${path}: truncated model header`);
  let header: ModelHeader;
  try {
    header = JSON.parse(buf.toString('utf8', 12, 12 + len)) as ModelHeader;
  } catch {
    throw new EngineFailure('BAD_INPUT', `${path}: model header is not valid JSON`);
  }
  if (header.format !== 1 || header.kind !== 'pix2rep-segmenter') throw new EngineFailure('BAD_INPUT', `${path}: unsupported model format ${header.format}/${header.kind}`);
  const start = 12 + len + ((4 - ((12 + len) % 4)) % 4);
  const count = header.tensors.reduce((n, t) => Math.max(n, t.offset + t.shape.reduce((a, b) => a * b, 1)), 0);
  if (start + 4 * count > buf.length) throw new EngineFailure('BAD_INPUT', `${path}: truncated model data (${buf.length} bytes, need ${start + 4 * count})`);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = buf.readFloatLE(start + 4 * i);
  return { header, data };
}

export function writeModelFile(path: string, s: Segmenter, meta: Pick<ModelHeader, 'preprocess' | 'labels' | 'record'>): void {
  writeFileAtomic(path, encodeModel(s, meta));
}

export async function readModelFile(path: string): Promise<ModelFile> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw new EngineFailure('NOT_FOUND', `cannot read model ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return decodeModel(buf, path);
}

/** A segmenter with the file's weights. */
export function segmenterFromFile(file: ModelFile, path = 'model'): Segmenter {
  const s = createSegmenter(file.header.model, file.header.classes, 0);
  for (const [name, v] of segmenterTensors(s)) {
    const e = file.header.tensors.find((t) => t.name === name);
    if (!e) throw new EngineFailure('BAD_INPUT', `${path}: model has no tensor ${name}`);
    if (e.shape.join('x') !== v.shape.join('x')) throw new EngineFailure('BAD_INPUT', `${path}: tensor ${name} is ${e.shape.join('x')}, expected ${v.shape.join('x')}`);
    const n = e.shape.reduce((a, b) => a * b, 1);
    const t = tf.tensor(file.data.subarray(e.offset, e.offset + n), v.shape, 'float32');
    v.assign(t);
    t.dispose();
  }
  return s;
}
