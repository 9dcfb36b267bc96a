// Dice (Sørensen–Dice, F1 of voxels): 2|P ∩ G| / (|P| + |G|) = 2TP / (2TP + FP + FN).
//
// Convention: binary masks, non-zero = foreground, background not scored; no spacing (voxel counts).
// Empty masks (EMPTY_OUTCOMES): default and MedPy ≥ 0.5 → both empty 1, one empty 0; MONAI (ignore_empty=True) →
// NaN whenever the truth is empty, 0 when only the prediction is; DeepMind → NaN when both are empty.
import type { Tensor } from '../engine/index.ts';
import { type ConventionName, type EmptyRule, resolveConvention } from './conventions.ts';
import { type OverlapCounts, overlapCounts } from './confusion.ts';
import { EMPTY_OUTCOMES, emptyCaseOf } from './empty.ts';
import { checkMaskPair } from './input.ts';

/** Dice from confusion counts under an empty rule. */
export function diceFromCounts(c: OverlapCounts, empty: EmptyRule = 'default'): number {
  const e = emptyCaseOf(c.tp + c.fp, c.tp + c.fn);
  if (e !== null) return EMPTY_OUTCOMES[empty][e].dice as number;
  return (2 * c.tp) / (2 * c.tp + c.fp + c.fn);
}

export interface DiceOptions {
  convention?: ConventionName;
}

/** Dice of two binary masks of one shape (2D [H, W] or 3D [D, H, W], any dtype; non-zero = foreground). */
export function computeDice(pred: Tensor, gt: Tensor, opts: DiceOptions = {}): number {
  checkMaskPair(pred, gt, 'computeDice');
  return diceFromCounts(overlapCounts(pred, gt), resolveConvention(opts.convention).empty);
}
