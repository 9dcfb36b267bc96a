// Counting metrics from the confusion matrix of two binary masks: precision, recall (sensitivity), specificity.
// TP = |P ∩ G|, FP = |P \ G|, FN = |G \ P|, TN = the rest. Foreground is any non-zero value; background does not
// count as a class. No spacing: these are voxel counts.
import type { Tensor } from '../engine/index.ts';
import { tidy } from '../engine/index.ts';
import { type ConventionName, type ZeroDivisionRule, resolveConvention } from './conventions.ts';
import { checkMaskPair } from './input.ts';

export interface OverlapCounts {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

/** TP, FP, FN, TN of two masks of one shape (non-zero = foreground), counted natively. */
export function overlapCounts(pred: Tensor, gt: Tensor): OverlapCounts {
  return tidy(() => {
    const p = pred.ne(0), g = gt.ne(0);
    const tp = p.logicalAnd(g).sum().item();
    const nP = p.sum().item(), nG = g.sum().item();
    return { tp, fp: nP - tp, fn: nG - tp, tn: pred.numel - nP - nG + tp };
  });
}

/**
 * num / den with the convention's zero-denominator rule: 'default' → 1 when both masks are empty (nothing to find,
 * nothing found) else 0; 'zero' → 0 (MedPy); 'nan' → NaN (MONAI ConfusionMatrixMetric).
 */
export function ratio(num: number, den: number, rule: ZeroDivisionRule, bothEmpty: boolean): number {
  if (den > 0) return num / den;
  if (rule === 'nan') return NaN;
  if (rule === 'zero') return 0;
  return bothEmpty ? 1 : 0;
}

const bothEmptyOf = (c: OverlapCounts): boolean => c.tp + c.fp + c.fn === 0;

/** Precision = TP / (TP + FP) (positive predictive value). */
export const precisionFromCounts = (c: OverlapCounts, rule: ZeroDivisionRule = 'default'): number =>
  ratio(c.tp, c.tp + c.fp, rule, bothEmptyOf(c));

/** Recall = sensitivity = TP / (TP + FN). */
export const recallFromCounts = (c: OverlapCounts, rule: ZeroDivisionRule = 'default'): number =>
  ratio(c.tp, c.tp + c.fn, rule, bothEmptyOf(c));

/** Specificity = TN / (TN + FP); the zero-denominator case (truth covers the whole image) follows `rule` with 'default' → 1 when the prediction also has no false positives. */
export const specificityFromCounts = (c: OverlapCounts, rule: ZeroDivisionRule = 'default'): number =>
  ratio(c.tn, c.tn + c.fp, rule, c.fp === 0);

export interface CountMetricOptions {
  convention?: ConventionName;
}

/** Precision of binary masks (non-zero = foreground) under a named convention's zero-denominator rule. */
export function computePrecision(pred: Tensor, gt: Tensor, opts: CountMetricOptions = {}): number {
  checkMaskPair(pred, gt, 'computePrecision');
  return precisionFromCounts(overlapCounts(pred, gt), resolveConvention(opts.convention).zeroDivision);
}

/** Recall (sensitivity) of binary masks under a named convention's zero-denominator rule. */
export function computeRecall(pred: Tensor, gt: Tensor, opts: CountMetricOptions = {}): number {
  checkMaskPair(pred, gt, 'computeRecall');
  return recallFromCounts(overlapCounts(pred, gt), resolveConvention(opts.convention).zeroDivision);
}

/** Specificity of binary masks under a named convention's zero-denominator rule. */
export function computeSpecificity(pred: Tensor, gt: Tensor, opts: CountMetricOptions = {}): number {
  checkMaskPair(pred, gt, 'computeSpecificity');
  return specificityFromCounts(overlapCounts(pred, gt), resolveConvention(opts.convention).zeroDivision);
}
