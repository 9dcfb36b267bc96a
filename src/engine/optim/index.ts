// Optimizers (torch.optim semantics and state dicts) and learning-rate schedules.
export {
  Optimizer, type BaseGroup, type ParamGroup, type ParamGroupInput, type ParamsInput, type StateEntry, type OptimizerStateDict,
} from './optimizer.ts';
export { Adam, AdamW, type AdamOptions, type AdamState } from './adam.ts';
export { SGD, type SGDOptions, type SGDState } from './sgd.ts';
export {
  LRScheduler, ExponentialLR, StepLR, PolyLR, CosineWithWarmup, LambdaLR, type LrGroups, type CosineWithWarmupOptions,
} from './lrScheduler.ts';
