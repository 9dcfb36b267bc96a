// Normalisation layers' functional forms.
import { callT } from '../dispatch.ts';
import type { Tensor } from '../tensor.ts';
import { checkInt, checkTensor } from '../validate.ts';

/** Layer norm over the trailing dims given by normalizedShape. */
/**
 * Layer norm over the trailing normalizedShape. A bf16 input with float32 affine parameters (bf16 autocast, which in
 * libtorch 1.13 leaves layer_norm out of its CPU fp32 list and so fails on the mix) is normalised in float32, as
 * later autocast versions do; the float32 result feeds the next autocast op.
 */
export function layerNorm(x: Tensor, normalizedShape: number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const affine = weight ?? bias;
  if (affine && x.dtype !== affine.dtype && x.dtype === 'bfloat16') {
    const xf = x.to(affine.dtype);
    try {
      return callT('layer_norm', [xf, normalizedShape, weight ?? null, bias ?? null, eps, true]);
    } finally {
      xf.dispose();
    }
  }
  return callT('layer_norm', [x, normalizedShape, weight ?? null, bias ?? null, eps, true]);
}

/**
 * Batch norm over dim 1 (N, C, ...). In training with running stats given, they are updated in place with
 * `momentum` (PyTorch's convention: running = (1 - momentum) * running + momentum * batch, unbiased variance).
 */
export function batchNorm(
  x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null,
  o: { weight?: Tensor | null; bias?: Tensor | null; training?: boolean; momentum?: number; eps?: number } = {},
): Tensor {
  return callT('batch_norm', [x, o.weight ?? null, o.bias ?? null, runningMean, runningVar, o.training ?? false, o.momentum ?? 0.1, o.eps ?? 1e-5, true]);
}

export function groupNorm(x: Tensor, numGroups: number, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  checkTensor(x, 'input');
  const c = x.shape[1]!;
  checkInt(numGroups, 'numGroups', 1);
  if (c % numGroups !== 0) throw new RangeError(`group_norm: ${c} channels are not divisible into ${numGroups} groups`);
  return callT('group_norm', [x, numGroups, weight ?? null, bias ?? null, eps, true]);
}

/** Instance norm (per sample, per channel), optionally with affine weight/bias. */
export const instanceNorm = (x: Tensor, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor =>
  callT('instance_norm', [x, weight ?? null, bias ?? null, null, null, true, 0.1, eps, true]);
