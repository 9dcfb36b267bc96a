// Losses with PyTorch's reductions ('mean' | 'sum' | 'none').
import { callT } from '../dispatch.ts';
import type { Tensor } from '../tensor.ts';
import { checkOneOf, checkTensor } from '../validate.ts';

export type Reduction = 'none' | 'mean' | 'sum';
const REDUCTION = { none: 0, mean: 1, sum: 2 } as const;
const reduction = (r: Reduction | undefined): number => REDUCTION[checkOneOf(r ?? 'mean', 'reduction', ['none', 'mean', 'sum'] as const)];

function sameShape(op: string, input: Tensor, target: Tensor): void {
  checkTensor(input, 'input');
  checkTensor(target, 'target');
  const a = input.shape, b = target.shape;
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
    throw new RangeError(`${op}: target shape [${b.join(', ')}] differs from input shape [${a.join(', ')}]`);
  }
}

/** Binary cross-entropy on logits (numerically stable), with optional per-element weight and pos_weight. */
export function bceWithLogits(logits: Tensor, target: Tensor, o: { weight?: Tensor; posWeight?: Tensor; reduction?: Reduction } = {}): Tensor {
  sameShape('binary_cross_entropy_with_logits', logits, target);
  return callT('binary_cross_entropy_with_logits', [logits, target, o.weight ?? null, o.posWeight ?? null, reduction(o.reduction)]);
}

/** Cross-entropy: logits [N, C, ...], target class indices [N, ...] (int64) or class probabilities [N, C, ...]. */
export function crossEntropy(logits: Tensor, target: Tensor, o: { weight?: Tensor; ignoreIndex?: number; labelSmoothing?: number; reduction?: Reduction } = {}): Tensor {
  return callT('cross_entropy_loss', [logits, target, o.weight ?? null, reduction(o.reduction), o.ignoreIndex ?? -100, o.labelSmoothing ?? 0]);
}

export function mseLoss(input: Tensor, target: Tensor, r?: Reduction): Tensor {
  sameShape('mse_loss', input, target);
  return callT('mse_loss', [input, target, reduction(r)]);
}

export function l1Loss(input: Tensor, target: Tensor, r?: Reduction): Tensor {
  sameShape('l1_loss', input, target);
  return callT('l1_loss', [input, target, reduction(r)]);
}

export const nllLoss = (logProbs: Tensor, target: Tensor, o: { weight?: Tensor; ignoreIndex?: number; reduction?: Reduction } = {}): Tensor =>
  callT('nll_loss_nd', [logProbs, target, o.weight ?? null, reduction(o.reduction), o.ignoreIndex ?? -100]);
