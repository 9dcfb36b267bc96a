// Validation: the model's label maps scored per case with src/metrics. 2D cases are scored at the model's input
// resolution (cached, so validation costs one forward pass per batch; `samtutor evaluate` on predict's outputs
// gives original-resolution numbers); 3D volumes at their own grid, with HD95 in mm. A case's Dice is the mean
// over foreground labels (empty prediction and truth: Dice 1, HD95 0, the default convention); the epoch's
// valDice is the mean over cases, valHd95 the mean of the finite per-case HD95 values.
import { type Tensor, tidy } from '../engine/index.ts';
import { computeDice, computeHausdorff95 } from '../metrics/index.ts';
import type { CaseCache } from './cache.ts';
import { type LogitsFn, inferLogits } from './inference.ts';
import { type Preprocessing, labelsFromProbabilities, modelInput, probabilities } from './preprocess.ts';

/** Validation cases in the model frame: inputs [B, C, ...] float32, label maps [B, ...], spacing per case. */
export interface ValidationBatch {
  image: Tensor;
  mask: Tensor;
  ids: string[];
  spacings: number[][];
}

export interface CaseScore {
  id: string;
  dice: number | null;
  hd95: number | null;
}

/** [start, count] ranges over the cache: batches of `batch` (2D) or single volumes (3D). */
export function batchRanges(cache: CaseCache, batch: number): [number, number][] {
  const n = cache.ids.length;
  const size = cache.dims === 2 ? batch : 1;
  const out: [number, number][] = [];
  for (let s = 0; s < n; s += size) out.push([s, Math.min(size, n - s)]);
  return out;
}

/** The cases [start, start + count) of a cache as a batch (tensors join the caller's tidy scope). */
export function validationBatch(cache: CaseCache, start: number, count: number): ValidationBatch {
  const ids = cache.ids.slice(start, start + count);
  if (cache.dims === 2) {
    return { image: modelInput(cache.images!.narrow(0, start, count)), mask: cache.masks!.narrow(0, start, count), ids, spacings: ids.map(() => [1, 1]) };
  }
  return { image: cache.volumes![start]!.unsqueeze(0), mask: cache.labelMaps![start]!.unsqueeze(0), ids, spacings: [cache.spacings![start]!] };
}

const finiteOrNull = (v: number | null): number | null => (v !== null && Number.isFinite(v) ? v : null);
const mean = (xs: number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/** Scores every case of a batch: Dice per foreground label, averaged; HD95 likewise when asked. */
export function scoreCases(logits: LogitsFn, batch: ValidationBatch, prep: Preprocessing, o: { bf16: boolean; hd95: boolean }): CaseScore[] {
  return tidy(() => {
    const labels = labelsFromProbabilities(probabilities(inferLogits(logits, batch.image, prep, o.bf16), prep));
    return batch.ids.map((id, i) => {
      const pred = labels.select(0, i), gt = batch.mask.select(0, i);
      const dices: number[] = [], hds: number[] = [];
      for (let label = 1; label < prep.numClasses; label++) {
        tidy(() => {
          const p = pred.eq(label), g = gt.eq(label);
          const d = finiteOrNull(computeDice(p, g));
          if (d !== null) dices.push(d);
          const h = o.hd95 ? finiteOrNull(computeHausdorff95(p, g, { spacing: batch.spacings[i] })) : null;
          if (h !== null) hds.push(h);
        });
      }
      return { id, dice: mean(dices), hd95: mean(hds) };
    });
  });
}

/** The epoch's validation numbers: mean Dice over cases, mean of finite HD95s (null when none). */
export function summarizeScores(scores: CaseScore[]): { dice: number | null; hd95: number | null; cases: number } {
  const dice = mean(scores.map((s) => s.dice).filter((d): d is number => d !== null));
  const hd95 = mean(scores.map((s) => s.hd95).filter((d): d is number => d !== null));
  return { dice, hd95, cases: scores.length };
}
