// BatchNorm1d/2d/3d and InstanceNorm1d/2d/3d (torch.nn names, defaults, buffers and running-stat updates).
import { type Tensor, callT, F, noGrad, ones, tidy, zeros } from '../engine/index.ts';
import { Module } from './module.ts';
import { positiveInt, pyBool, pyFloat } from './util.ts';

export interface NormOptions {
  eps?: number;
  /** Running-average factor; null means a cumulative average (factor 1/num_batches_tracked). */
  momentum?: number | null;
  affine?: boolean;
  trackRunningStats?: boolean;
}

/** The shared state of batch and instance norm: weight, bias, running_mean, running_var, num_batches_tracked. */
abstract class NormBase extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly numBatchesTracked: Tensor | null;

  constructor(numFeatures: number, o: NormOptions, defaults: { affine: boolean; track: boolean }) {
    super();
    this.numFeatures = positiveInt(numFeatures, 'numFeatures');
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum === undefined ? 0.1 : o.momentum;
    this.affine = o.affine ?? defaults.affine;
    this.trackRunningStats = o.trackRunningStats ?? defaults.track;
    this.weight = this.registerParameter('weight', this.affine ? ones([numFeatures]) : null);
    this.bias = this.registerParameter('bias', this.affine ? zeros([numFeatures]) : null);
    const track = this.trackRunningStats;
    this.runningMean = this.registerBuffer('running_mean', track ? zeros([numFeatures]) : null);
    this.runningVar = this.registerBuffer('running_var', track ? ones([numFeatures]) : null);
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked', track ? zeros([], { dtype: 'int64' }) : null);
  }

  /** Zeroes running_mean and num_batches_tracked, fills running_var with ones. */
  resetRunningStats(): void {
    noGrad(() => {
      this.runningMean?.zero_();
      this.runningVar?.fill_(1);
      this.numBatchesTracked?.zero_();
    });
  }

  /** The momentum to use this step; counts the batch when training with running stats (torch's logic). */
  protected stepMomentum(): number {
    let factor = this.momentum ?? 0;
    if (this.training && this.trackRunningStats && this.numBatchesTracked) {
      noGrad(() => this.numBatchesTracked!.add_(1));
      if (this.momentum === null) factor = 1 / this.numBatchesTracked.item();
    }
    return factor;
  }

  protected checkRank(x: Tensor, ranks: number[], name: string): void {
    if (!ranks.includes(x.ndim)) throw new RangeError(`${name}: expected ${ranks.map((r) => `${r}D`).join(' or ')} input (got ${x.ndim}D input)`);
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${pyFloat(this.eps)}, momentum=${this.momentum === null ? 'None' : pyFloat(this.momentum)}, affine=${pyBool(this.affine)}, track_running_stats=${pyBool(this.trackRunningStats)}`;
  }
}

/**
 * Batch norm over dim 1. Training normalises with batch statistics and (when tracking) updates running_mean /
 * running_var in place with momentum (unbiased variance) and increments num_batches_tracked; eval uses the
 * running statistics.
 */
abstract class BatchNormNd extends NormBase {
  constructor(numFeatures: number, o: NormOptions = {}, private readonly ranks: number[]) {
    super(numFeatures, o, { affine: true, track: true });
  }

  forward(x: Tensor): Tensor {
    this.checkRank(x, this.ranks, this.constructor.name);
    const momentum = this.stepMomentum();
    const useBatchStats = this.training || (this.runningMean === null && this.runningVar === null);
    const useRunning = !this.training || this.trackRunningStats;
    return F.batchNorm(x, useRunning ? this.runningMean : null, useRunning ? this.runningVar : null, {
      weight: this.weight, bias: this.bias, training: useBatchStats, momentum, eps: this.eps,
    });
  }
}

export class BatchNorm1d extends BatchNormNd {
  constructor(numFeatures: number, o: NormOptions = {}) { super(numFeatures, o, [2, 3]); }
}
export class BatchNorm2d extends BatchNormNd {
  constructor(numFeatures: number, o: NormOptions = {}) { super(numFeatures, o, [4]); }
}
export class BatchNorm3d extends BatchNormNd {
  constructor(numFeatures: number, o: NormOptions = {}) { super(numFeatures, o, [5]); }
}

/**
 * Instance norm: per sample and channel. affine and trackRunningStats default to false, as in torch (nnU-Net
 * passes affine: true). Unbatched inputs (one fewer dim) are accepted.
 */
abstract class InstanceNormNd extends NormBase {
  constructor(numFeatures: number, o: NormOptions = {}, private readonly spatial: number) {
    super(numFeatures, o, { affine: false, track: false });
  }

  forward(x: Tensor): Tensor {
    this.checkRank(x, [this.spatial + 1, this.spatial + 2], this.constructor.name);
    if (x.ndim === this.spatial + 1) return tidy(() => this.forward(x.unsqueeze(0)).squeeze(0));
    if (x.shape[1] !== this.numFeatures && this.affine) {
      throw new RangeError(`${this.constructor.name}: expected input's size at dim=1 to match num_features (${this.numFeatures}), but got: ${x.shape[1]}`);
    }
    // As torch: no num_batches_tracked count for instance norm, momentum passed as is.
    const useInputStats = this.training || !this.trackRunningStats;
    return callT('instance_norm', [x, this.weight, this.bias, this.runningMean, this.runningVar, useInputStats, this.momentum ?? 0.1, this.eps, true]);
  }
}

export class InstanceNorm1d extends InstanceNormNd {
  constructor(numFeatures: number, o: NormOptions = {}) { super(numFeatures, o, 1); }
}
export class InstanceNorm2d extends InstanceNormNd {
  constructor(numFeatures: number, o: NormOptions = {}) { super(numFeatures, o, 2); }
}
export class InstanceNorm3d extends InstanceNormNd {
  constructor(numFeatures: number, o: NormOptions = {}) { super(numFeatures, o, 3); }
}
