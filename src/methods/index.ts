// Training methods over one shared trainer: config, data pipeline, checkpoints, run directories, registry.
export {
  type TrainConfig, type LossConfig, type ModelConfig, type LossName, DEFAULTS, DEFAULT_LOSS, ConfigError, mergeConfig, validateConfig, buildConfig,
} from './config.ts';
export { type ResolvedConfig, resolveConfig, resolvePreprocessing, autoPatchSize, sizeMultiple } from './resolve.ts';
export { type CaseRef, type TrainingData, discoverTrainingData, prepareSplit } from './data.ts';
export {
  type Preprocessing, activationOf, prepareImage2d, prepareMask2d, prepareVolume, modelInput, probabilities, labelsFromProbabilities,
} from './preprocess.ts';
export { type CaseCache, cacheCases, disposeCache } from './cache.ts';
export { type Batch, epochOrder, makeBatch } from './batches.ts';
export { type LogitsFn, inferLogits, withAutocast } from './inference.ts';
export {
  type CheckpointContent, type BestRecord, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, NotACheckpointError, writeCheckpoint, readCheckpoint, disposeCheckpoint,
} from './checkpoint.ts';
export { type EpochRecord, RunDirectory, RunDirError, TIMING_KEYS } from './runDir.ts';
export { type SegmentationLoss, buildLoss } from './loss.ts';
export { type OptimizerLike, type SchedulerLike, buildOptimizer, buildScheduler } from './optimizers.ts';
export { type CaseScore, type ValidationBatch, scoreCases, summarizeScores } from './validation.ts';
export { Trainer, type TrainerOptions, type TrainerReporter, type RunSummary, type StopReason, type InferenceModel } from './trainer.ts';
export { SupervisedTrainer } from './supervised.ts';
export { METHODS, METHOD_NAMES, methodClass, type TrainerClass } from './registry.ts';
