// Pooling, 2d and 3d. stride defaults to the kernel size, as in PyTorch.
import { callT, callTs } from '../dispatch.ts';
import type { Tensor } from '../tensor.ts';
import { checkRank, checkTensor, intTuple } from '../validate.ts';

export interface PoolOptions {
  stride?: number | number[];
  padding?: number | number[];
  ceilMode?: boolean;
}

function maxPool(n: 2 | 3, x: Tensor, kernel: number | number[], o: PoolOptions & { dilation?: number | number[] }): Tensor {
  checkTensor(x, 'input');
  checkRank(x.shape, [n + 1, n + 2], `max_pool${n}d`);
  const k = intTuple(kernel, n, 'kernelSize', 1);
  return callT(`max_pool${n}d`, [x, k, intTuple(o.stride ?? k, n, 'stride', 1), intTuple(o.padding ?? 0, n, 'padding'),
    intTuple(o.dilation ?? 1, n, 'dilation', 1), o.ceilMode ?? false]);
}

function avgPool(n: 2 | 3, x: Tensor, kernel: number | number[], o: PoolOptions & { countIncludePad?: boolean }): Tensor {
  checkTensor(x, 'input');
  checkRank(x.shape, [n + 1, n + 2], `avg_pool${n}d`);
  const k = intTuple(kernel, n, 'kernelSize', 1);
  return callT(`avg_pool${n}d`, [x, k, intTuple(o.stride ?? k, n, 'stride', 1), intTuple(o.padding ?? 0, n, 'padding'),
    o.ceilMode ?? false, o.countIncludePad ?? true, null]);
}

export const maxPool2d = (x: Tensor, kernel: number | number[], o: PoolOptions & { dilation?: number | number[] } = {}): Tensor => maxPool(2, x, kernel, o);
export const maxPool3d = (x: Tensor, kernel: number | number[], o: PoolOptions & { dilation?: number | number[] } = {}): Tensor => maxPool(3, x, kernel, o);
/** Max pooling that also returns the flat argmax indices (for unpooling). */
export function maxPool2dWithIndices(x: Tensor, kernel: number | number[], o: PoolOptions = {}): [Tensor, Tensor] {
  const k = intTuple(kernel, 2, 'kernelSize', 1);
  return callTs('max_pool2d_with_indices', [x, k, intTuple(o.stride ?? k, 2, 'stride', 1), intTuple(o.padding ?? 0, 2, 'padding'), [1, 1], o.ceilMode ?? false]) as [Tensor, Tensor];
}
export const avgPool2d = (x: Tensor, kernel: number | number[], o: PoolOptions & { countIncludePad?: boolean } = {}): Tensor => avgPool(2, x, kernel, o);
export const avgPool3d = (x: Tensor, kernel: number | number[], o: PoolOptions & { countIncludePad?: boolean } = {}): Tensor => avgPool(3, x, kernel, o);
export const adaptiveAvgPool2d = (x: Tensor, size: number | number[]): Tensor => callT('adaptive_avg_pool2d', [x, intTuple(size, 2, 'outputSize', 1)]);
export const adaptiveAvgPool3d = (x: Tensor, size: number | number[]): Tensor => callT('adaptive_avg_pool3d', [x, intTuple(size, 3, 'outputSize', 1)]);
function firstOf(pair: Tensor[]): Tensor {
  pair[1]!.dispose(); // the indices
  return pair[0]!;
}
export const adaptiveMaxPool2d = (x: Tensor, size: number | number[]): Tensor =>
  firstOf(callTs('adaptive_max_pool2d', [x, intTuple(size, 2, 'outputSize', 1)]));
export const adaptiveMaxPool3d = (x: Tensor, size: number | number[]): Tensor =>
  firstOf(callTs('adaptive_max_pool3d', [x, intTuple(size, 3, 'outputSize', 1)]));
