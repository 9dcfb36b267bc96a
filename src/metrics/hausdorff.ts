// Hausdorff distance (HD) and its 95th-percentile version (HD95), in spacing units (mm when spacing is in mm).
//
// Default convention: boundaries ∂X = X XOR erode(X) (cross element, outside the image = background), Euclidean
// distances between pixel centres scaled by spacing, D_PG from each ∂P pixel to the nearest ∂G pixel and D_GP
// likewise. HD = max(max D_PG, max D_GP). HD95 = max(perc95(D_PG), perc95(D_GP)) with NumPy's default linear
// percentile (MONAI HausdorffDistanceMetric(percentile=95) agrees). MedPy `hd95` instead takes perc95 of the pooled
// list; DeepMind `compute_robust_hausdorff` takes area-weighted percentiles on its vertex grid, without
// interpolation. Empty masks: see EMPTY_OUTCOMES (default: both empty 0, one empty null).
import { type Tensor, tidy } from '../engine/index.ts';
import { type ConventionName, type ConventionOverrides, type PercentileRule, resolveConvention } from './conventions.ts';
import { overlapCounts } from './confusion.ts';
import { maxOf, percentile, pooled, surfaceDistancesOf, weightedPercentile } from './distances.ts';
import { EMPTY_OUTCOMES, emptyCaseOf } from './empty.ts';
import { checkMaskPair, normalizeSpacing, type Spacing } from './input.ts';
import type { SurfaceDistances } from './surface.ts';

/**
 * The q-th percentile Hausdorff distance (q = 100: HD) from two non-empty directed lists.
 * 'max-of-directed' → max of the directed percentiles; 'pooled' → percentile of the pooled list; 'area-weighted' →
 * max of DeepMind's area-weighted directed percentiles. For q = 100 every rule gives the largest distance.
 */
export function hausdorffFromDistances(sd: SurfaceDistances, q: number, rule: PercentileRule): number {
  if (q === 100) return Math.max(maxOf(sd.predToGt.distances), maxOf(sd.gtToPred.distances));
  if (rule === 'area-weighted') return Math.max(weightedPercentile(sd.predToGt, q), weightedPercentile(sd.gtToPred, q));
  if (rule === 'pooled') return tidy(() => percentile(pooled(sd).distances, q));
  return Math.max(percentile(sd.predToGt.distances, q), percentile(sd.gtToPred.distances, q));
}

export interface HausdorffOptions {
  /** Per-axis spacing in the mask's axis order ([sz, sy, sx] for [D, H, W]); a scalar is isotropic; default 1. */
  spacing?: Spacing;
  convention?: ConventionName;
  overrides?: ConventionOverrides;
}

function compute(pred: Tensor, gt: Tensor, q: number, opts: HausdorffOptions, op: string): number | null {
  checkMaskPair(pred, gt, op);
  const spec = resolveConvention(opts.convention, opts.overrides);
  const spacing = normalizeSpacing(opts.spacing, pred.ndim);
  return tidy(() => {
    const p = pred.ne(0), g = gt.ne(0);
    const c = overlapCounts(p, g);
    const e = emptyCaseOf(c.tp + c.fp, c.tp + c.fn);
    if (e !== null) return q === 100 ? EMPTY_OUTCOMES[spec.empty][e].hd : EMPTY_OUTCOMES[spec.empty][e].hd95;
    const sd = surfaceDistancesOf(spec.boundary, p, g, spacing);
    return hausdorffFromDistances(sd, q, spec.percentile);
  });
}

/** HD of two binary masks (2D [H, W] or 3D [D, H, W]; non-zero = foreground); null/NaN/inf for empties per convention. */
export function computeHausdorff(pred: Tensor, gt: Tensor, opts: HausdorffOptions = {}): number | null {
  return compute(pred, gt, 100, opts, 'computeHausdorff');
}

/** HD95 of two binary masks under the convention's percentile rule. */
export function computeHausdorff95(pred: Tensor, gt: Tensor, opts: HausdorffOptions = {}): number | null {
  return compute(pred, gt, 95, opts, 'computeHausdorff95');
}
