import { open, readFile, rename, rm } from 'node:fs/promises';
import { endianness } from 'node:os';
import { dirname, basename, join } from 'node:path';
import { tf } from '../tf.js';
import type { PretrainConfig } from '../config.js';
import type { Net } from '../unet.js';
import type { Adam } from './adam.js';
import type { DataProvenance } from './source.js';

/**
 * Checkpoint file: "P2RCKPT1", uint32 LE header length, UTF-8 JSON header, zero padding to a multiple of 4,
 * then float32 LE tensor data at the offsets the header lists. One file, written to a temporary name and
 * renamed, so a killed run leaves either the previous checkpoint or the new one, never half of one.
 */
const MAGIC = 'P2RCKPT1';
const HOST_LE = endianness() === 'LE';

export type TensorGroup = 'param' | 'stat' | 'adam_m' | 'adam_v';

export interface TensorEntry {
  name: string;
  group: TensorGroup;
  shape: number[];
  /** Offset in float32 elements from the start of the data section. */
  offset: number;
}

export interface HistoryPoint {
  step: number;
  loss: number;
}

export interface ValidationPoint {
  step: number;
  epoch: number;
  loss: number;
}

export interface CheckpointHeader {
  format: 1;
  kind: 'pix2rep-pretrain';
  createdAt: string;
  backend: string;
  /** Optimisation steps completed. */
  step: number;
  /** Completed epochs (fractional while an epoch is under way). */
  epoch: number;
  adamStep: number;
  /** Random state: every stream is derived from the seed and (stream, step), so this is all there is to restore. */
  rng: { seed: number; scheme: 'mulberry32(deriveSeed(seed, stream, index))' };
  config: PretrainConfig;
  provenance: DataProvenance;
  split: { train: number; validation: number };
  /**
   * Fingerprint of the validation slices' ids (absent in checkpoints before 26 Nov): a best validation loss is
   * only comparable with losses on the same slices.
   */
  validationSet?: string;
  history: HistoryPoint[];
  validation: ValidationPoint[];
  bestValidationLoss: number | null;
  tensors: TensorEntry[];
}

export interface Checkpoint {
  header: CheckpointHeader;
  data: Float32Array;
}

export function tensorData(ck: Checkpoint, name: string, group: TensorGroup): Float32Array {
  const e = ck.header.tensors.find((t) => t.name === name && t.group === group);
  if (!e) throw new Error(`checkpoint has no ${group} tensor ${name}`);
  const n = e.shape.reduce((a, b) => a * b, 1);
  return ck.data.subarray(e.offset, e.offset + n);
}

/** Serialises a network (and optionally its optimiser) with the given metadata. */
export function buildCheckpoint(net: Net, adam: Adam | null, meta: Omit<CheckpointHeader, 'tensors' | 'format' | 'kind' | 'createdAt' | 'adamStep'>): Checkpoint {
  const parts: { entry: TensorEntry; values: Float32Array }[] = [];
  let offset = 0;
  const add = (name: string, group: TensorGroup, v: tf.Tensor) => {
    const values = v.dataSync() as Float32Array;
    parts.push({ entry: { name, group, shape: [...v.shape], offset }, values });
    offset += values.length;
  };
  for (const [name, v] of Object.entries(net.params)) add(name, 'param', v);
  for (const [name, v] of Object.entries(net.stats)) add(name, 'stat', v);
  if (adam) {
    for (const [name, v] of Object.entries(adam.m)) add(name, 'adam_m', v);
    for (const [name, v] of Object.entries(adam.v)) add(name, 'adam_v', v);
  }
  const data = new Float32Array(offset);
  for (const p of parts) data.set(p.values, p.entry.offset);
  return {
    header: { format: 1, kind: 'pix2rep-pretrain', createdAt: new Date().toISOString(), adamStep: adam?.step ?? 0, ...meta, tensors: parts.map((p) => p.entry) },
    data,
  };
}

export function encodeCheckpoint(ck: Checkpoint): Buffer {
  const json = Buffer.from(JSON.stringify(ck.header), 'utf8');
  const headerEnd = 8 + 4 + json.length;
  const pad = (4 - (headerEnd % 4)) % 4;
  const buf = Buffer.alloc(headerEnd + pad + ck.data.length * 4);
  buf.write(MAGIC, 0, 'latin1');
  buf.writeUInt32LE(json.length, 8);
  json.copy(buf, 12);
  const start = headerEnd + pad;
  if (HOST_LE) Buffer.from(ck.data.buffer, ck.data.byteOffset, ck.data.byteLength).copy(buf, start);
  else for (let i = 0; i < ck.data.length; i++) buf.writeFloatLE(ck.data[i]!, start + 4 * i);
  return buf;
}

export function decodeCheckpoint(buf: Buffer, path = 'checkpoint'): Checkpoint {
  if (buf.length < 12 || buf.toString('latin1', 0, 8) !== MAGIC) throw new Error(`${path}: not a Pix2Rep checkpoint (bad magic)`);
  const len = buf.readUInt32LE(8);
  if (12 + len > buf.length) throw new Error(`${path}: truncated checkpoint header`);
  let header: CheckpointHeader;
  try {
    header = JSON.parse(buf.toString('utf8', 12, 12 + len)) as CheckpointHeader;
  } catch {
    throw new Error(`${path}: checkpoint header is not valid JSON`);
  }
  if (header.format !== 1 || header.kind !== 'pix2rep-pretrain') throw new Error(`${path}: unsupported checkpoint format ${header.format}/${header.kind}`);
  const start = 12 + len + ((4 - ((12 + len) % 4)) % 4);
  const count = header.tensors.reduce((n, t) => Math.max(n, t.offset + t.shape.reduce((a, b) => a * b, 1)), 0);
  if (start + 4 * count > buf.length) throw new Error(`${path}: truncated checkpoint data (${buf.length} bytes, need ${start + 4 * count})`);
  const data = new Float32Array(count);
  if (HOST_LE) new Uint8Array(data.buffer).set(buf.subarray(start, start + 4 * count));
  else for (let i = 0; i < count; i++) data[i] = buf.readFloatLE(start + 4 * i);
  return { header, data };
}

/** Writes atomically: temporary file in the same directory, fsync, rename over the target. */
export async function writeCheckpoint(path: string, ck: Checkpoint): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(encodeCheckpoint(ck));
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
}

export async function readCheckpoint(path: string): Promise<Checkpoint> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw new Error(`cannot read checkpoint ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return decodeCheckpoint(buf, path);
}

/** Copies the checkpoint's tensors into an allocated network (and optimiser); shapes must match. */
export function restoreInto(ck: Checkpoint, net: Net, adam: Adam | null): void {
  const put = (dict: Record<string, tf.Variable>, group: TensorGroup) => {
    for (const [name, v] of Object.entries(dict)) {
      const e = ck.header.tensors.find((t) => t.name === name && t.group === group);
      if (!e) throw new Error(`checkpoint has no ${group} tensor ${name}`);
      if (e.shape.join('x') !== v.shape.join('x')) throw new Error(`checkpoint ${group} tensor ${name} has shape ${e.shape.join('x')}, network expects ${v.shape.join('x')}`);
      const t = tf.tensor(tensorData(ck, name, group), v.shape, 'float32');
      v.assign(t);
      t.dispose();
    }
  };
  put(net.params, 'param');
  put(net.stats, 'stat');
  if (adam) {
    put(adam.m, 'adam_m');
    put(adam.v, 'adam_v');
    adam.step = ck.header.adamStep;
  }
}
