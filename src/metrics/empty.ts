// What each convention reports when the prediction, the truth or both are empty (no foreground for the label).
// null = undefined by the convention (MedPy raises, ours refuses to invent a distance); NaN and ±Infinity are what
// MONAI and DeepMind return. Summaries count null, NaN and infinite values separately instead of dropping them.
import type { EmptyRule } from './conventions.ts';

/** Which mask was empty: both, only the prediction, only the truth, or neither (null). */
export type EmptyCase = 'both-empty' | 'pred-empty' | 'gt-empty';

export interface EmptyOutcome {
  dice: number | null;
  iou: number | null;
  hd: number | null;
  hd95: number | null;
  assd: number | null;
  nsd: number | null;
}

const NONE = { hd: null, hd95: null, assd: null, nsd: null } as const;

export const EMPTY_OUTCOMES: Readonly<Record<EmptyRule, Readonly<Record<EmptyCase, Readonly<EmptyOutcome>>>>> = Object.freeze({
  default: {
    'both-empty': { dice: 1, iou: 1, hd: 0, hd95: 0, assd: 0, nsd: 1 },
    'pred-empty': { dice: 0, iou: 0, ...NONE },
    'gt-empty': { dice: 0, iou: 0, ...NONE },
  },
  medpy: {
    'both-empty': { dice: 1, iou: 1, ...NONE },
    'pred-empty': { dice: 0, iou: 0, ...NONE },
    'gt-empty': { dice: 0, iou: 0, ...NONE },
  },
  monai: {
    'both-empty': { dice: NaN, iou: NaN, hd: NaN, hd95: NaN, assd: NaN, nsd: NaN },
    'pred-empty': { dice: 0, iou: 0, hd: Infinity, hd95: NaN, assd: Infinity, nsd: 0 },
    'gt-empty': { dice: NaN, iou: NaN, hd: Infinity, hd95: NaN, assd: Infinity, nsd: 0 },
  },
  deepmind: {
    'both-empty': { dice: NaN, iou: NaN, hd: Infinity, hd95: Infinity, assd: NaN, nsd: NaN },
    'pred-empty': { dice: 0, iou: 0, hd: Infinity, hd95: Infinity, assd: NaN, nsd: 0 },
    'gt-empty': { dice: 0, iou: 0, hd: Infinity, hd95: Infinity, assd: NaN, nsd: 0 },
  },
});

/** The empty case from foreground counts, or null when both masks have foreground. */
export function emptyCaseOf(nPred: number, nGt: number): EmptyCase | null {
  if (nPred === 0 && nGt === 0) return 'both-empty';
  if (nPred === 0) return 'pred-empty';
  if (nGt === 0) return 'gt-empty';
  return null;
}
