// torch.nn.init: in-place initialisers under noGrad, drawing from the engine's global generator, with torch's
// arithmetic step for step, so manualSeed(s) followed by the same constructions reproduces PyTorch's values.
import { Tensor, callT, noGrad, tensor } from '../engine/index.ts';

export type Nonlinearity =
  | 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'conv_transpose1d' | 'conv_transpose2d' | 'conv_transpose3d'
  | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';
export type FanMode = 'fan_in' | 'fan_out';

/** torch.nn.init.calculate_gain. */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear': case 'conv1d': case 'conv2d': case 'conv3d':
    case 'conv_transpose1d': case 'conv_transpose2d': case 'conv_transpose3d': case 'sigmoid':
      return 1;
    case 'tanh': return 5.0 / 3;
    case 'relu': return Math.sqrt(2.0);
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2.0 / (1 + slope ** 2));
    }
    case 'selu': return 3.0 / 4;
    default: throw new TypeError(`Unsupported nonlinearity ${String(nonlinearity)}`);
  }
}

/** [fanIn, fanOut] of a weight: dim 1 and dim 0 times the receptive field (torch's convention, also for transposed convs). */
export function fanInAndFanOut(t: Tensor): [number, number] {
  const s = t.shape;
  if (s.length < 2) throw new RangeError(`Fan in and fan out can not be computed for tensor with fewer than 2 dimensions (shape [${s.join(', ')}])`);
  let receptive = 1;
  for (const d of s.slice(2)) receptive *= d;
  return [s[1]! * receptive, s[0]! * receptive];
}

function fan(t: Tensor, mode: FanMode): number {
  const [fanIn, fanOut] = fanInAndFanOut(t);
  if (mode === 'fan_in') return fanIn;
  if (mode === 'fan_out') return fanOut;
  throw new TypeError(`Mode ${String(mode)} not supported, please use one of fan_in, fan_out`);
}

const isEmpty = (t: Tensor): boolean => t.shape.includes(0);

export function uniform_(t: Tensor, a = 0, b = 1): Tensor {
  noGrad(() => t.uniform_(a, b));
  return t;
}
export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  noGrad(() => t.normal_(mean, std));
  return t;
}
export function constant_(t: Tensor, value: number): Tensor {
  noGrad(() => t.fill_(value));
  return t;
}
export const zeros_ = (t: Tensor): Tensor => constant_(t, 0);
export const ones_ = (t: Tensor): Tensor => constant_(t, 1);

export interface KaimingOptions {
  /** Negative slope of the leaky ReLU after this layer (Linear and Conv use √5). */
  a?: number;
  mode?: FanMode;
  nonlinearity?: Nonlinearity;
}

/** U(-bound, bound), bound = gain·√(3 / fan) (He et al.). */
export function kaimingUniform_(t: Tensor, o: KaimingOptions = {}): Tensor {
  if (isEmpty(t)) return t;
  const std = calculateGain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0) / Math.sqrt(fan(t, o.mode ?? 'fan_in'));
  const bound = Math.sqrt(3.0) * std;
  return uniform_(t, -bound, bound);
}

/** N(0, std²), std = gain / √fan. */
export function kaimingNormal_(t: Tensor, o: KaimingOptions = {}): Tensor {
  if (isEmpty(t)) return t;
  const std = calculateGain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0) / Math.sqrt(fan(t, o.mode ?? 'fan_in'));
  return normal_(t, 0, std);
}

/** U(-a, a), a = gain·√(6 / (fanIn + fanOut)) (Glorot). */
export function xavierUniform_(t: Tensor, gain = 1.0): Tensor {
  const [fanIn, fanOut] = fanInAndFanOut(t);
  const std = gain * Math.sqrt(2.0 / (fanIn + fanOut));
  const a = Math.sqrt(3.0) * std;
  return uniform_(t, -a, a);
}

export function xavierNormal_(t: Tensor, gain = 1.0): Tensor {
  const [fanIn, fanOut] = fanInAndFanOut(t);
  return normal_(t, 0, gain * Math.sqrt(2.0 / (fanIn + fanOut)));
}

/** erf in double precision through libtorch (the same libm values Python's math.erf gives). */
function erf(x: number): number {
  const t = tensor(Float64Array.of(x));
  const e = t.erf();
  try {
    return e.item();
  } finally {
    t.dispose();
    e.dispose();
  }
}

/**
 * N(mean, std²) truncated to [a, b] (absolute bounds, as torch.nn.init.trunc_normal_ and timm), by the inverse-CDF
 * method: U(2l-1, 2u-1) → erfinv → ·std√2 → +mean → clamp.
 */
export function truncNormal_(t: Tensor, o: { mean?: number; std?: number; a?: number; b?: number } = {}): Tensor {
  const mean = o.mean ?? 0, std = o.std ?? 1, a = o.a ?? -2, b = o.b ?? 2;
  const normCdf = (x: number): number => (1 + erf(x / Math.sqrt(2))) / 2;
  const l = normCdf((a - mean) / std);
  const u = normCdf((b - mean) / std);
  noGrad(() => {
    t.uniform_(2 * l - 1, 2 * u - 1);
    callT('erfinv_', [t]).dispose();
    t.mul_(std * Math.sqrt(2));
    t.add_(mean);
    t.clamp_(a, b);
  });
  return t;
}

/** The bias init of torch's Linear and Conv layers: U(±1/√fanIn) with fanIn taken from the weight. */
export function fanInUniform_(bias: Tensor, weight: Tensor): Tensor {
  const [fanIn] = fanInAndFanOut(weight);
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return uniform_(bias, -bound, bound);
}

// torch's spellings, for code ported from PyTorch.
export {
  kaimingUniform_ as kaiming_uniform_, kaimingNormal_ as kaiming_normal_, xavierUniform_ as xavier_uniform_,
  xavierNormal_ as xavier_normal_, truncNormal_ as trunc_normal_, calculateGain as calculate_gain,
};
