// One case, every metric, per label: evaluateCase(pred, gt, {spacing, labels, convention, tolerance}).
//
// Masks: 2D [H, W] or 3D [D, H, W] Tensors of one shape, any integer or bool dtype (integral floats accepted),
// holding labels (0 = background, never scored). Each label c is scored one-vs-rest on P_c = (pred == c),
// G_c = (gt == c). Spacing is per axis in the mask's axis order ([sy, sx] for 2D, [sz, sy, sx] for 3D), a scalar
// meaning isotropic; distances, HD, HD95, ASSD and the NSD tolerance are in its units. Boundaries and distance
// lists are computed once per label and shared by the metrics that need them.
import { type Tensor, callTs, tidy } from '../engine/index.ts';
import { checkInt } from '../engine/validate.ts';
import { type ConventionName, type ConventionOverrides, type ConventionSpec, resolveConvention } from './conventions.ts';
import { overlapCounts, precisionFromCounts, recallFromCounts } from './confusion.ts';
import { diceFromCounts } from './dice.ts';
import { surfaceDistancesOf } from './distances.ts';
import { EMPTY_OUTCOMES, type EmptyCase, emptyCaseOf } from './empty.ts';
import { hausdorffFromDistances } from './hausdorff.ts';
import { binaryOf, checkIntegerLabels, checkMaskPair, normalizeSpacing, type Spacing } from './input.ts';
import { iouFromCounts } from './iou.ts';
import { assdFromDistances } from './surfaceDistance.ts';
import { checkTolerance, nsdDistanceKind, nsdFromDistances } from './surfaceDice.ts';

/** The per-label result of one case. Distances are in spacing units; null = undefined under the convention. */
export interface MetricRecord {
  /** Case identifier given by the caller ('' if none). */
  case: string;
  label: number;
  dice: number | null;
  iou: number | null;
  hd: number | null;
  hd95: number | null;
  /** ASSD, or what the convention's `assd` rule reports (MONAI: directed ASD P→G). */
  assd: number | null;
  nsd: number | null;
  precision: number | null;
  recall: number | null;
  /** Which mask was empty for this label, or null. */
  emptyRule: EmptyCase | null;
  /** Exactly one of prediction and truth is empty: a missed or hallucinated structure, distances undefined. */
  failed: boolean;
  /** Mask shape (resolution), [H, W] or [D, H, W]. */
  shape: number[];
  /** Spacing used, per axis in the mask's axis order. */
  spacing: number[];
  convention: ConventionName;
  /** NSD tolerance τ in spacing units. */
  tolerance: number;
}

export interface EvaluateOptions {
  /** Per-axis spacing in the mask's axis order ([sz, sy, sx] for [D, H, W]); a scalar is isotropic; default 1. */
  spacing?: Spacing;
  /** Labels to score (non-zero integers). Default: the convention's rule ('present': non-zero labels of pred ∪ gt,
   * or [1] when both are empty; CVPR24: 1..max(gt)). A listed label absent from both masks gets a both-empty record. */
  labels?: readonly number[];
  convention?: ConventionName;
  /** Change single rules of the named convention (e.g. {assd: 'pooled'} for MONAI's symmetric ASD). */
  overrides?: ConventionOverrides;
  /** NSD tolerance τ in spacing units; default the convention's (1, CVPR24 2). */
  tolerance?: number;
  /** Stored in each record's `case` field (and the CSV). */
  caseId?: string;
}

function uniqueLabels(t: Tensor): number[] {
  return tidy(() => (callTs('_unique2', [t, true, false, false])[0]!).toArray());
}

function labelsFor(pred: Tensor, gt: Tensor, spec: ConventionSpec, given?: readonly number[]): number[] {
  if (given !== undefined) {
    if (!Array.isArray(given) || given.length === 0) throw new TypeError(`Expected a non-empty list of labels for labels but received ${String(given)}`);
    return given.map((l, i) => checkInt(l, `labels[${i}]`, 1));
  }
  if (spec.labels === 'one-to-max-gt') {
    const max = tidy(() => gt.max().item());
    return max >= 1 ? Array.from({ length: Math.floor(max) }, (_, i) => i + 1) : [1];
  }
  const present = [...new Set([...uniqueLabels(pred), ...uniqueLabels(gt)])].filter((l) => l !== 0).sort((a, b) => a - b);
  return present.length > 0 ? present : [1];
}

type Values = Pick<MetricRecord, 'dice' | 'iou' | 'hd' | 'hd95' | 'assd' | 'nsd' | 'precision' | 'recall'>;

/** Every metric for one binary pair (bool masks), sharing the distance lists between metrics. */
function scorePair(p: Tensor, g: Tensor, spec: ConventionSpec, spacing: number[], tolerance: number): { values: Values; empty: EmptyCase | null } {
  return tidy(() => {
    const counts = overlapCounts(p, g);
    const empty = emptyCaseOf(counts.tp + counts.fp, counts.tp + counts.fn);
    const base = {
      dice: diceFromCounts(counts, spec.empty),
      iou: iouFromCounts(counts, spec.empty),
      precision: precisionFromCounts(counts, spec.zeroDivision),
      recall: recallFromCounts(counts, spec.zeroDivision),
    };
    if (empty !== null) {
      const o = EMPTY_OUTCOMES[spec.empty][empty];
      return { values: { ...base, hd: o.hd, hd95: o.hd95, assd: o.assd, nsd: o.nsd }, empty };
    }
    const boundary = surfaceDistancesOf(spec.boundary, p, g, spacing);
    const nsdKind = nsdDistanceKind(spec.nsd);
    const nsdLists = nsdKind === spec.boundary ? boundary : surfaceDistancesOf(nsdKind, p, g, spacing);
    return {
      values: {
        ...base,
        hd: hausdorffFromDistances(boundary, 100, spec.percentile),
        hd95: hausdorffFromDistances(boundary, 95, spec.percentile),
        assd: assdFromDistances(boundary, spec.assd),
        nsd: nsdFromDistances(nsdLists, tolerance),
      },
      empty,
    };
  });
}

/**
 * Scores one case per label under a named convention (default 'default'; see conventions.ts), returning one
 * MetricRecord per label in ascending label order. Under CVPR24 the case-level gate applies: if the mean Dice over
 * the labels is not > 0.2 (a NaN Dice makes it fail), every label's NSD is 0.
 */
export function evaluateCase(pred: Tensor, gt: Tensor, opts: EvaluateOptions = {}): MetricRecord[] {
  checkMaskPair(pred, gt, 'evaluateCase');
  checkIntegerLabels(pred, 'pred');
  checkIntegerLabels(gt, 'gt');
  const spec = resolveConvention(opts.convention, opts.overrides);
  const spacing = normalizeSpacing(opts.spacing, pred.ndim);
  const tolerance = checkTolerance(opts.tolerance ?? spec.tolerance);
  const labels = labelsFor(pred, gt, spec, opts.labels);
  const shape = pred.shape;
  const records = labels.map((label): MetricRecord => {
    const { values, empty } = tidy(() => scorePair(binaryOf(pred, label), binaryOf(gt, label), spec, spacing, tolerance));
    return {
      case: opts.caseId ?? '', label, ...values, emptyRule: empty, failed: empty === 'pred-empty' || empty === 'gt-empty',
      shape: [...shape], spacing: [...spacing], convention: spec.name, tolerance,
    };
  });
  if (spec.nsdDiceGate !== null) {
    const meanDice = records.reduce((s, r) => s + (r.dice ?? NaN), 0) / records.length;
    if (!(meanDice > spec.nsdDiceGate)) for (const r of records) r.nsd = 0;
  }
  return records;
}
