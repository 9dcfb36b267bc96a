// SGD with momentum, dampening, Nesterov, weight decay and maximize, op for op as torch 1.13's _single_tensor_sgd.
import type { Tensor } from '../tensor.ts';
import { keep } from '../scope.ts';
import {
  type GroupKey, type ParamGroup, type ParamGroupInput, type ParamsInput, type StateEntry, Optimizer, definedOnly, importTensor,
} from './optimizer.ts';

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  /** L2 penalty added to the gradient. */
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
}

/** torch's momentum_buffer: null until the first step with momentum (and always null without momentum). */
export interface SGDState {
  momentumBuffer: Tensor | null;
}

const SGD_KEYS: readonly GroupKey[] = [
  { py: 'lr', js: 'lr' }, { py: 'momentum', js: 'momentum' }, { py: 'dampening', js: 'dampening' },
  { py: 'weight_decay', js: 'weightDecay' }, { py: 'nesterov', js: 'nesterov' }, { py: 'maximize', js: 'maximize' },
  { py: 'foreach', fixed: null, ignoreOnLoad: true }, { py: 'differentiable', fixed: false },
];

function validate(o: SGDOptions): void {
  if (!(o.lr >= 0)) throw new RangeError(`Invalid learning rate: ${o.lr}`);
  if (!(o.momentum >= 0)) throw new RangeError(`Invalid momentum value: ${o.momentum}`);
  if (!(o.weightDecay >= 0)) throw new RangeError(`Invalid weight_decay value: ${o.weightDecay}`);
  if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) throw new RangeError('Nesterov momentum requires a momentum and zero dampening');
}

/** torch.optim.SGD; lr is required, as in torch. */
export class SGD extends Optimizer<SGDOptions, SGDState> {
  protected readonly groupKeys: readonly GroupKey[] = SGD_KEYS;

  constructor(params: ParamsInput<SGDOptions>, opts: Partial<SGDOptions> & { lr: number }) {
    const defaults: SGDOptions = { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, ...definedOnly(opts), lr: opts.lr };
    validate(defaults);
    super(params, defaults);
  }

  override addParamGroup(group: ParamGroupInput<SGDOptions>): void {
    validate({ ...this.defaults, ...definedOnly(group) });
    super.addParamGroup(group);
  }

  protected update(p: Tensor, grad: Tensor, group: ParamGroup<SGDOptions>): void {
    const { lr, momentum, dampening, weightDecay, nesterov } = group;
    let d = group.maximize ? grad.neg() : grad;
    if (weightDecay !== 0) d = d.add(p, weightDecay);
    let s = this.state.get(p);
    if (!s) {
      s = { momentumBuffer: null };
      this.state.set(p, s);
    }
    if (momentum !== 0) {
      if (!s.momentumBuffer) {
        s.momentumBuffer = keep(d.clone());
      } else {
        s.momentumBuffer.mul_(momentum).add_(d, 1 - dampening);
      }
      d = nesterov ? d.add(s.momentumBuffer, momentum) : s.momentumBuffer;
    }
    p.add_(d, -lr);
  }

  protected exportState(s: SGDState): StateEntry {
    return { momentum_buffer: s.momentumBuffer ? s.momentumBuffer.clone() : null };
  }

  protected importState(p: Tensor, e: StateEntry, _group: ParamGroup<SGDOptions>, where: string): SGDState {
    const buf = e.momentum_buffer;
    return { momentumBuffer: buf === null || buf === undefined ? null : importTensor(buf, p, where, 'momentum_buffer') };
  }

  protected freeState(s: SGDState): void {
    s.momentumBuffer?.dispose();
  }
}
