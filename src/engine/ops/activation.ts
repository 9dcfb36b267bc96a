// Activations (torch.nn.functional names).
import { callT } from '../dispatch.ts';
import { type DType, dtypeCode } from '../dtype.ts';
import type { Tensor } from '../tensor.ts';
import { checkOneOf } from '../validate.ts';

export const relu = (x: Tensor): Tensor => callT('relu', [x]);
export const leakyRelu = (x: Tensor, negativeSlope = 0.01): Tensor => callT('leaky_relu', [x, negativeSlope]);
/** GELU; approximate 'none' is the exact erf form (SAM, TinyViT), 'tanh' the approximation. */
export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor =>
  callT('gelu', [x], { approximate: checkOneOf(approximate, 'approximate', ['none', 'tanh'] as const) });
export const silu = (x: Tensor): Tensor => callT('silu', [x]);
export const sigmoid = (x: Tensor): Tensor => callT('sigmoid', [x]);
export const tanh = (x: Tensor): Tensor => callT('tanh', [x]);
export const softplus = (x: Tensor, beta = 1, threshold = 20): Tensor => callT('softplus', [x, beta, threshold]);
export const hardswish = (x: Tensor): Tensor => callT('hardswish', [x]);
export const softmax = (x: Tensor, dim: number, dtype?: DType): Tensor =>
  callT('softmax.int', [x, dim, dtype === undefined ? null : dtypeCode(dtype)]);
export const logSoftmax = (x: Tensor, dim: number, dtype?: DType): Tensor =>
  callT('log_softmax.int', [x, dim, dtype === undefined ? null : dtypeCode(dtype)]);
