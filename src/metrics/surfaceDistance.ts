// Average symmetric surface distance (ASSD) and its directed variant (ASD), in spacing units.
//
// Default convention: ASSD = mean of the pooled list D_PG ∪ D_GP, each boundary pixel weighted equally (MedPy ≥ 0.5
// `assd`, MONAI `symmetric=True`). MONAI's default `compute_average_surface_distance` is directed (mean of D_PG
// only); MedPy ≤ 0.4 and the usual use of DeepMind's pair average the two directed means, DeepMind area-weighting
// each on its vertex grid. Boundaries and distances as in hausdorff.ts. Empty masks: see EMPTY_OUTCOMES.
import { type Tensor, tidy } from '../engine/index.ts';
import { type AssdRule, type ConventionName, type ConventionOverrides, resolveConvention } from './conventions.ts';
import { overlapCounts } from './confusion.ts';
import { surfaceDistancesOf, weightedSums } from './distances.ts';
import { EMPTY_OUTCOMES, emptyCaseOf } from './empty.ts';
import { checkMaskPair, normalizeSpacing, type Spacing } from './input.ts';
import type { DirectedList, SurfaceDistances } from './surface.ts';

const mean = (l: DirectedList): number => {
  const s = weightedSums(l);
  return s.sum / s.weight;
};

/** The `assd` value of two non-empty directed lists under a rule (area-weighted when the lists carry weights). */
export function assdFromDistances(sd: SurfaceDistances, rule: AssdRule): number {
  if (rule === 'directed') return mean(sd.predToGt);
  if (rule === 'mean-of-directed-means') return (mean(sd.gtToPred) + mean(sd.predToGt)) / 2;
  const a = weightedSums(sd.predToGt), b = weightedSums(sd.gtToPred);
  return (a.sum + b.sum) / (a.weight + b.weight);
}

export interface SurfaceDistanceOptions {
  /** Per-axis spacing in the mask's axis order ([sz, sy, sx] for [D, H, W]); a scalar is isotropic; default 1. */
  spacing?: Spacing;
  convention?: ConventionName;
  overrides?: ConventionOverrides;
}

function compute(pred: Tensor, gt: Tensor, opts: SurfaceDistanceOptions, rule: AssdRule | null, op: string): number | null {
  checkMaskPair(pred, gt, op);
  const spec = resolveConvention(opts.convention, opts.overrides);
  const spacing = normalizeSpacing(opts.spacing, pred.ndim);
  return tidy(() => {
    const p = pred.ne(0), g = gt.ne(0);
    const c = overlapCounts(p, g);
    const e = emptyCaseOf(c.tp + c.fp, c.tp + c.fn);
    if (e !== null) return EMPTY_OUTCOMES[spec.empty][e].assd;
    return assdFromDistances(surfaceDistancesOf(spec.boundary, p, g, spacing), rule ?? spec.assd);
  });
}

/** ASSD (or what the convention's `assd` rule reports) of two binary masks; empties per convention. */
export function computeASSD(pred: Tensor, gt: Tensor, opts: SurfaceDistanceOptions = {}): number | null {
  return compute(pred, gt, opts, null, 'computeASSD');
}

/** Directed average surface distance, mean of D_PG (prediction → truth), as MONAI's default ASD. */
export function computeASD(pred: Tensor, gt: Tensor, opts: SurfaceDistanceOptions = {}): number | null {
  return compute(pred, gt, opts, 'directed', 'computeASD');
}
