// Binary cross-entropy on logits for one-channel (binary) segmentation: torch's binary_cross_entropy_with_logits,
// taking a label map or a dense target, with optional per-pixel weights (e.g. boundaryWeights) and pos_weight.
import { type Tensor, scalar, tidy } from '../../engine/index.ts';
import { F } from '../../engine/index.ts';
import { type PixelWeightFn, type Reduction, checkLogits, denseTarget, pixelWeightsFor } from './targets.ts';

export interface BCELossOptions {
  /** Weight of positive pixels (torch pos_weight), e.g. #neg/#pos for rare foreground. */
  posWeight?: number;
  /** Per-pixel weights [N, *spatial], or a function of the target that makes them; the mean is Σ w·l / count (torch). */
  pixelWeights?: PixelWeightFn | Tensor;
  reduction?: Reduction;
}

/** BCE-with-logits of one-channel logits [N, 1, *spatial] against a label map (label > 0 = 1) or a dense target. */
export function bceLoss(logits: Tensor, target: Tensor, o: BCELossOptions = {}): Tensor {
  const c = checkLogits(logits, 'bceLoss');
  if (c !== 1) throw new RangeError(`bceLoss: expected one-channel logits [N, 1, *spatial] but received ${c} channels (use crossEntropyLoss)`);
  return tidy(() => {
    const g = denseTarget(target, logits, 'bceLoss');
    const weight = o.pixelWeights === undefined ? undefined : pixelWeightsFor(o.pixelWeights, target, logits, 'bceLoss').unsqueeze(1);
    const posWeight = o.posWeight === undefined ? undefined : scalar(o.posWeight);
    return F.bceWithLogits(logits, g, { weight, posWeight, reduction: o.reduction ?? 'mean' });
  });
}
