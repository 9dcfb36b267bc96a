// Joining, padding and selecting: torch.cat/stack/where/pad and friends.
import { callT, callTs } from '../dispatch.ts';
import type { Tensor, TensorOrScalar } from '../tensor.ts';
import { checkOneOf, checkTensor, invalid } from '../validate.ts';

export function cat(tensors: Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) throw invalid('a non-empty array of tensors', 'tensors', tensors);
  return callT('cat', [tensors, dim]);
}
export function stack(tensors: Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) throw invalid('a non-empty array of tensors', 'tensors', tensors);
  return callT('stack', [tensors, dim]);
}

/** Elementwise choice: condition ? a : b (either side may be a number). */
export function where(condition: Tensor, a: TensorOrScalar, b: TensorOrScalar): Tensor {
  const ta = typeof a === 'object', tb = typeof b === 'object';
  if (ta && tb) return callT('where.self', [condition, a, b]);
  if (ta) return callT('where.ScalarOther', [condition, a, b]);
  if (tb) return callT('where.ScalarSelf', [condition, a, b]);
  return callT('where.Scalar', [condition, a, b]);
}

export type PadMode = 'constant' | 'reflect' | 'replicate' | 'circular';
/** F.pad: pads = [left, right, top, bottom, front, back] from the last dim backwards. */
export function pad(x: Tensor, pads: number[], mode: PadMode = 'constant', value = 0): Tensor {
  checkTensor(x, 'input');
  if (!Array.isArray(pads) || pads.length % 2 !== 0 || pads.length / 2 > x.ndim) throw invalid('an even-length list of pads', 'pads', pads);
  checkOneOf(mode, 'mode', ['constant', 'reflect', 'replicate', 'circular'] as const);
  return callT('pad', [x, pads, mode, mode === 'constant' ? value : null]);
}

export const meshgrid = (tensors: Tensor[], indexing: 'ij' | 'xy' = 'ij'): Tensor[] => callTs('meshgrid.indexing', [tensors, indexing]);
export const einsum = (equation: string, ...tensors: Tensor[]): Tensor => callT('einsum', [equation, tensors]);
export const oneHot = (indices: Tensor, numClasses = -1): Tensor => callT('one_hot', [indices, numClasses]);
export const pixelShuffle = (x: Tensor, factor: number): Tensor => callT('pixel_shuffle', [x, factor]);
export const cdist = (a: Tensor, b: Tensor, p = 2): Tensor => callT('cdist', [a, b, p]);
export const tril = (x: Tensor, diagonal = 0): Tensor => callT('tril', [x, diagonal]);
export const triu = (x: Tensor, diagonal = 0): Tensor => callT('triu', [x, diagonal]);
