import { mkdirSync } from 'node:fs';
import { newId } from '../../main/library/catalog.js';
import { openLibrary } from '../../main/library/library.js';
import { JobStore } from '../../main/jobs/store.js';
import { pretrainConfig } from '../../main/ml/config.js';

/**
 * A finished compact pretraining as the runner leaves it in the catalogue: a done job with one progress point
 * per recorded throughput (slices/s), its result configuration, and the backbone model row pointing at the
 * job's folder (created, empty: a test writes readout.json there or not).
 */
export function finishedPretrainRun(workspace: string, name: string, rates: number[], workers = 1): { jobId: string; modelId: string; dir: string } {
  const lib = openLibrary(workspace);
  const store = new JobStore(lib.db, lib.layout.root);
  try {
    const job = store.create({ kind: 'pretrain', name, params: { method: 'pix2rep', preset: 'compact', steps: rates.length, ...(workers > 1 ? { workers } : {}) } });
    rates.forEach((r, i) => store.recordProgress(job.id, null, { kind: 'step', step: i + 1, loss: 7, slicesPerSecond: r }));
    store.update(job.id, {
      status: 'done',
      step: rates.length,
      result: JSON.stringify({ step: rates.length, workers, config: pretrainConfig('compact') }),
      finished_at: new Date().toISOString(),
    });
    const modelId = newId('model');
    const now = new Date().toISOString();
    lib.db
      .prepare("INSERT INTO models (id, name, kind, status, config, metrics, path, created_at, updated_at) VALUES (?, ?, 'pretrain', 'ready', ?, '{}', ?, ?, ?)")
      .run(modelId, name, JSON.stringify(pretrainConfig('compact')), job.path, now, now);
    store.update(job.id, { model_id: modelId });
    const dir = lib.abs(job.path!);
    mkdirSync(dir, { recursive: true });
    return { jobId: job.id, modelId, dir };
  } finally {
    lib.close();
  }
}
