/**
 * What each `pix2rep` sub-command does, in one line: `--help` lists these, and each command module shows its
 * own. Kept apart from the modules so `--help` prints them without loading the engine, and written once.
 */
export const SUMMARIES = {
  serve: 'Serve the workstation UI to a browser on this machine (127.0.0.1 only, per-run token).',
  doctor: 'Check this machine: Node and Electron versions, compute backends, workspace.',
  import: 'Import DICOM folders and NIfTI files into the workspace library (idempotent).',
  studies: 'List the studies in the workspace library with their series, volumes and annotations.',
  export: "Write a study's, volume's or single annotation's label maps as NIfTI in the volume geometry.",
  evaluate: 'Compare predicted label maps with references: Dice and HD95 (mm) per structure, per volume and mean.',
  pretrain: 'Pix2Rep self-supervised pretraining on the unlabeled volumes of the workspace.',
  jobs: 'List, pause, resume, cancel and follow background jobs (pretraining, imports); run the job runner.',
  embed: 'Embedding inspector: similarity maps of a pixel and 2D projections of pixel embeddings (NIfTI, PNG, CSV).',
  train: 'Train a segmentation model (linear probe, fine-tuning, Mean Teacher or supervised) on the annotated slices.',
  predict: 'Segment NIfTI files or library volumes with a trained model; writes <name>_pred.nii.gz in the input geometry.',
  models: 'List, export and import the models of the workspace (backbones and segmentation models).',
  experiment: "Run the paper's ACDC protocol (pretraining, few-shot methods, test Dice) and write the table.",
  bench: 'Measure speed on this machine: U-Net training step and inference, import, library latency, embeddings, augmentation.',
} as const;

export type CommandName = keyof typeof SUMMARIES;
