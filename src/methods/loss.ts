// The configured segmentation loss as one function of (logits, label maps) returning named terms; 'loss' is the
// one to back-propagate. One-channel (binary) logits use BCE where multi-class ones use CE.
import type { Tensor } from '../engine/index.ts';
import {
  type LossTerms, bceLoss, boundaryWeights, crossEntropyLoss, diceCELoss, focalLoss, softDiceLoss, type PixelWeightFn,
} from '../nn/losses/index.ts';
import type { LossConfig } from './config.ts';

export type SegmentationLoss = (logits: Tensor, target: Tensor) => LossTerms;

export function buildLoss(c: LossConfig, outChannels: number): SegmentationLoss {
  const dice = { batch: c.batchDice, includeBackground: c.includeBackground, smoothNr: c.smooth, smoothDr: c.smooth };
  const pixelWeights: PixelWeightFn | undefined = c.boundary
    ? boundaryWeights({ radius: c.boundary.radius, weight: c.boundary.weight, ...(c.boundary.sigma === null ? {} : { sigma: c.boundary.sigma }) })
    : undefined;
  const ce = (logits: Tensor, target: Tensor): Tensor =>
    outChannels === 1 ? bceLoss(logits, target, { pixelWeights }) : crossEntropyLoss(logits, target, { pixelWeights });
  const alpha = c.alpha === null ? undefined : c.alpha;
  if (outChannels === 1 && Array.isArray(alpha)) throw new Error('loss.alpha must be one number for binary segmentation');
  if (outChannels > 1 && typeof alpha === 'number') throw new Error(`loss.alpha must list ${outChannels} class weights for multi-class segmentation`);
  const focal = (logits: Tensor, target: Tensor): Tensor => focalLoss(logits, target, { gamma: c.gamma, alpha });
  switch (c.name) {
    case 'dice-ce':
      return (logits, target) => diceCELoss(logits, target, { dice, ce: { pixelWeights }, lambdaDice: c.lambdaDice, lambdaCE: c.lambdaCE });
    case 'dice':
      return (logits, target) => {
        const d = softDiceLoss(logits, target, dice);
        return { loss: d, dice: d };
      };
    case 'ce':
      return (logits, target) => {
        const l = ce(logits, target);
        return { loss: l, ce: l };
      };
    case 'focal':
      return (logits, target) => {
        const l = focal(logits, target);
        return { loss: l, focal: l };
      };
    case 'dice-focal':
      return (logits, target) => {
        const d = softDiceLoss(logits, target, dice);
        const f = focal(logits, target);
        return { loss: d.mul(c.lambdaDice).add(f.mul(c.lambdaCE)), dice: d, focal: f };
      };
  }
}
