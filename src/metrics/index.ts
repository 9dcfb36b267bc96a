// Segmentation metrics (2D and 3D, spacing-aware) with named conventions: default, medpy, monai, deepmind, cvpr24.
// One metric per file; shared surface machinery in surface.ts / surfels.ts / distances.ts.
export {
  CONVENTIONS, CONVENTION_NAMES, resolveConvention,
  type AssdRule, type BoundaryKind, type ConventionName, type ConventionOverrides, type ConventionSpec, type EmptyRule,
  type LabelRule, type NsdRule, type PercentileRule, type ZeroDivisionRule,
} from './conventions.ts';
export { EMPTY_OUTCOMES, emptyCaseOf, type EmptyCase, type EmptyOutcome } from './empty.ts';
export { type Spacing, normalizeSpacing } from './input.ts';
export {
  computePrecision, computeRecall, computeSpecificity, overlapCounts, precisionFromCounts, recallFromCounts,
  specificityFromCounts, type OverlapCounts,
} from './confusion.ts';
export { computeDice, diceFromCounts } from './dice.ts';
export { computeIoU, iouFromCounts } from './iou.ts';
export { computeHausdorff, computeHausdorff95, hausdorffFromDistances } from './hausdorff.ts';
export { assdFromDistances, computeASD, computeASSD } from './surfaceDistance.ts';
export { computeSurfaceDice, nsdFromDistances } from './surfaceDice.ts';
export {
  boundaryPixels, boundingBox, directedDistances, disposeSurfaceDistances, erodeCross, gridNearestDistances, nearestDistances,
  pixelSurfaceDistances, type DirectedList, type SurfaceDistances,
} from './surface.ts';
export { contourLengthTable, neighbourCodes, surfaceAreaTable, surfelSurfaceDistances } from './surfels.ts';
export { percentile, percentileSorted, surfaceDistancesOf, weightedPercentile, type DistanceKind } from './distances.ts';
export { evaluateCase, type EvaluateOptions, type MetricRecord } from './evaluate.ts';
export {
  METRIC_KEYS, REDUCTIONS, recordsToCsv, reduce, summarize, summarizeValues, summaryToJson, writeRecordsCsv,
  writeSummaryJson, type GroupSummary, type MetricKey, type MetricSummary, type Reduction, type Summary,
} from './summary.ts';
