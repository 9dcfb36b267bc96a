// IoU (Jaccard): |P ∩ G| / |P ∪ G| = TP / (TP + FP + FN) = Dice / (2 − Dice).
//
// Convention: binary masks, non-zero = foreground, background not scored; no spacing (voxel counts).
// Empty masks follow the Dice rules of the convention (MedPy `jc`, MONAI MeanIoU share Dice's): default and MedPy →
// both empty 1, one empty 0; MONAI → NaN when the truth is empty; DeepMind (no IoU of its own) → NaN when both are.
import type { Tensor } from '../engine/index.ts';
import { type ConventionName, type EmptyRule, resolveConvention } from './conventions.ts';
import { type OverlapCounts, overlapCounts } from './confusion.ts';
import { EMPTY_OUTCOMES, emptyCaseOf } from './empty.ts';
import { checkMaskPair } from './input.ts';

/** IoU from confusion counts under an empty rule. */
export function iouFromCounts(c: OverlapCounts, empty: EmptyRule = 'default'): number {
  const e = emptyCaseOf(c.tp + c.fp, c.tp + c.fn);
  if (e !== null) return EMPTY_OUTCOMES[empty][e].iou as number;
  return c.tp / (c.tp + c.fp + c.fn);
}

export interface IoUOptions {
  convention?: ConventionName;
}

/** IoU of two binary masks of one shape (2D [H, W] or 3D [D, H, W], any dtype; non-zero = foreground). */
export function computeIoU(pred: Tensor, gt: Tensor, opts: IoUOptions = {}): number {
  checkMaskPair(pred, gt, 'computeIoU');
  return iouFromCounts(overlapCounts(pred, gt), resolveConvention(opts.convention).empty);
}
