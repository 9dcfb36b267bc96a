// Soft Dice loss, as MONAI's DiceLoss (monai/losses/dice.py, jaccard=False):
//   p = activation(logits), g = dense target (one-hot or binary), summed over the spatial dims (and the batch with
//   `batch`): f = 1 − (2·Σ p·g + smoothNr) / (Σ g + Σ p + smoothDr)   (Σ g² + Σ p² with squaredPred)
//   then the mean over channels (and images unless `batch`).
// nnU-Net's SoftDiceLoss is the same quantity up to sign and constant (it returns −dc, batch_dice per plan).
import { type Tensor, tidy } from '../../engine/index.ts';
import { checkNumber } from '../../engine/validate.ts';
import { type Activation, activate, checkLogits, denseTarget } from './targets.ts';

export interface DiceLossOptions {
  /** Default: sigmoid for one channel, softmax otherwise. 'none' takes probabilities as given. */
  activation?: Activation;
  /** Keep channel 0 (background) in the mean. Default true (MONAI); ignored for one channel. */
  includeBackground?: boolean;
  /** Sum over the batch too (nnU-Net's batch_dice): one Dice per class for the whole batch. Default false. */
  batch?: boolean;
  /** Numerator and denominator smoothing. Defaults 1e-5 each (MONAI). */
  smoothNr?: number;
  smoothDr?: number;
  /** Denominator Σ p² + Σ g² (V-Net) instead of Σ p + Σ g. */
  squaredPred?: boolean;
  /** 'mean' (default) or 'none': the per-(image,)class losses [N, C'] ([C'] with batch). */
  reduction?: 'mean' | 'none';
}

/**
 * Soft Dice loss of logits [N, C, *spatial] against a label map [N, *spatial] / [N, 1, *spatial] or a dense target
 * [N, C, *spatial]. Returns a scalar in [0, 1] (or per-class values with reduction 'none').
 */
export function softDiceLoss(logits: Tensor, target: Tensor, o: DiceLossOptions = {}): Tensor {
  const c = checkLogits(logits, 'softDiceLoss');
  const smoothNr = checkNumber(o.smoothNr ?? 1e-5, 'smoothNr', 0);
  const smoothDr = checkNumber(o.smoothDr ?? 1e-5, 'smoothDr', 0);
  return tidy(() => {
    let p = activate(logits, o.activation);
    let g = denseTarget(target, logits, 'softDiceLoss');
    if (o.includeBackground === false && c > 1) {
      p = p.narrow(1, 1, c - 1);
      g = g.narrow(1, 1, c - 1);
    }
    const spatial = Array.from({ length: logits.ndim - 2 }, (_, i) => i + 2);
    const dims = o.batch ? [0, ...spatial] : spatial;
    const intersection = p.mul(g).sum(dims);
    const denominator = o.squaredPred ? g.square().sum(dims).add(p.square().sum(dims)) : g.sum(dims).add(p.sum(dims));
    const f = intersection.mul(2).add(smoothNr).div(denominator.add(smoothDr)).neg().add(1);
    return o.reduction === 'none' ? f : f.mean();
  });
}
