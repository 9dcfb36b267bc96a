// Segmentation losses (one per file): soft Dice, BCE, CE, focal, Dice+CE / Dice+BCE, and boundary-aware pixel
// weights for BCE / CE. All take logits [N, C, *spatial] and a label map or dense target (see targets.ts).
export { type Activation, type Reduction, type PixelWeightFn, denseTarget, labelMap, activate } from './targets.ts';
export { type DiceLossOptions, softDiceLoss } from './dice.ts';
export { type BCELossOptions, bceLoss } from './bce.ts';
export { type CELossOptions, crossEntropyLoss } from './crossEntropy.ts';
export { type FocalLossOptions, focalLoss } from './focal.ts';
export { type DiceCELossOptions, type LossTerms, diceCELoss, diceBCELoss } from './compound.ts';
export { type BoundaryWeightOptions, boundaryDistance, boundaryWeights } from './boundary.ts';
