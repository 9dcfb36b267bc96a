// Optimizers and learning-rate schedules from the config. Schedules step once per iteration over
// epochs × iterationsPerEpoch steps: poly (nnU-Net, exponent 0.9), cosine (linear warm-up for warmupEpochs, then
// half-cosine to 0), or constant.
import type { Tensor } from '../engine/index.ts';
import {
  Adam, AdamW, CosineWithWarmup, LambdaLR, PolyLR, SGD, type LRScheduler, type OptimizerStateDict, type StateEntry,
} from '../engine/optim/index.ts';
import type { ResolvedConfig } from './resolve.ts';

/** What the trainer needs of an optimizer (every samtutor optimizer fits). */
export interface OptimizerLike {
  readonly paramGroups: { lr: number; initialLr?: number }[];
  step(): void;
  zeroGrad(setToNone?: boolean): void;
  stateDict(): OptimizerStateDict;
  loadStateDict(sd: OptimizerStateDict | { state: Map<number, StateEntry>; param_groups: Record<string, unknown>[] }): void;
  dispose(): void;
}

export type SchedulerLike = Pick<LRScheduler, 'step' | 'stateDict' | 'loadStateDict' | 'getLastLr'>;

export function buildOptimizer(params: Tensor[], cfg: Pick<ResolvedConfig, 'optimizer' | 'lr' | 'weightDecay' | 'momentum'>): OptimizerLike {
  switch (cfg.optimizer) {
    case 'adamw': return new AdamW(params, { lr: cfg.lr, weightDecay: cfg.weightDecay });
    case 'adam': return new Adam(params, { lr: cfg.lr, weightDecay: cfg.weightDecay });
    case 'sgd': return new SGD(params, { lr: cfg.lr, momentum: cfg.momentum, nesterov: cfg.momentum > 0, weightDecay: cfg.weightDecay });
  }
}

export function buildScheduler(opt: OptimizerLike, cfg: Pick<ResolvedConfig, 'schedule' | 'epochs' | 'iterationsPerEpoch' | 'warmupEpochs'>): SchedulerLike {
  const total = cfg.epochs * cfg.iterationsPerEpoch;
  switch (cfg.schedule) {
    case 'poly': return new PolyLR(opt, total, 0.9);
    case 'cosine': return new CosineWithWarmup(opt, { warmupSteps: Math.min(cfg.warmupEpochs * cfg.iterationsPerEpoch, total - 1), totalSteps: total });
    case 'constant': return new LambdaLR(opt, () => 1);
  }
}

/** Stretches a (resumed) schedule to a new total step count; the steps already taken are kept. */
export function retargetSchedule(s: SchedulerLike, totalSteps: number): void {
  if (s instanceof PolyLR) s.maxSteps = totalSteps;
  else if (s instanceof CosineWithWarmup) s.totalSteps = Math.max(totalSteps, s.warmupSteps + 1);
}
