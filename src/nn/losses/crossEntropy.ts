// Multi-class cross-entropy for segmentation: torch's cross_entropy over the channel dim, taking a label map
// (class indices) or a dense target (class probabilities), with optional class weights and per-pixel weights.
import { type Tensor, tensor, tidy } from '../../engine/index.ts';
import { F } from '../../engine/index.ts';
import { type PixelWeightFn, type Reduction, checkLogits, labelMap, pixelWeightsFor, reduce } from './targets.ts';

export interface CELossOptions {
  /** One weight per class (torch weight=); with reduction 'mean' torch divides by the summed weights of the targets. */
  classWeights?: number[];
  /** Label ignored in the loss and the mean (label maps only). Default none. */
  ignoreIndex?: number;
  labelSmoothing?: number;
  /** Per-pixel weights [N, *spatial] (or a function of the target): mean of w·l over pixels. */
  pixelWeights?: PixelWeightFn | Tensor;
  reduction?: Reduction;
}

const isFloat = (t: Tensor): boolean => t.dtype === 'float32' || t.dtype === 'float64';

/** Cross-entropy of logits [N, C ≥ 2, *spatial] against a label map [N, *spatial] / [N, 1, *spatial] or dense [N, C, *spatial]. */
export function crossEntropyLoss(logits: Tensor, target: Tensor, o: CELossOptions = {}): Tensor {
  const c = checkLogits(logits, 'crossEntropyLoss');
  if (c < 2) throw new RangeError('crossEntropyLoss: expected logits with C >= 2 channels; one-channel (binary) logits need bceLoss');
  if (o.classWeights && o.classWeights.length !== c) {
    throw new RangeError(`crossEntropyLoss: expected ${c} class weights but received ${o.classWeights.length}`);
  }
  return tidy(() => {
    const dense = target.ndim === logits.ndim && target.shape[1] === c && isFloat(target);
    const t = dense ? target : labelMap(target, logits, 'crossEntropyLoss').long();
    const weight = o.classWeights ? tensor(o.classWeights) : undefined;
    const common = { weight, labelSmoothing: o.labelSmoothing, ...(o.ignoreIndex === undefined || dense ? {} : { ignoreIndex: o.ignoreIndex }) };
    if (o.pixelWeights === undefined) return F.crossEntropy(logits, t, { ...common, reduction: o.reduction ?? 'mean' });
    const perPixel = F.crossEntropy(logits, t, { ...common, reduction: 'none' });
    return reduce(perPixel.mul(pixelWeightsFor(o.pixelWeights, target, logits, 'crossEntropyLoss')), o.reduction ?? 'mean');
  });
}
