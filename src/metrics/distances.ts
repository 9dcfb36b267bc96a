// Picks the boundary model for a metric and reduces directed distance lists to numbers (engine ops; only scalars
// come back to JS).
import { F, type Tensor, tidy } from '../engine/index.ts';
import { type DirectedList, pixelSurfaceDistances, type SurfaceDistances } from './surface.ts';
import { as3dSlab, surfelSurfaceDistances } from './surfels.ts';

/** 'pixel' boundary pixels, 'surfel' DeepMind vertex grid, 'surfel-2d-as-3d' the CVPR24 one-slice view of 2D. */
export type DistanceKind = 'pixel' | 'surfel' | 'surfel-2d-as-3d';

/** Directed lists between bool masks pred and gt for a boundary model (see surface.ts / surfels.ts). */
export function surfaceDistancesOf(kind: DistanceKind, pred: Tensor, gt: Tensor, spacing: readonly number[]): SurfaceDistances {
  if (kind === 'pixel') return pixelSurfaceDistances(pred, gt, spacing);
  if (kind === 'surfel') return surfelSurfaceDistances(pred, gt, spacing);
  return tidy(() => {
    const p = as3dSlab(pred, spacing), g = as3dSlab(gt, spacing);
    return surfelSurfaceDistances(p.mask, g.mask, p.spacing);
  });
}

/**
 * NumPy's default percentile (method 'linear') of an ascending float64 tensor, q in [0, 100]: virtual index
 * n·q' + (1 − q') − 1 with q' = q/100, then a + (b − a)·g, or b − (b − a)(1 − g) when g ≥ 0.5 (numpy `_lerp`, which
 * torch.quantile's lerp matches). NaN for an empty list.
 */
export function percentileSorted(sorted: Tensor, q: number): number {
  const n = sorted.size(0);
  if (n === 0) return NaN;
  const qq = q / 100;
  const virtual = n * qq + (1 - qq) - 1;
  const lo = Math.min(Math.max(Math.floor(virtual), 0), n - 1);
  const hi = Math.min(lo + 1, n - 1);
  const g = virtual - Math.floor(virtual);
  const a = sorted.select(0, lo).item(), b = sorted.select(0, hi).item();
  const diff = b - a;
  return g >= 0.5 ? b - diff * (1 - g) : a + diff * g;
}

/** Percentile (NumPy linear) of an unsorted list. */
export function percentile(values: Tensor, q: number): number {
  return tidy(() => percentileSorted(values.sort(0)[0], q));
}

/**
 * DeepMind's area-weighted percentile (compute_robust_hausdorff, one direction): sort by distance, cumulative
 * area fraction cumsum(w)/sum(w), take the first distance whose fraction is ≥ q/100 (searchsorted, no
 * interpolation; clamped to the last). +inf for an empty list, as the package returns.
 */
export function weightedPercentile(list: DirectedList, q: number): number {
  const n = list.distances.size(0);
  if (n === 0) return Infinity;
  if (!list.weights) throw new Error('weightedPercentile: the list has no surfel weights (use a surfel boundary)');
  const w = list.weights;
  return tidy(() => {
    const [sorted, order] = list.distances.sort(0);
    const ws = w.index([order]);
    const fraction = ws.cumsum(0).div(ws.sum());
    const idx = Math.min(fraction.lt(q / 100).sum().item(), n - 1);
    return sorted.select(0, idx).item();
  });
}

/** Max of a list (−inf when empty, so it never wins a max). */
export function maxOf(values: Tensor): number {
  return values.size(0) === 0 ? -Infinity : tidy(() => values.max().item());
}

/** Σ d·w and Σ w of a list (w = 1 per element when the list is unweighted). */
export function weightedSums(list: DirectedList): { sum: number; weight: number } {
  return tidy(() => {
    if (!list.weights) return { sum: list.distances.sum().item(), weight: list.distances.size(0) };
    return { sum: list.distances.mul(list.weights).sum().item(), weight: list.weights.sum().item() };
  });
}

/** Σ w over elements with distance ≤ tolerance, and Σ w (counts when unweighted). Inclusive, as DeepMind and MONAI. */
export function withinTolerance(list: DirectedList, tolerance: number): { within: number; total: number } {
  return tidy(() => {
    const ok = list.distances.le(tolerance);
    if (!list.weights) return { within: ok.sum().item(), total: list.distances.size(0) };
    return { within: list.weights.maskedSelect(ok).sum().item(), total: list.weights.sum().item() };
  });
}

/** Both directed distance lists as one (pooled) list, weights kept aligned. */
export function pooled(sd: SurfaceDistances): DirectedList {
  return tidy(() => {
    const a = sd.predToGt, b = sd.gtToPred;
    const distances = F.cat([a.distances, b.distances], 0);
    if (!a.weights || !b.weights) return { distances };
    return { distances, weights: F.cat([a.weights, b.weights], 0) };
  });
}
