import { openLibrary } from '../../library/library.js';
import { EngineFailure } from '../../engine/errors.js';
import { disposeSegmenter } from './segmenter.js';
import { fewShotConfig, needsBackbone, type FewShotMode, type FewShotOverrides } from './config.js';
import { resolveBackbone, saveSegmenter, workspaceTrainingData } from './library.js';
import { configForBackbone, runFewShot, type TrainingRecord, type TrainProgress } from './train.js';

/**
 * Train-in-a-workspace, the entry point the CLI, the contract handlers and the job runner share: a plain
 * async function with a progress callback and an AbortSignal. The catalogue is opened only around reads and
 * the final write, so a long run does not hold the database.
 */

export interface WorkspaceTrainOptions {
  mode: FewShotMode;
  /** Pretrained backbone: library model id/name, models/ folder name or checkpoint path. */
  backbone?: string;
  /** Study ids, UIDs or patient names; all studies when absent. */
  studies?: string[];
  /** Model name (default: the mode and the date). */
  name?: string;
  overrides?: FewShotOverrides;
  signal?: AbortSignal;
  onProgress?: (p: TrainProgress) => void;
  onLog?: (text: string) => void;
}

export interface WorkspaceTrainResult {
  modelId: string | null;
  name: string;
  record: TrainingRecord;
}

export async function trainInWorkspace(workspace: string, opts: WorkspaceTrainOptions): Promise<WorkspaceTrainResult> {
  let cfg = fewShotConfig(opts.mode, opts.overrides ?? {});
  const lib = openLibrary(workspace);
  let backbone = null;
  let data;
  try {
    if (opts.backbone) backbone = resolveBackbone(lib, opts.backbone);
    else if (needsBackbone(cfg)) throw new EngineFailure('BAD_INPUT', `mode ${opts.mode} needs a pretrained backbone (--backbone MODEL; see pix2rep models list)`);
    cfg = await configForBackbone(cfg, backbone?.path ?? null);
    data = await workspaceTrainingData(lib, cfg.preprocess, opts.studies);
  } finally {
    lib.close();
  }
  if (data.labeled.length === 0) throw new EngineFailure('BAD_INPUT', `no annotated slices in ${opts.studies?.length ? `studies ${opts.studies.join(', ')}` : 'the workspace'}: draw or import annotations first`);
  opts.onLog?.(`${data.labeled.length} annotated slices from ${new Set(data.labeled.map((s) => s.volumeId)).size} volumes; classes ${data.classes.join(', ')}${backbone ? `; backbone ${backbone.path}` : ''}`);
  const { segmenter, record } = await runFewShot({
    config: cfg,
    data: { labeled: data.labeled, classes: data.classes, unlabeled: cfg.mode === 'mean-teacher' ? (data.unlabeled ?? undefined) : undefined, description: `workspace ${workspace}` },
    backbone,
    signal: opts.signal,
    onProgress: opts.onProgress,
  });
  const name = opts.name ?? `${opts.mode}-${new Date().toISOString().slice(0, 16).replace('T', '-').replace(':', '')}`;
  try {
    if (record.stopped === 'cancelled') return { modelId: null, name, record };
    const lib2 = openLibrary(workspace);
    try {
      const modelId = saveSegmenter(lib2, segmenter, { name, record, labels: data.labels, preprocess: cfg.preprocess });
      return { modelId, name, record };
    } finally {
      lib2.close();
    }
  } finally {
    disposeSegmenter(segmenter);
  }
}
