// Making tensors: from JS data, filled, ranges, and seeded random draws.
import { native } from './native.ts';
import { callT } from './dispatch.ts';
import { type DType, dtypeCode, dtypeOfTypedArray, ELEMENT_SIZE, isFloating } from './dtype.ts';
import { Tensor } from './tensor.ts';
import type { Generator } from './random.ts';

export interface CreateOptions {
  dtype?: DType;
  device?: string;
  requiresGrad?: boolean;
}

function finish(t: Tensor, opts: CreateOptions): Tensor {
  if (opts.device && opts.device !== 'cpu') {
    const moved = t.to({ device: opts.device });
    t.dispose();
    t = moved;
  }
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

const f32 = (values: ArrayLike<number>): Float32Array => Float32Array.from(values);

/**
 * A tensor from JS data: a typed array (its dtype, unless dtype is given: bf16/f16 take Uint16Array bits) or a
 * number array (float32 by default, converted to dtype). shape defaults to [length].
 */
export function tensor(data: ArrayLike<number> | ArrayBufferView | number, shape?: number[], opts: CreateOptions = {}): Tensor {
  if (typeof data === 'number') return full(shape ?? [], data, opts);
  const length = (data as ArrayLike<number>).length;
  const dims = shape ?? [length];
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== length) {
    throw new RangeError(`Expected ${count} values for shape [${dims.join(', ')}] but received ${length}`);
  }
  if (ArrayBuffer.isView(data)) {
    const own = data instanceof Uint16Array ? opts.dtype : dtypeOfTypedArray(data);
    if (!own) throw new TypeError('a Uint16Array needs dtype bfloat16 or float16');
    const base = Tensor.fromNative(native.fromBytes(data, dtypeCode(own), dims));
    if (opts.dtype && opts.dtype !== own) {
      const converted = base.to(opts.dtype);
      base.dispose();
      return finish(converted, opts);
    }
    return finish(base, opts);
  }
  // JS numbers are doubles: go through float64 unless the target is a 32-bit-or-narrower float (as torch.tensor does).
  const target = opts.dtype ?? 'float32';
  dtypeCode(target);
  const via = target === 'float32' || target === 'bfloat16' || target === 'float16' ? 'float32' : 'float64';
  const base = Tensor.fromNative(native.fromBytes(via === 'float32' ? f32(data) : Float64Array.from(data), dtypeCode(via), dims));
  if (target !== via) {
    const converted = base.to(target);
    base.dispose();
    return finish(converted, opts);
  }
  return finish(base, opts);
}

/** A scalar (0-d) tensor. */
export function scalar(value: number, opts: CreateOptions = {}): Tensor {
  return full([], value, opts);
}

// Factory ops allocate directly on the requested device (no CPU round trip).
const factory = (op: string, args: unknown[], opts: CreateOptions): Tensor =>
  finish(callT(op, args, { dtype: dtypeCode(opts.dtype ?? 'float32'), device: opts.device }), { requiresGrad: opts.requiresGrad });

export const zeros = (shape: number[], opts: CreateOptions = {}): Tensor => factory('zeros', [shape], opts);
export const ones = (shape: number[], opts: CreateOptions = {}): Tensor => factory('ones', [shape], opts);
export const empty = (shape: number[], opts: CreateOptions = {}): Tensor => factory('empty.memory_format', [shape], opts);
export const full = (shape: number[], value: number, opts: CreateOptions = {}): Tensor => factory('full', [shape, value], opts);
export const eye = (n: number, opts: CreateOptions = {}): Tensor => factory('eye', [n], opts);
export const zerosLike = (t: Tensor, opts: CreateOptions = {}): Tensor => factory('zeros', [t.shape], { dtype: t.dtype, ...opts });
export const onesLike = (t: Tensor, opts: CreateOptions = {}): Tensor => factory('ones', [t.shape], { dtype: t.dtype, ...opts });
export const fullLike = (t: Tensor, value: number, opts: CreateOptions = {}): Tensor =>
  factory('full', [t.shape, value], { dtype: t.dtype, ...opts });

/** [start, end) with step; int64 when all arguments are integers and no dtype is given, like torch.arange. */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  const [s, e] = end === undefined ? [0, start] : [start, end];
  const dtype = opts.dtype ?? ([s, e, step].every(Number.isInteger) ? 'int64' : 'float32');
  return factory('arange.start_step', [s, e, step], { ...opts, dtype });
}

export const linspace = (start: number, end: number, steps: number, opts: CreateOptions = {}): Tensor =>
  factory('linspace', [start, end, steps], opts);

// ---- random: every draw takes an optional Generator; without one, the global (seeded by manualSeed) is used ----
const gen = (g?: Generator): unknown => g?.native ?? null;

export function rand(shape: number[], opts: CreateOptions & { generator?: Generator } = {}): Tensor {
  return finish(callT('rand.generator', [shape, gen(opts.generator)], { dtype: dtypeCode(opts.dtype ?? 'float32') }), opts);
}
export function randn(shape: number[], opts: CreateOptions & { generator?: Generator } = {}): Tensor {
  return finish(callT('randn.generator', [shape, gen(opts.generator)], { dtype: dtypeCode(opts.dtype ?? 'float32') }), opts);
}
/** Integers in [low, high). */
export function randint(low: number, high: number, shape: number[], opts: CreateOptions & { generator?: Generator } = {}): Tensor {
  return finish(callT('randint.low_generator', [low, high, shape, gen(opts.generator)], { dtype: dtypeCode(opts.dtype ?? 'int64') }), opts);
}
export function randperm(n: number, opts: CreateOptions & { generator?: Generator } = {}): Tensor {
  return finish(callT('randperm.generator', [n, gen(opts.generator)], { dtype: dtypeCode(opts.dtype ?? 'int64') }), opts);
}
/** Draws 0/1 with probabilities p (a tensor of the output's shape). */
export function bernoulli(p: Tensor, opts: { generator?: Generator } = {}): Tensor {
  return callT('bernoulli', [p, gen(opts.generator)]);
}

export function byteSize(t: Tensor): number {
  return t.numel * ELEMENT_SIZE[t.dtype];
}

export const isFloatingTensor = (t: Tensor): boolean => isFloating(t.dtype);
