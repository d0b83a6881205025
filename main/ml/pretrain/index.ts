export { runPretraining, loadPretrainedNet, LAST, BEST, type PretrainOptions, type PretrainProgress, type PretrainResult, type StopReason } from './loop.js';
export { arraySliceSource, niftiSliceSource, findNiftiImages, splitSlices, VolumePreprocessor, type SliceSource, type SliceRef, type DataProvenance } from './source.js';
export { readCheckpoint, writeCheckpoint, type Checkpoint, type CheckpointHeader } from './checkpoint.js';
export { Adam } from './adam.js';
export { batchLoss, embedPairs, prepareBatch, samplePixelPairs, trainStep, type BatchViews, type PixelPairs } from './step.js';
