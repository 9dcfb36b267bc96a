// Sliding-window inference as MONAI's sliding_window_inference: windows of roiSize scan the input with
// int(roi·(1 − overlap)) steps (the last window shifted back to end at the border), run through a predictor
// function in batches, and are blended with a Gaussian (or constant) importance map. Takes a function, imports no
// model; works for 2D [B,C,H,W] and 3D [B,C,D,H,W].
import { type Tensor, F, arange, keep, tidy, zeros } from '../../engine/index.ts';
import { checkInt, checkNumber, checkOneOf, checkSize } from './common.ts';

/** Maps a batch of windows [b, C, ...roiSize] to predictions [b, C', ...roiSize] (logits or probabilities). */
export type Predictor = (windows: Tensor) => Tensor;

export type BlendMode = 'gaussian' | 'constant';

export interface SlidingWindowOptions {
  /** Window size in tensor order ([H,W] or [D,H,W]). */
  roiSize: number[];
  /** Fraction of a window shared with its neighbour, in [0, 1). Default 0.5. */
  overlap?: number;
  /** Blending weights: 'gaussian' (default; nnU-Net, MONAI option) or 'constant' (plain average). */
  mode?: BlendMode;
  /** Gaussian σ = sigmaScale · roi size per dim. Default 0.125 (MONAI). */
  sigmaScale?: number;
  /** Windows per predictor call. Default 1. */
  batchSize?: number;
  /** How inputs smaller than roiSize are padded (split evenly, extra after). Default 'constant' with padValue 0. */
  padMode?: F.PadMode;
  padValue?: number;
}

/**
 * MONAI's importance map [...roiSize] (float32): the product over dims of exp(−x²/(2σ²)), x = i − (n−1)/2, σ =
 * sigmaScale·n, then clamped below at max(min, 1e-3) so no voxel has zero weight. 'constant' gives ones.
 */
export function importanceMap(roiSize: number[], mode: BlendMode = 'gaussian', sigmaScale = 0.125): Tensor {
  checkOneOf(mode, 'mode', ['gaussian', 'constant'] as const);
  checkNumber(sigmaScale, 'sigmaScale', Number.MIN_VALUE);
  return tidy(() => {
    if (mode === 'constant') return zeros(roiSize).add(1);
    let map: Tensor | null = null;
    roiSize.forEach((n, d) => {
      const sigma = sigmaScale * n;
      const g = arange(n, undefined, 1, { dtype: 'float32' }).sub((n - 1) / 2).square().div(-2 * sigma * sigma).exp();
      const shaped = g.reshape(...roiSize.map((s, i) => (i === d ? s : 1)));
      map = map === null ? shaped : map.mul(shaped);
    });
    const m = map!.expand(...roiSize).contiguous();
    return m.clamp(Math.max(m.amin().item(), 1e-3));
  });
}

/** Window starts along one dim (MONAI dense_patch_slices). */
export function windowStarts(size: number, roi: number, overlap: number): number[] {
  const interval = roi === size ? roi : Math.max(1, Math.floor(roi * (1 - overlap)));
  const starts: number[] = [];
  for (let i = 0; ; i++) {
    const s = i * interval;
    starts.push(Math.min(s, size - roi));
    if (s + roi >= size) break;
  }
  return starts;
}

/**
 * Runs `predictor` over windows of `input` [B,C,...] and blends the results into a full-size output [B,C',...]
 * (float, the predictor's dtype). Inputs smaller than roiSize are padded and the output cropped back.
 */
export function slidingWindowInference(input: Tensor, predictor: Predictor, o: SlidingWindowOptions): Tensor {
  const n = Array.isArray(o.roiSize) ? o.roiSize.length : 0;
  if ((n !== 2 && n !== 3) || input.ndim !== n + 2) {
    throw new RangeError(`slidingWindowInference: expected a [B,C,...] input with ${n} spatial dims (roiSize [${o.roiSize}]) but received shape [${input.shape.join(', ')}]`);
  }
  const roi = checkSize(o.roiSize, n, 'roiSize');
  const overlap = checkNumber(o.overlap ?? 0.5, 'overlap', 0, 1);
  if (overlap >= 1) throw new RangeError('Expected overlap in [0, 1) but received 1');
  const batchSize = checkInt(o.batchSize ?? 1, 'batchSize', 1);
  const size = input.shape.slice(2);
  const B = input.shape[0]!;
  const before = size.map((s, d) => Math.floor(Math.max(roi[d]! - s, 0) / 2));
  const padded = size.map((s, d) => Math.max(s, roi[d]!));
  const pads: number[] = [];
  for (let d = n - 1; d >= 0; d--) pads.push(before[d]!, padded[d]! - size[d]! - before[d]!);

  // Every window start, row-major over dims.
  let windows: number[][] = [[]];
  for (let d = 0; d < n; d++) windows = windows.flatMap((w) => windowStarts(padded[d]!, roi[d]!, overlap).map((s) => [...w, s]));

  const narrowAll = (t: Tensor, start: number[], lead: number): Tensor => start.reduce((v, s, d) => v.narrow(lead + d, s, roi[d]!), t);
  let out: Tensor | null = null;
  let weight: Tensor | null = null;
  const weights = keep(importanceMap(roi, o.mode ?? 'gaussian', o.sigmaScale ?? 0.125));
  const source = keep(pads.some((p) => p > 0) ? F.pad(input, pads, o.padMode ?? 'constant', o.padValue ?? 0) : input.clone());
  try {
    for (let b = 0; b < B; b++) {
      for (let w0 = 0; w0 < windows.length; w0 += batchSize) {
        const chunk = windows.slice(w0, w0 + batchSize);
        tidy(() => {
          const item = source.narrow(0, b, 1);
          const batch = F.cat(chunk.map((st) => narrowAll(item, st, 2)), 0);
          const pred = predictor(batch);
          const shape = pred.shape;
          if (shape.length !== n + 2 || shape[0] !== chunk.length || shape.slice(2).some((d, i) => d !== roi[i])) {
            throw new RangeError(`slidingWindowInference: the predictor returned [${shape.join(', ')}] for windows [${batch.shape.join(', ')}]; expected [${chunk.length}, C, ${roi.join(', ')}]`);
          }
          if (!out) {
            out = keep(zeros([B, shape[1]!, ...padded], { dtype: pred.dtype }));
            weight = keep(zeros([1, 1, ...padded], { dtype: pred.dtype }));
          }
          const weighted = pred.mul(weights);
          chunk.forEach((st, i) => {
            narrowAll(out!.narrow(0, b, 1), st, 2).add_(weighted.narrow(0, i, 1));
            if (b === 0) narrowAll(weight!, st, 2).add_(weights);
          });
        });
      }
    }
    const result = out as Tensor | null;
    if (!result || !weight) throw new RangeError('slidingWindowInference: the input has no windows');
    return tidy(() => before.reduce((v, s, d) => v.narrow(2 + d, s, size[d]!), result.div(weight!)).contiguous());
  } finally {
    weights.dispose();
    source.dispose();
    (out as Tensor | null)?.dispose();
    (weight as Tensor | null)?.dispose();
  }
}
