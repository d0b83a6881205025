import type { Command } from './command.js';

/** A sub-command as `--help` lists it; its module (and the engine parts it needs) loads only when it runs. */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

/**
 * Every `pix2rep` sub-command, in the order `--help` lists them. Loading is lazy because importing every
 * command pulls in the whole engine (tfjs, itk-wasm, SQLite): seconds of start-up for `--help`.
 * test/engine/cli/registry.test.ts checks that each entry's name and summary equal its command module's.
 */
export const commands: CommandEntry[] = [
  { name: 'serve', summary: 'Serve the workstation UI to a browser on this machine (127.0.0.1 only, per-run token).', load: async () => (await import('./commands/serve.js')).serveCommand },
  { name: 'doctor', summary: 'Check this machine: Node and Electron versions, compute backends, workspace.', load: async () => (await import('./commands/doctor.js')).doctorCommand },
  { name: 'import', summary: 'Import DICOM folders and NIfTI files into the workspace library (idempotent).', load: async () => (await import('./commands/import.js')).importCommand },
  { name: 'studies', summary: 'List the studies in the workspace library with their series, volumes and annotations.', load: async () => (await import('./commands/studies.js')).studiesCommand },
  { name: 'export', summary: "Write a study's, volume's or single annotation's label maps as NIfTI in the volume geometry.", load: async () => (await import('./commands/export.js')).exportCommand },
  { name: 'evaluate', summary: 'Compare predicted label maps with references: Dice and HD95 (mm) per structure, per volume and mean.', load: async () => (await import('./commands/evaluate.js')).evaluateCommand },
  { name: 'pretrain', summary: 'Pix2Rep self-supervised pretraining on the unlabeled volumes of the workspace.', load: async () => (await import('./commands/pretrain.js')).pretrainCommand },
  { name: 'jobs', summary: 'List, pause, resume, cancel and follow background jobs (pretraining, imports); run the job runner.', load: async () => (await import('./commands/jobs.js')).jobsCommand },
  { name: 'embed', summary: 'Embedding inspector: similarity maps of a pixel and 2D projections of pixel embeddings (NIfTI, PNG, CSV).', load: async () => (await import('./commands/embed.js')).embedCommand },
  { name: 'train', summary: 'Train a segmentation model (linear probe, fine-tuning, Mean Teacher or supervised) on the annotated slices.', load: async () => (await import('./commands/train.js')).trainCommand },
  { name: 'predict', summary: 'Segment NIfTI files or library volumes with a trained model; writes <name>_pred.nii.gz in the input geometry.', load: async () => (await import('./commands/predict.js')).predictCommand },
  { name: 'models', summary: 'List, export and import the models of the workspace (backbones and segmentation models).', load: async () => (await import('./commands/models.js')).modelsCommand },
  { name: 'experiment', summary: "Run the paper's ACDC protocol (pretraining, few-shot methods, test Dice) and write the table.", load: async () => (await import('./commands/experiment.js')).experimentCommand },
  { name: 'bench', summary: 'Measure speed on this machine: U-Net training step and inference, import, library latency, embeddings, augmentation.', load: async () => (await import('./commands/bench.js')).benchCommand },
];
