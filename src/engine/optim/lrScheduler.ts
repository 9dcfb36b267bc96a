// Learning-rate schedules over an optimizer's groups, with torch.optim.lr_scheduler's protocol: constructing one
// records each group's initial_lr and applies epoch 0; each step() advances lastEpoch by one and writes the new lr
// into every group. Call scheduler.step() after optimizer.step(). State dicts use torch's key names.

/** What a scheduler needs of an optimizer (any samtutor Optimizer fits). */
export interface LrGroups {
  paramGroups: { lr: number; initialLr?: number }[];
}

export abstract class LRScheduler {
  baseLrs: number[];
  lastEpoch: number;
  protected stepCount = 0;
  protected lastLr: number[] = [];

  /** lastEpoch = -1 starts fresh; another value resumes, and needs initialLr in every group (torch's rule). */
  constructor(readonly optimizer: LrGroups, lastEpoch = -1) {
    const groups = optimizer.paramGroups;
    groups.forEach((g, i) => {
      if (lastEpoch === -1) g.initialLr ??= g.lr;
      else if (g.initialLr === undefined) {
        throw new Error(`param 'initial_lr' is not specified in paramGroups[${i}] when resuming a schedule (lastEpoch=${lastEpoch})`);
      }
    });
    this.baseLrs = groups.map((g) => g.initialLr!);
    this.lastEpoch = lastEpoch;
  }

  /** Subclasses call this at the end of their constructor (torch's _initial_step), once their fields are set. */
  protected initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /** The lr of every group for this.lastEpoch (may read the groups' current lr, as torch's chainable forms do). */
  protected abstract computeLr(): number[];

  step(): void {
    this.stepCount++;
    this.lastEpoch++;
    const lrs = this.computeLr();
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = lrs[i]!));
    this.lastLr = lrs;
  }

  /** The lrs set by the last step(), one per group. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** Subclass fields for the state dict, under torch's names, first in the dict as torch orders them. */
  protected ownState(): Record<string, unknown> {
    return {};
  }
  protected loadOwnState(_sd: Record<string, unknown>): void {}

  /** torch's scheduler state_dict (its __dict__ minus the optimizer). */
  stateDict(): Record<string, unknown> {
    return {
      ...this.ownState(),
      base_lrs: [...this.baseLrs], last_epoch: this.lastEpoch, verbose: false, _step_count: this.stepCount,
      _get_lr_called_within_step: false, _last_lr: [...this.lastLr],
    };
  }

  loadStateDict(sd: Record<string, unknown>): void {
    const n = this.optimizer.paramGroups.length;
    const nums = (k: string): number[] => {
      const v = sd[k];
      if (!Array.isArray(v) || v.length !== n || !v.every((x) => typeof x === 'number')) {
        throw new Error(`LRScheduler.loadStateDict: ${k} must be ${n} number(s), one per parameter group; got ${JSON.stringify(v)}`);
      }
      return [...(v as number[])];
    };
    const baseLrs = nums('base_lrs');
    const lastEpoch = numField(sd, 'last_epoch', 'LRScheduler');
    const lastLr = sd._last_lr === undefined ? this.lastLr : nums('_last_lr');
    this.loadOwnState(sd);
    this.baseLrs = baseLrs;
    this.lastEpoch = lastEpoch;
    this.stepCount = typeof sd._step_count === 'number' ? sd._step_count : this.stepCount;
    this.lastLr = lastLr;
  }
}

const numField = (sd: Record<string, unknown>, k: string, cls: string): number => {
  if (typeof sd[k] !== 'number') throw new Error(`${cls}.loadStateDict: ${k} must be a number; got ${JSON.stringify(sd[k])}`);
  return sd[k] as number;
};

/** torch ExponentialLR: lr *= gamma each step (torch's chainable form, so values match torch exactly). */
export class ExponentialLR extends LRScheduler {
  constructor(optimizer: LrGroups, public gamma: number, lastEpoch = -1) {
    super(optimizer, lastEpoch);
    this.initialStep();
  }
  protected computeLr(): number[] {
    const groups = this.optimizer.paramGroups;
    return this.lastEpoch === 0 ? groups.map((g) => g.lr) : groups.map((g) => g.lr * this.gamma);
  }
  protected override ownState(): Record<string, unknown> {
    return { gamma: this.gamma };
  }
  protected override loadOwnState(sd: Record<string, unknown>): void {
    this.gamma = numField(sd, 'gamma', 'ExponentialLR');
  }
}

/** torch StepLR: lr *= gamma every stepSize epochs (chainable form, exact match with torch). */
export class StepLR extends LRScheduler {
  constructor(optimizer: LrGroups, public stepSize: number, public gamma = 0.1, lastEpoch = -1) {
    super(optimizer, lastEpoch);
    if (!Number.isInteger(stepSize) || stepSize < 1) throw new RangeError(`StepLR: stepSize must be an integer >= 1, got ${stepSize}`);
    this.initialStep();
  }
  protected computeLr(): number[] {
    const groups = this.optimizer.paramGroups;
    const decay = this.lastEpoch !== 0 && this.lastEpoch % this.stepSize === 0;
    return groups.map((g) => (decay ? g.lr * this.gamma : g.lr));
  }
  protected override ownState(): Record<string, unknown> {
    return { step_size: this.stepSize, gamma: this.gamma };
  }
  protected override loadOwnState(sd: Record<string, unknown>): void {
    this.stepSize = numField(sd, 'step_size', 'StepLR');
    this.gamma = numField(sd, 'gamma', 'StepLR');
  }
}

/**
 * nnU-Net's poly schedule: lr = base * (1 - epoch / maxSteps) ^ exponent (exponent 0.9 by default), with epoch
 * capped at maxSteps (lr 0 from there on). Closed form, per group (nnU-Net applies its one initial lr to all).
 */
export class PolyLR extends LRScheduler {
  constructor(optimizer: LrGroups, public maxSteps: number, public exponent = 0.9, lastEpoch = -1) {
    super(optimizer, lastEpoch);
    if (!(maxSteps > 0)) throw new RangeError(`PolyLR: maxSteps must be > 0, got ${maxSteps}`);
    this.initialStep();
  }
  protected computeLr(): number[] {
    const e = Math.min(this.lastEpoch, this.maxSteps);
    return this.baseLrs.map((base) => base * (1 - e / this.maxSteps) ** this.exponent);
  }
  protected override ownState(): Record<string, unknown> {
    return { max_steps: this.maxSteps, exponent: this.exponent };
  }
  protected override loadOwnState(sd: Record<string, unknown>): void {
    this.maxSteps = numField(sd, 'max_steps', 'PolyLR');
    this.exponent = numField(sd, 'exponent', 'PolyLR');
  }
}

export interface CosineWithWarmupOptions {
  /** Steps of linear warm-up: step s < warmupSteps uses base * (s + 1) / warmupSteps (never 0). */
  warmupSteps: number;
  /** Step at which the cosine reaches minLr; lr stays at minLr after it. */
  totalSteps: number;
  /** Floor of the cosine (absolute, the same for every group); default 0. */
  minLr?: number;
}

/**
 * Linear warm-up then half-cosine decay. For step s (= lastEpoch) and W = warmupSteps, T = totalSteps:
 *   s < W:      lr = base * (s + 1) / W
 *   W <= s:     lr = minLr + (base - minLr) * (1 + cos(pi * min(1, (s - W) / (T - W)))) / 2
 * so the warm-up ends at base and the first cosine step is base, ending at minLr at s = T.
 */
export class CosineWithWarmup extends LRScheduler {
  warmupSteps: number;
  totalSteps: number;
  minLr: number;
  constructor(optimizer: LrGroups, opts: CosineWithWarmupOptions, lastEpoch = -1) {
    super(optimizer, lastEpoch);
    this.warmupSteps = opts.warmupSteps;
    this.totalSteps = opts.totalSteps;
    this.minLr = opts.minLr ?? 0;
    if (!Number.isInteger(this.warmupSteps) || this.warmupSteps < 0) throw new RangeError(`CosineWithWarmup: warmupSteps must be an integer >= 0, got ${this.warmupSteps}`);
    if (!(this.totalSteps > this.warmupSteps)) throw new RangeError(`CosineWithWarmup: totalSteps (${this.totalSteps}) must exceed warmupSteps (${this.warmupSteps})`);
    this.initialStep();
  }
  protected computeLr(): number[] {
    const s = this.lastEpoch;
    const w = this.warmupSteps;
    if (s < w) return this.baseLrs.map((base) => (base * (s + 1)) / w);
    const progress = Math.min(1, (s - w) / (this.totalSteps - w));
    const cos = (1 + Math.cos(Math.PI * progress)) / 2;
    return this.baseLrs.map((base) => this.minLr + (base - this.minLr) * cos);
  }
  protected override ownState(): Record<string, unknown> {
    return { warmup_steps: this.warmupSteps, total_steps: this.totalSteps, min_lr: this.minLr };
  }
  protected override loadOwnState(sd: Record<string, unknown>): void {
    this.warmupSteps = numField(sd, 'warmup_steps', 'CosineWithWarmup');
    this.totalSteps = numField(sd, 'total_steps', 'CosineWithWarmup');
    this.minLr = numField(sd, 'min_lr', 'CosineWithWarmup');
  }
}

/** torch LambdaLR: lr = base * lambda(epoch), one function for all groups or one per group. */
export class LambdaLR extends LRScheduler {
  readonly lambdas: ((epoch: number) => number)[];
  constructor(optimizer: LrGroups, lrLambda: ((epoch: number) => number) | ((epoch: number) => number)[], lastEpoch = -1) {
    super(optimizer, lastEpoch);
    const n = optimizer.paramGroups.length;
    if (Array.isArray(lrLambda) && lrLambda.length !== n) throw new Error(`LambdaLR: expected ${n} lr lambdas, but got ${lrLambda.length}`);
    this.lambdas = Array.isArray(lrLambda) ? [...lrLambda] : Array.from({ length: n }, () => lrLambda);
    this.initialStep();
  }
  protected computeLr(): number[] {
    return this.baseLrs.map((base, i) => base * this.lambdas[i]!(this.lastEpoch));
  }
  /** As torch: the functions are not saved (lr_lambdas holds one null per group, last in the dict). */
  override stateDict(): Record<string, unknown> {
    return { ...super.stateDict(), lr_lambdas: this.lambdas.map(() => null) };
  }
}
