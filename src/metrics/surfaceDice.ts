// Normalised surface distance (NSD, "surface Dice") at tolerance τ (spacing units, inclusive "≤ τ").
//
// Default convention = DeepMind / MedSAM: on the vertex grid (surfels.ts), (Σ area of G-surfels within τ of ∂P +
// Σ area of P-surfels within τ of ∂G) / (area G + area P). MONAI's default compute_surface_dice counts boundary
// pixels instead: (#{D_PG ≤ τ} + #{D_GP ≤ τ}) / (|∂P| + |∂G|). CVPR24 scores 2D masks as one-slice volumes and
// uses τ = 2. Empty masks: default → both empty 1, one empty null; DeepMind/MONAI → one empty 0, both empty NaN.
import { type Tensor, tidy } from '../engine/index.ts';
import { type ConventionName, type ConventionOverrides, type NsdRule, resolveConvention } from './conventions.ts';
import { overlapCounts } from './confusion.ts';
import { surfaceDistancesOf, withinTolerance } from './distances.ts';
import { EMPTY_OUTCOMES, emptyCaseOf } from './empty.ts';
import { checkMaskPair, normalizeSpacing, type Spacing } from './input.ts';
import type { SurfaceDistances } from './surface.ts';
import { invalid } from '../engine/validate.ts';

/** NSD from directed lists: area-weighted when they carry surfel weights, boundary-element counts otherwise. */
export function nsdFromDistances(sd: SurfaceDistances, tolerance: number): number {
  const a = withinTolerance(sd.predToGt, tolerance), b = withinTolerance(sd.gtToPred, tolerance);
  return (a.within + b.within) / (a.total + b.total);
}

/** The boundary model an NSD rule measures on. */
export const nsdDistanceKind = (rule: NsdRule): 'pixel' | 'surfel' | 'surfel-2d-as-3d' => (rule === 'pixel-count' ? 'pixel' : rule);

export function checkTolerance(tolerance: unknown): number {
  if (typeof tolerance !== 'number' || !Number.isFinite(tolerance) || tolerance < 0) throw invalid('a finite number >= 0', 'tolerance', tolerance);
  return tolerance;
}

export interface SurfaceDiceOptions {
  /** Per-axis spacing in the mask's axis order ([sz, sy, sx] for [D, H, W]); a scalar is isotropic; default 1. */
  spacing?: Spacing;
  /** τ in spacing units; default the convention's (1, CVPR24 2). */
  tolerance?: number;
  convention?: ConventionName;
  overrides?: ConventionOverrides;
}

/** NSD of two binary masks (2D [H, W] or 3D [D, H, W]; non-zero = foreground); empties per convention. */
export function computeSurfaceDice(pred: Tensor, gt: Tensor, opts: SurfaceDiceOptions = {}): number | null {
  checkMaskPair(pred, gt, 'computeSurfaceDice');
  const spec = resolveConvention(opts.convention, opts.overrides);
  const tolerance = checkTolerance(opts.tolerance ?? spec.tolerance);
  const spacing = normalizeSpacing(opts.spacing, pred.ndim);
  return tidy(() => {
    const p = pred.ne(0), g = gt.ne(0);
    const c = overlapCounts(p, g);
    const e = emptyCaseOf(c.tp + c.fp, c.tp + c.fn);
    if (e !== null) return EMPTY_OUTCOMES[spec.empty][e].nsd;
    return nsdFromDistances(surfaceDistancesOf(nsdDistanceKind(spec.nsd), p, g, spacing), tolerance);
  });
}
