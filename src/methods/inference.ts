// Forward passes for validation and `samtutor predict`: whole 2D inputs in one call, 3D volumes by Gaussian-blended
// sliding windows of the training patch size (MONAI / nnU-Net style), optionally under bf16 autocast. Logits are
// returned as float32.
import { type Tensor, autocast, inferenceMode, tidy } from '../engine/index.ts';
import { slidingWindowInference } from '../data/transforms/index.ts';
import type { Preprocessing } from './preprocess.ts';

/** Maps model inputs [B, C, ...] to logits [B, C', ...]. */
export type LogitsFn = (input: Tensor) => Tensor;

/** Runs fn under bf16 autocast when asked, returning float32 logits. */
export function withAutocast(fn: LogitsFn, bf16: boolean): LogitsFn {
  return (input) => tidy(() => (bf16 ? autocast(() => fn(input)) : fn(input)).float());
}

/** Logits for a batch of preprocessed inputs [B, C, ...] without autograd (the model must be in eval mode). */
export function inferLogits(logits: LogitsFn, input: Tensor, prep: Preprocessing, bf16: boolean): Tensor {
  const forward = withAutocast(logits, bf16);
  return inferenceMode(() => {
    if (prep.dims === 2) return forward(input);
    return slidingWindowInference(input, forward, { roiSize: prep.size, overlap: prep.overlap, mode: 'gaussian', batchSize: 2 });
  });
}
