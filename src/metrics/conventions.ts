// Named metric conventions: samtutor's default and the conventions of MedPy, MONAI, DeepMind surface-distance and
// the CVPR24 MedSAM-on-laptop challenge. Every difference between them is one field of ConventionSpec, so a user
// can read exactly what changes (see ../shared/reference/metrics.md for sources and worked examples).
import { invalid } from '../engine/validate.ts';

export const CONVENTION_NAMES = ['default', 'medpy', 'monai', 'deepmind', 'cvpr24'] as const;
/** A closed set of named conventions; an unknown name is an error that lists these. */
export type ConventionName = (typeof CONVENTION_NAMES)[number];

/**
 * Which boundary the distance metrics (HD, HD95, ASSD) measure.
 * - 'pixel': ∂X = X XOR erode(X) with the cross (connectivity-1) element, outside the image = background;
 *   distances between pixel centres (MedPy, MONAI, our default).
 * - 'surfel': DeepMind's vertex grid (a 2×2(×2) neighbourhood code per pixel corner); each border vertex carries
 *   the contour length (2D) or surface area (3D) of its surfels and statistics are area-weighted.
 */
export type BoundaryKind = 'pixel' | 'surfel';

/**
 * How HD95 combines the two directed distance lists D_PG (pred→gt) and D_GP (gt→pred).
 * - 'max-of-directed': max(perc95(D_PG), perc95(D_GP)), NumPy-linear percentiles (default, MONAI).
 * - 'pooled': perc95(D_PG ∪ D_GP), NumPy-linear (MedPy `hd95`).
 * - 'area-weighted': per direction the first distance whose cumulative area fraction is ≥ 0.95 (no interpolation),
 *   then the max (DeepMind `compute_robust_hausdorff(sd, 95)`; requires boundary 'surfel').
 */
export type PercentileRule = 'max-of-directed' | 'pooled' | 'area-weighted';

/**
 * What the `assd` field reports.
 * - 'pooled': mean of D_PG ∪ D_GP, each boundary element weighted equally (default, MedPy ≥ 0.5 `assd`,
 *   MONAI `symmetric=True`); with boundary 'surfel' the pooled mean is area-weighted.
 * - 'directed': mean of D_PG only (MONAI `compute_average_surface_distance` default, `symmetric=False`).
 * - 'mean-of-directed-means': (mean D_PG + mean D_GP) / 2 (MedPy ≤ 0.4; with 'surfel', the plain mean of
 *   DeepMind's area-weighted pair `compute_average_surface_distance`).
 */
export type AssdRule = 'pooled' | 'directed' | 'mean-of-directed-means';

/**
 * How NSD (normalised surface distance, surface Dice at tolerance τ) is measured. Always "distance ≤ τ" (inclusive).
 * - 'surfel': DeepMind surface Dice: (Σ area of G-surfels within τ + Σ area of P-surfels within τ) / (area G + area P).
 * - 'surfel-2d-as-3d': as 'surfel', but 2D masks are evaluated as one-slice volumes [H, W, 1] with spacing
 *   [s0, s1, 1] (CVPR24 `compute_metrics.py` expands 2D cases so the top and bottom faces enter the areas).
 * - 'pixel-count': (#{D_PG ≤ τ} + #{D_GP ≤ τ}) / (|∂P| + |∂G|) over boundary pixels (MONAI `compute_surface_dice`
 *   default, `use_subvoxels=False`).
 */
export type NsdRule = 'surfel' | 'surfel-2d-as-3d' | 'pixel-count';

/**
 * What happens when a mask is empty (see EMPTY_OUTCOMES in evaluate.ts for the full table).
 * - 'default': both empty → Dice = IoU = 1, HD = HD95 = ASSD = 0, NSD = 1; exactly one empty → Dice = IoU = 0 and
 *   the distance metrics are null (a failure).
 * - 'medpy': Dice/IoU as default (MedPy ≥ 0.5); the distance metrics raise RuntimeError in MedPy whenever either
 *   mask is empty: here null.
 * - 'monai': Dice/IoU NaN when the truth is empty (`ignore_empty=True`), 0 when only the prediction is; one mask
 *   empty → HD = inf, HD95 = NaN, ASD = inf, NSD = 0; both empty → all NaN.
 * - 'deepmind': Dice/IoU NaN when both are empty; one empty → HD = HD95 = inf, ASSD NaN, NSD 0; both empty →
 *   HD = HD95 = inf, ASSD = NaN, NSD = NaN.
 */
export type EmptyRule = 'default' | 'medpy' | 'monai' | 'deepmind';

/**
 * Precision/recall with a zero denominator (TP + FP = 0 or TP + FN = 0).
 * - 'default': 1 when both masks are empty, otherwise 0 (in step with Dice).
 * - 'zero': 0 always (MedPy `precision`/`recall`).
 * - 'nan': NaN (MONAI `ConfusionMatrixMetric`; DeepMind has no such metric, NaN keeps its style).
 */
export type ZeroDivisionRule = 'default' | 'zero' | 'nan';

/**
 * Which labels a multi-label case is evaluated on (label 0 is background and never scored).
 * - 'present': every non-zero label found in pred ∪ gt (or the labels the caller lists).
 * - 'one-to-max-gt': 1..max(gt), as CVPR24 does (a label absent from both masks gets a both-empty record).
 */
export type LabelRule = 'present' | 'one-to-max-gt';

export interface ConventionSpec {
  readonly name: ConventionName;
  readonly boundary: BoundaryKind;
  readonly percentile: PercentileRule;
  readonly assd: AssdRule;
  readonly nsd: NsdRule;
  readonly empty: EmptyRule;
  readonly zeroDivision: ZeroDivisionRule;
  readonly labels: LabelRule;
  /** NSD tolerance τ in spacing units (mm when spacing is in mm) used when the caller gives none. */
  readonly tolerance: number;
  /** CVPR24: NSD is set to 0 for every label of a case whose mean Dice (over its labels) is not > this. */
  readonly nsdDiceGate: number | null;
  /** One line per departure from the default, for reports and docs. */
  readonly notes: readonly string[];
}

const DEFAULT: ConventionSpec = {
  name: 'default',
  boundary: 'pixel',
  percentile: 'max-of-directed',
  assd: 'pooled',
  nsd: 'surfel',
  empty: 'default',
  zeroDivision: 'default',
  labels: 'present',
  tolerance: 1,
  nsdDiceGate: null,
  notes: [
    'boundary = X XOR erode(X), cross element, outside the image is background; Euclidean distances in spacing units',
    'HD95 = max of the two directed NumPy-linear 95th percentiles; ASSD = mean of the pooled directed distances',
    'NSD = DeepMind surfel surface Dice at tolerance (inclusive)',
    'both empty: Dice = IoU = 1, HD = HD95 = ASSD = 0, NSD = 1; one empty: Dice = IoU = 0, distances null (failure)',
  ],
};

/** The registry: frozen, keyed by name. */
export const CONVENTIONS: Readonly<Record<ConventionName, ConventionSpec>> = Object.freeze({
  default: Object.freeze(DEFAULT),
  medpy: Object.freeze<ConventionSpec>({
    ...DEFAULT,
    name: 'medpy',
    percentile: 'pooled',
    empty: 'medpy',
    zeroDivision: 'zero',
    notes: [
      'hd95 = 95th percentile of the pooled list D_PG ∪ D_GP (not the max of directed percentiles)',
      'assd = pooled mean (MedPy ≥ 0.5; use overrides {assd: "mean-of-directed-means"} for ≤ 0.4)',
      'distance metrics null whenever either mask is empty (MedPy raises RuntimeError)',
      'precision/recall 0 on a zero denominator',
      'MedPy has no NSD: the default DeepMind surfel NSD is reported',
    ],
  }),
  monai: Object.freeze<ConventionSpec>({
    ...DEFAULT,
    name: 'monai',
    assd: 'directed',
    nsd: 'pixel-count',
    empty: 'monai',
    zeroDivision: 'nan',
    notes: [
      'assd column = MONAI compute_average_surface_distance default (symmetric=False): mean of D_PG only',
      'NSD = boundary-pixel counts within tolerance (compute_surface_dice, use_subvoxels=False)',
      'Dice/IoU NaN when the truth is empty (ignore_empty=True); one empty: HD inf, HD95 NaN, ASD inf, NSD 0; both empty: NaN',
      'precision/recall NaN on a zero denominator (ConfusionMatrixMetric)',
    ],
  }),
  deepmind: Object.freeze<ConventionSpec>({
    ...DEFAULT,
    name: 'deepmind',
    boundary: 'surfel',
    percentile: 'area-weighted',
    assd: 'mean-of-directed-means',
    empty: 'deepmind',
    zeroDivision: 'nan',
    notes: [
      'all surface metrics on the vertex grid, area-weighted (compute_surface_distances)',
      'HD95 = compute_robust_hausdorff(95): first distance with cumulative area fraction ≥ 0.95, no interpolation',
      'assd column = plain mean of the area-weighted pair compute_average_surface_distance (G→P, P→G)',
      'Dice NaN when both empty; empty: HD/HD95 inf, ASSD NaN, NSD 0 (one empty) or NaN (both empty)',
      'IoU, precision and recall are not in the package: standard formulas, NaN on 0/0',
    ],
  }),
  cvpr24: Object.freeze<ConventionSpec>({
    ...DEFAULT,
    name: 'cvpr24',
    boundary: 'surfel',
    percentile: 'area-weighted',
    assd: 'mean-of-directed-means',
    nsd: 'surfel-2d-as-3d',
    empty: 'deepmind',
    zeroDivision: 'nan',
    labels: 'one-to-max-gt',
    tolerance: 2,
    nsdDiceGate: 0.2,
    notes: [
      'the DeepMind package as CVPR24 compute_metrics.py calls it: labels 1..max(gt), tolerance 2.0',
      '2D masks are scored as [H, W, 1] volumes (spacing [s0, s1, 1]) for NSD',
      'NSD = 0 for every label when the case mean Dice is not > 0.2 (NaN Dice of a both-empty label included)',
      'the challenge defines only DSC and NSD; HD/HD95/ASSD follow the deepmind convention; values are not rounded to 4 decimals',
    ],
  }),
});

/** Fields a caller may override on top of a named convention (name and notes stay those of the base). */
export type ConventionOverrides = Partial<Omit<ConventionSpec, 'name' | 'notes'>>;

/** The spec for a name, with optional overrides; throws listing the valid names for an unknown one. */
export function resolveConvention(name: ConventionName | undefined = 'default', overrides: ConventionOverrides = {}): ConventionSpec {
  if (typeof name !== 'string' || !(CONVENTION_NAMES as readonly string[]).includes(name)) {
    throw invalid(`one of ${CONVENTION_NAMES.join(', ')}`, 'convention', name);
  }
  const spec = { ...CONVENTIONS[name], ...overrides };
  if (spec.percentile === 'area-weighted' && spec.boundary !== 'surfel') {
    throw invalid("boundary 'surfel' with percentile 'area-weighted'", 'convention overrides', JSON.stringify(overrides));
  }
  if (!(Number.isFinite(spec.tolerance) && spec.tolerance >= 0)) throw invalid('a finite number >= 0', 'tolerance', spec.tolerance);
  return Object.freeze(spec);
}
