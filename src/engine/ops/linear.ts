// Linear layers, attention, dropout and embedding lookups.
import { callT } from '../dispatch.ts';
import type { Tensor } from '../tensor.ts';
import { checkNumber, checkTensor } from '../validate.ts';
import { softmax } from './activation.ts';

/** y = x W^T + b, with W [out, in], as F.linear. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  checkTensor(x, 'input');
  checkTensor(weight, 'weight');
  const inF = x.shape[x.ndim - 1];
  if (inF !== weight.shape[1]) {
    throw new RangeError(`linear: input has ${inF} features but weight [${weight.shape.join(', ')}] expects ${weight.shape[1]}`);
  }
  return callT('linear', [x, weight, bias ?? null]);
}

export const matmul = (a: Tensor, b: Tensor): Tensor => callT('matmul', [a, b]);
export const bmm = (a: Tensor, b: Tensor): Tensor => callT('bmm', [a, b]);
export const baddbmm = (input: Tensor, a: Tensor, b: Tensor, beta = 1, alpha = 1): Tensor => callT('baddbmm', [input, a, b], { beta, alpha });

/**
 * softmax(q k^T * scale + bias) v over the last two dims; q [..., L, D], k/v [..., S, D]. `bias` is added to the
 * logits (SAM adds its relative-position terms there). The explicit form matches SAM's reference code.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, o: { scale?: number; bias?: Tensor } = {}): Tensor {
  checkTensor(q, 'q');
  checkTensor(k, 'k');
  checkTensor(v, 'v');
  const scale = o.scale ?? 1 / Math.sqrt(q.shape[q.ndim - 1]!);
  const kt = k.transpose(-2, -1);
  const scaled = q.mul(scale);
  let logits = scaled.matmul(kt);
  kt.dispose();
  scaled.dispose();
  if (o.bias) {
    const biased = logits.add(o.bias);
    logits.dispose();
    logits = biased;
  }
  const weights = softmax(logits, -1);
  logits.dispose();
  const out = weights.matmul(v);
  weights.dispose();
  return out;
}

export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  checkNumber(p, 'p', 0, 1);
  return callT('dropout', [x, p, training]);
}
/** Drops whole channels (Dropout2d/3d). */
export function featureDropout(x: Tensor, p = 0.5, training = true): Tensor {
  checkNumber(p, 'p', 0, 1);
  return callT('feature_dropout', [x, p, training]);
}

export const embedding = (indices: Tensor, weight: Tensor, paddingIdx = -1): Tensor => callT('embedding', [weight, indices, paddingIdx]);
