// Focal loss (Lin et al. 2017), down-weighting easy pixels by (1 − p_t)^γ.
// - One channel (binary): torchvision.ops.sigmoid_focal_loss: ce = BCE-with-logits, p_t = p·t + (1 − p)(1 − t),
//   loss = α_t · ce · (1 − p_t)^γ with α_t = α·t + (1 − α)(1 − t) when alpha is given.
// - C ≥ 2 channels: per pixel −Σ_c α_c · g_c · (1 − p_c)^γ · log p_c (softmax p, one-hot or soft g), so γ = 0
//   and no α is exactly cross-entropy. The mean is over pixels (not pixels × classes as MONAI's FocalLoss).
import { type Tensor, tensor, tidy } from '../../engine/index.ts';
import { F } from '../../engine/index.ts';
import { checkNumber } from '../../engine/validate.ts';
import { type Reduction, checkLogits, denseTarget, reduce } from './targets.ts';

export interface FocalLossOptions {
  /** Focusing parameter γ ≥ 0. Default 2. */
  gamma?: number;
  /** Binary: α in [0, 1] weighting positives (torchvision uses 0.25). Multi-class: one weight per class. Default none. */
  alpha?: number | number[];
  reduction?: Reduction;
}

function binaryFocal(logits: Tensor, g: Tensor, gamma: number, alpha: number | undefined): Tensor {
  const p = logits.sigmoid();
  const ce = F.bceWithLogits(logits, g, { reduction: 'none' });
  const pT = p.mul(g).add(p.neg().add(1).mul(g.neg().add(1)));
  let loss = ce.mul(pT.neg().add(1).pow(gamma));
  if (alpha !== undefined) loss = loss.mul(g.mul(alpha).add(g.neg().add(1).mul(1 - alpha)));
  return loss.squeeze(1);
}

function multiClassFocal(logits: Tensor, g: Tensor, gamma: number, alpha: number[] | undefined): Tensor {
  const logP = F.logSoftmax(logits, 1);
  let perClass = g.mul(logP.exp().neg().add(1).pow(gamma)).mul(logP);
  if (alpha) perClass = perClass.mul(tensor(alpha).reshape(1, alpha.length, ...Array<number>(logits.ndim - 2).fill(1)));
  return perClass.sum(1).neg();
}

/** Focal loss of logits [N, C, *spatial] against a label map or dense target; per-pixel values with reduction 'none'. */
export function focalLoss(logits: Tensor, target: Tensor, o: FocalLossOptions = {}): Tensor {
  const c = checkLogits(logits, 'focalLoss');
  const gamma = checkNumber(o.gamma ?? 2, 'gamma', 0);
  if (c === 1 && Array.isArray(o.alpha)) throw new TypeError('focalLoss: binary (one-channel) focal loss takes one number for alpha');
  if (c > 1 && typeof o.alpha === 'number') throw new TypeError(`focalLoss: multi-class focal loss takes one alpha per class (${c} numbers)`);
  if (Array.isArray(o.alpha) && o.alpha.length !== c) throw new RangeError(`focalLoss: expected ${c} alpha values but received ${o.alpha.length}`);
  if (typeof o.alpha === 'number') checkNumber(o.alpha, 'alpha', 0, 1);
  return tidy(() => {
    const g = denseTarget(target, logits, 'focalLoss');
    const perPixel = c === 1 ? binaryFocal(logits, g, gamma, o.alpha as number | undefined) : multiClassFocal(logits, g, gamma, o.alpha as number[] | undefined);
    return reduce(perPixel, o.reduction ?? 'mean');
  });
}
