import { parentPort } from 'node:worker_threads';
import { initBackend } from '../backends/init.js';
import type { LossConfig } from '../config.js';
import { Adam } from '../pretrain/adam.js';
import { microBatchGrads } from '../pretrain/step.js';
import { tf } from '../tf.js';
import { createNet, type Net } from '../unet.js';
import type { FromWorker, NamedArrays, ToWorker } from './protocol.js';

/**
 * One data-parallel training worker: its own tfjs (and wasm) instance, a full copy of the network and of the
 * Adam state. It computes gradients on its shard, then applies the averaged gradient it is sent; every worker
 * applies the same update to the same weights with the same code, so the copies stay bit-identical.
 */

const port = parentPort;
if (!port) throw new Error('parallel/worker.ts must run in a worker thread');

let net: Net | null = null;
let adam: Adam | null = null;
let loss: LossConfig | null = null;

function assignAll(dict: Record<string, tf.Variable>, values: NamedArrays): void {
  for (const [name, data] of values) {
    const v = dict[name];
    if (!v) continue;
    const t = tf.tensor(data, v.shape, 'float32');
    v.assign(t);
    t.dispose();
  }
}

const read = (dict: Record<string, tf.Variable>): NamedArrays => Object.entries(dict).map(([n, v]) => [n, v.dataSync().slice() as Float32Array]);

async function handle(msg: ToWorker): Promise<FromWorker | null> {
  switch (msg.type) {
    case 'init': {
      const active = await initBackend(msg.backend ? { backend: msg.backend } : {});
      net = createNet(msg.model, 0, true);
      assignAll(net.params, msg.tensors);
      assignAll(net.stats, msg.tensors);
      adam = new Adam(msg.optimizer, net.params);
      if (msg.adam) {
        assignAll(adam.m, msg.adam.m);
        assignAll(adam.v, msg.adam.v);
        adam.step = msg.adam.step;
      }
      loss = msg.loss;
      return { type: 'ready', backend: active.name };
    }
    case 'grad': {
      if (!net || !loss) throw new Error('worker not initialised');
      const n = net;
      const cfg = loss;
      const { loss: value, grads } = microBatchGrads(n, msg.views, msg.pairs, cfg, msg.microBatches ?? 1);
      try {
        return {
          type: 'grad',
          loss: value,
          pairs: msg.pairs.batch.length,
          grads: Object.entries(grads).map(([k, g]) => [k, g.dataSync().slice() as Float32Array]),
          // The running statistics this shard's batch moved to: the parent averages them over workers.
          stats: read(n.stats),
        };
      } finally {
        tf.dispose(Object.values(grads));
      }
    }
    case 'apply': {
      if (!net || !adam) throw new Error('worker not initialised');
      assignAll(net.stats, msg.stats);
      const grads: Record<string, tf.Tensor> = {};
      for (const [k, g] of msg.grads) grads[k] = tf.tensor(g, net.params[k]!.shape, 'float32');
      try {
        adam.apply(net.params, grads);
      } finally {
        tf.dispose(Object.values(grads));
      }
      return { type: 'applied' };
    }
    case 'weights': {
      if (!net) throw new Error('worker not initialised');
      return { type: 'weights', tensors: [...read(net.params), ...read(net.stats)] };
    }
    case 'close':
      port!.close();
      return null;
  }
}

port.on('message', (msg: ToWorker) => {
  handle(msg).then(
    (reply) => {
      if (!reply) return;
      const transfer = reply.type === 'grad' ? [...reply.grads, ...reply.stats].map(([, a]) => a.buffer as ArrayBuffer) : reply.type === 'weights' ? reply.tensors.map(([, a]) => a.buffer as ArrayBuffer) : [];
      port.postMessage(reply, transfer);
    },
    (err: unknown) => port.postMessage({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies FromWorker),
  );
});
