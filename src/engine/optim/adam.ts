// Adam and AdamW, op for op as torch 1.13's single-tensor path (_single_tensor_adam / _single_tensor_adamw with
// capturable=False, differentiable=False), so results match torch bit for bit up to libm's pow in bias correction.
import type { Tensor } from '../tensor.ts';
import { callT } from '../dispatch.ts';
import {
  type GroupKey, type ParamGroup, type ParamGroupInput, type ParamsInput, type StateEntry,
  Optimizer, definedOnly, importTensor, incrementStep, keptZerosLike, readStep, stepTensor,
} from './optimizer.ts';

export interface AdamOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  /** Adam: L2 penalty added to the gradient. AdamW: decoupled decay, p *= 1 - lr * weightDecay. */
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
}

export interface AdamState {
  /** torch keeps step as a 0-d float32 tensor; here a float32-rounded JS number, exported as that tensor. */
  step: number;
  expAvg: Tensor;
  expAvgSq: Tensor;
  maxExpAvgSq: Tensor | null;
}

function validate(o: AdamOptions): void {
  if (!(o.lr >= 0)) throw new RangeError(`Invalid learning rate: ${o.lr}`);
  if (!(o.eps >= 0)) throw new RangeError(`Invalid epsilon value: ${o.eps}`);
  if (!(o.betas[0] >= 0 && o.betas[0] < 1)) throw new RangeError(`Invalid beta parameter at index 0: ${o.betas[0]}`);
  if (!(o.betas[1] >= 0 && o.betas[1] < 1)) throw new RangeError(`Invalid beta parameter at index 1: ${o.betas[1]}`);
  if (!(o.weightDecay >= 0)) throw new RangeError(`Invalid weight_decay value: ${o.weightDecay}`);
}

const ADAM_KEYS: readonly GroupKey[] = [
  { py: 'lr', js: 'lr' }, { py: 'betas', js: 'betas' }, { py: 'eps', js: 'eps' },
  { py: 'weight_decay', js: 'weightDecay' }, { py: 'amsgrad', js: 'amsgrad' }, { py: 'maximize', js: 'maximize' },
  { py: 'foreach', fixed: null, ignoreOnLoad: true }, { py: 'capturable', fixed: false },
  { py: 'differentiable', fixed: false }, { py: 'fused', fixed: false },
];
// torch 1.13's AdamW has neither differentiable nor fused, and orders foreach before maximize.
const ADAMW_KEYS: readonly GroupKey[] = [
  { py: 'lr', js: 'lr' }, { py: 'betas', js: 'betas' }, { py: 'eps', js: 'eps' },
  { py: 'weight_decay', js: 'weightDecay' }, { py: 'amsgrad', js: 'amsgrad' },
  { py: 'foreach', fixed: null, ignoreOnLoad: true }, { py: 'maximize', js: 'maximize' }, { py: 'capturable', fixed: false },
];

/**
 * torch.optim.Adam. new Adam(model.parameters(), { lr: 1e-3 }) or with groups:
 * new Adam([{ params: a }, { params: b, lr: 1e-4 }], { lr: 1e-3 }).
 */
export class Adam extends Optimizer<AdamOptions, AdamState> {
  protected readonly groupKeys: readonly GroupKey[] = ADAM_KEYS;
  /** true for AdamW's decoupled weight decay. */
  protected readonly decoupled: boolean = false;

  constructor(params: ParamsInput<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    const defaults: AdamOptions = {
      lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, ...definedOnly(opts),
    };
    validate(defaults);
    super(params, defaults);
  }

  override addParamGroup(group: ParamGroupInput<AdamOptions>): void {
    validate({ ...this.defaults, ...definedOnly(group) });
    super.addParamGroup(group);
  }

  protected update(p: Tensor, grad: Tensor, group: ParamGroup<AdamOptions>): void {
    const { lr, eps, weightDecay, amsgrad } = group;
    const [beta1, beta2] = group.betas;
    let s = this.state.get(p);
    if (!s) {
      s = { step: 0, expAvg: keptZerosLike(p), expAvgSq: keptZerosLike(p), maxExpAvgSq: amsgrad ? keptZerosLike(p) : null };
      this.state.set(p, s);
    }
    if (amsgrad && !s.maxExpAvgSq) throw new Error('Adam: amsgrad is on but this parameter has no max_exp_avg_sq state');
    let g = group.maximize ? grad.neg() : grad;
    s.step = incrementStep(s.step);
    if (this.decoupled) {
      if (weightDecay !== 0) p.mul_(1 - lr * weightDecay); // torch multiplies by 1 unconditionally: same result
    } else if (weightDecay !== 0) {
      g = g.add(p, weightDecay);
    }
    s.expAvg.mul_(beta1).add_(g, 1 - beta1);
    s.expAvgSq.mul_(beta2).addcmul_(g, g, 1 - beta2);
    const biasCorrection1 = 1 - beta1 ** s.step;
    const biasCorrection2Sqrt = Math.sqrt(1 - beta2 ** s.step);
    const stepSize = lr / biasCorrection1;
    let second = s.expAvgSq;
    if (amsgrad && s.maxExpAvgSq) {
      callT('maximum.out', [s.maxExpAvgSq, s.expAvgSq], { out: s.maxExpAvgSq });
      second = s.maxExpAvgSq;
    }
    const denom = second.sqrt().div_(biasCorrection2Sqrt).add_(eps);
    p.addcdiv_(s.expAvg, denom, -stepSize);
  }

  protected exportState(s: AdamState): StateEntry {
    const e: StateEntry = { step: stepTensor(s.step), exp_avg: s.expAvg.clone(), exp_avg_sq: s.expAvgSq.clone() };
    if (s.maxExpAvgSq) e.max_exp_avg_sq = s.maxExpAvgSq.clone();
    return e;
  }

  protected importState(p: Tensor, e: StateEntry, group: ParamGroup<AdamOptions>, where: string): AdamState {
    const step = readStep(e.step, where);
    for (const k of ['exp_avg', 'exp_avg_sq', ...(group.amsgrad ? ['max_exp_avg_sq'] : [])]) {
      if (!e[k]) throw new Error(`loadStateDict: ${where} has no ${k}${k === 'max_exp_avg_sq' ? ' (the group has amsgrad on)' : ''}`);
    }
    return {
      step,
      expAvg: importTensor(e.exp_avg, p, where, 'exp_avg'),
      expAvgSq: importTensor(e.exp_avg_sq, p, where, 'exp_avg_sq'),
      maxExpAvgSq: e.max_exp_avg_sq ? importTensor(e.max_exp_avg_sq, p, where, 'max_exp_avg_sq') : null,
    };
  }

  protected freeState(s: AdamState): void {
    s.expAvg.dispose();
    s.expAvgSq.dispose();
    s.maxExpAvgSq?.dispose();
  }
}

/** torch.optim.AdamW: Adam with decoupled weight decay (default weightDecay 1e-2). */
export class AdamW extends Adam {
  protected override readonly groupKeys: readonly GroupKey[] = ADAMW_KEYS;
  protected override readonly decoupled: boolean = true;

  constructor(params: ParamsInput<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    super(params, { weightDecay: 1e-2, ...definedOnly(opts) });
  }
}
