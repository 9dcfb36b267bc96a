// Dice + cross-entropy, the default segmentation loss of nnU-Net (DC_and_CE_loss / DC_and_BCE_loss) and MONAI
// (DiceCELoss): loss = λ_dice · softDice + λ_ce · CE, with BCE-with-logits in place of CE for one-channel logits.
// The terms come back separately so trainers can log them.
import { type Tensor, tidy } from '../../engine/index.ts';
import { checkNumber } from '../../engine/validate.ts';
import { type BCELossOptions, bceLoss } from './bce.ts';
import { type CELossOptions, crossEntropyLoss } from './crossEntropy.ts';
import { type DiceLossOptions, softDiceLoss } from './dice.ts';
import { checkLogits } from './targets.ts';

export interface DiceCELossOptions {
  dice?: Omit<DiceLossOptions, 'reduction'>;
  /** CE options (C ≥ 2) or BCE options (C = 1); pixelWeights works for both (e.g. boundaryWeights()). */
  ce?: Omit<CELossOptions, 'reduction'> & Omit<BCELossOptions, 'reduction'>;
  lambdaDice?: number;
  lambdaCE?: number;
}

/** The weighted sum and its two terms, each a scalar tensor. */
export interface LossTerms {
  loss: Tensor;
  [term: string]: Tensor;
}

/** Dice + CE (C ≥ 2) or Dice + BCE (C = 1) of logits [N, C, *spatial] against a label map or dense target. */
export function diceCELoss(logits: Tensor, target: Tensor, o: DiceCELossOptions = {}): LossTerms {
  const c = checkLogits(logits, 'diceCELoss');
  const lambdaDice = checkNumber(o.lambdaDice ?? 1, 'lambdaDice', 0);
  const lambdaCE = checkNumber(o.lambdaCE ?? 1, 'lambdaCE', 0);
  return tidy(() => {
    const dice = softDiceLoss(logits, target, o.dice);
    const ce = c === 1 ? bceLoss(logits, target, o.ce) : crossEntropyLoss(logits, target, o.ce);
    return { loss: dice.mul(lambdaDice).add(ce.mul(lambdaCE)), dice, ce };
  });
}

/** diceCELoss for one-channel logits, named as the binary form is usually called. */
export function diceBCELoss(logits: Tensor, target: Tensor, o: DiceCELossOptions = {}): LossTerms {
  const c = checkLogits(logits, 'diceBCELoss');
  if (c !== 1) throw new RangeError(`diceBCELoss: expected one-channel logits but received ${c} channels (use diceCELoss)`);
  return diceCELoss(logits, target, o);
}
