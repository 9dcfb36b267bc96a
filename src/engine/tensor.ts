// The Tensor: a JS handle on one libtorch tensor in native memory. Methods follow PyTorch's names and semantics
// (camelCase for multi-word names); each runs exactly one ATen op through the dispatcher.
import { native, type NativeTensor } from './native.ts';
import { call, callT, callTs } from './dispatch.ts';
import {
  type AnyTypedArray, type DType, type MemoryFormatName, MemoryFormat, dtypeCode, dtypeFromCode, isDType, typedArrayFor,
} from './dtype.ts';
import { setTensorPredicate, track, untrack } from './scope.ts';

/** Device strings .to() accepts in place of a dtype name. */
const DEVICE = /^(cpu|cuda|mps|meta|xpu|hip)(:\d+)?$/;

export type Scalar = number | boolean;
export type TensorOrScalar = Tensor | Scalar;
export type Dims = number | number[];

// Fallback for tensors that are never disposed: release their table slot once the JS object is collected.
const finalizer = new FinalizationRegistry<NativeTensor>((id) => native.release(id));

export class Tensor {
  #id: NativeTensor;
  #scope: Set<Tensor> | null;

  private constructor(id: NativeTensor) {
    this.#id = id;
    finalizer.register(this, id, this);
    this.#scope = track(this);
    if (this.#scope === null) native.reportToGc(id); // only the GC frees it: let its bytes count as GC pressure
  }

  /** Wraps a tensor id from the addon (the dispatcher and serializers use this; it joins the current tidy scope). */
  static fromNative(id: NativeTensor): Tensor {
    return new Tensor(id);
  }

  /** The addon's id for this tensor; throws if the tensor was disposed. */
  get native(): NativeTensor {
    if (this.#id < 0) throw new Error('tensor was disposed');
    return this.#id;
  }

  /** @internal used by tidy/keep to move ownership between scopes. */
  reassignScope(scope: Set<Tensor> | null): void {
    untrack(this, this.#scope);
    this.#scope = scope;
    scope?.add(this);
    if (scope === null && this.#id >= 0) native.reportToGc(this.#id);
  }

  /** Frees the native tensor now (its memory goes when no other tensor or autograd graph shares it). */
  dispose(): void {
    if (this.#id < 0) return;
    native.release(this.#id);
    finalizer.unregister(this);
    this.#id = -1;
    untrack(this, this.#scope);
    this.#scope = null;
  }

  get isDisposed(): boolean {
    return this.#id < 0;
  }

  // ---- metadata ----
  get shape(): number[] { return native.shape(this.native); }
  get ndim(): number { return native.shape(this.native).length; }
  get dtype(): DType { return dtypeFromCode(native.dtype(this.native)); }
  get device(): string { return native.device(this.native); }
  get numel(): number { return native.numel(this.native); }
  get strides(): number[] { return native.strides(this.native); }
  get storageOffset(): number { return native.storageOffset(this.native); }
  /** Identity of the underlying storage: equal for tensors that view the same memory. */
  get storageId(): string | null { return native.storageId(this.native); }
  /** Size in bytes of the whole underlying storage (not just this view). */
  get storageBytes(): number { return native.storageBytes(this.native); }
  size(dim: number): number {
    const s = this.shape;
    const d = dim < 0 ? dim + s.length : dim;
    if (d < 0 || d >= s.length) throw new RangeError(`size: dim ${dim} out of range for a ${s.length}-d tensor`);
    return s[d]!;
  }
  isContiguous(format: MemoryFormatName = 'contiguous'): boolean { return native.isContiguous(this.native, MemoryFormat[format]); }
  sharesStorageWith(other: Tensor): boolean { return native.sameStorage(this.native, other.native); }
  toString(): string { return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device})`; }

  // ---- data out ----
  /** The elements in row-major order, as the dtype's typed array (bf16/f16 as raw uint16 bits, bool as uint8). */
  data(): AnyTypedArray { return typedArrayFor(this.dtype, native.toBytes(this.native)); }
  /** The elements converted to float32 (natively; exact for bf16 and f16). */
  toFloat32Array(): Float32Array {
    if (this.dtype === 'float32') return this.data() as Float32Array;
    const f = this.to('float32');
    try { return f.data() as Float32Array; } finally { f.dispose(); }
  }
  /** Elements as plain JS numbers (int64 beyond 2^53 loses precision; use data() for exact values). */
  toArray(): number[] {
    const d = this.dtype;
    if (d === 'bfloat16' || d === 'float16') return Array.from(this.toFloat32Array());
    if (d === 'int64') return Array.from(this.data() as BigInt64Array, Number);
    return Array.from(this.data() as Exclude<AnyTypedArray, BigInt64Array>, Number);
  }
  /** The value of a one-element tensor. */
  item(): number {
    if (this.numel !== 1) throw new RangeError(`item: expected a tensor with one element but it has ${this.numel}`);
    return call('item', [this]) as number;
  }

  // ---- conversion ----
  to(target: DType | string | { dtype?: DType; device?: string; memoryFormat?: MemoryFormatName; copy?: boolean }): Tensor {
    if (typeof target === 'string' && !isDType(target) && !DEVICE.test(target)) dtypeCode(target as DType); // throws the dtype TypeError
    const opts = typeof target === 'string' ? (isDType(target) ? { dtype: target } : { device: target }) : target;
    return callT('to.dtype_layout', [this], {
      dtype: opts.dtype === undefined ? undefined : dtypeCode(opts.dtype),
      device: opts.device,
      copy: opts.copy ?? false,
      memory_format: opts.memoryFormat === undefined ? undefined : MemoryFormat[opts.memoryFormat],
    });
  }
  float(): Tensor { return this.to('float32'); }
  double(): Tensor { return this.to('float64'); }
  long(): Tensor { return this.to('int64'); }
  int(): Tensor { return this.to('int32'); }
  bool(): Tensor { return this.to('bool'); }
  bfloat16(): Tensor { return this.to('bfloat16'); }
  half(): Tensor { return this.to('float16'); }
  cpu(): Tensor { return this.to({ device: 'cpu' }); }
  clone(memoryFormat?: MemoryFormatName): Tensor {
    return callT('clone', [this], { memory_format: memoryFormat === undefined ? undefined : MemoryFormat[memoryFormat] });
  }
  contiguous(memoryFormat: MemoryFormatName = 'contiguous'): Tensor {
    return callT('contiguous', [this], { memory_format: MemoryFormat[memoryFormat] });
  }
  detach(): Tensor { return callT('detach', [this]); }

  // ---- autograd ----
  get requiresGrad(): boolean { return native.requiresGrad(this.native); }
  set requiresGrad(value: boolean) { native.setRequiresGrad(this.native, value); }
  requiresGrad_(value = true): this { native.setRequiresGrad(this.native, value); return this; }
  /** The accumulated gradient (a new handle each call: dispose it, or read it inside tidy), or null. */
  get grad(): Tensor | null {
    const g = native.getGrad(this.native);
    return g ? Tensor.fromNative(g) : null;
  }
  set grad(value: Tensor | null) {
    if (value) {
      if (value.shape.join() !== this.shape.join()) throw new RangeError(`assigned grad has shape [${value.shape.join(', ')}] but the tensor has [${this.shape.join(', ')}]`);
      if (value.dtype !== this.dtype) throw new TypeError(`assigned grad has dtype ${value.dtype} but the tensor is ${this.dtype}`);
    }
    native.setGrad(this.native, value ? value.native : null);
  }
  get isLeaf(): boolean { return native.isLeaf(this.native); }
  /** True for tensors made under inferenceMode (torch.Tensor.is_inference). */
  get isInference(): boolean { return native.isInferenceTensor(this.native); }
  get gradFn(): string | null { return native.gradFnName(this.native); }
  retainGrad(): this { native.retainGrad(this.native); return this; }
  backward(gradient?: Tensor, opts: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    if (gradient) checkGradShapes([this], [gradient]);
    native.backward([this.native], gradient ? [gradient.native] : null, opts.retainGraph, opts.createGraph ?? false);
  }

  // ---- elementwise arithmetic (broadcasting) ----
  add(other: TensorOrScalar, alpha: number = 1): Tensor { return binary('add', this, other, { alpha }); }
  sub(other: TensorOrScalar, alpha: number = 1): Tensor { return binary('sub', this, other, { alpha }); }
  mul(other: TensorOrScalar): Tensor { return binary('mul', this, other); }
  div(other: TensorOrScalar, roundingMode?: 'trunc' | 'floor'): Tensor {
    if (roundingMode) return callT(other instanceof Tensor ? 'div.Tensor_mode' : 'div.Scalar_mode', [this, other], { rounding_mode: roundingMode });
    return binary('div', this, other);
  }
  pow(exponent: TensorOrScalar): Tensor {
    return callT(exponent instanceof Tensor ? 'pow.Tensor_Tensor' : 'pow.Tensor_Scalar', [this, exponent]);
  }
  remainder(other: TensorOrScalar): Tensor { return binary('remainder', this, other); }
  maximum(other: Tensor): Tensor { return callT('maximum', [this, other]); }
  minimum(other: Tensor): Tensor { return callT('minimum', [this, other]); }
  neg(): Tensor { return callT('neg', [this]); }
  abs(): Tensor { return callT('abs', [this]); }
  exp(): Tensor { return callT('exp', [this]); }
  log(): Tensor { return callT('log', [this]); }
  log1p(): Tensor { return callT('log1p', [this]); }
  sqrt(): Tensor { return callT('sqrt', [this]); }
  rsqrt(): Tensor { return callT('rsqrt', [this]); }
  square(): Tensor { return callT('square', [this]); }
  reciprocal(): Tensor { return callT('reciprocal', [this]); }
  sin(): Tensor { return callT('sin', [this]); }
  cos(): Tensor { return callT('cos', [this]); }
  tanh(): Tensor { return callT('tanh', [this]); }
  erf(): Tensor { return callT('erf', [this]); }
  sigmoid(): Tensor { return callT('sigmoid', [this]); }
  relu(): Tensor { return callT('relu', [this]); }
  floor(): Tensor { return callT('floor', [this]); }
  ceil(): Tensor { return callT('ceil', [this]); }
  round(): Tensor { return callT('round', [this]); }
  sign(): Tensor { return callT('sign', [this]); }
  clamp(min?: number | null, max?: number | null): Tensor { return callT('clamp', [this, min ?? null, max ?? null]); }
  isnan(): Tensor { return callT('isnan', [this]); }
  isfinite(): Tensor { return callT('isfinite', [this]); }

  // ---- comparison and logic (bool results) ----
  eq(other: TensorOrScalar): Tensor { return binary('eq', this, other); }
  ne(other: TensorOrScalar): Tensor { return binary('ne', this, other); }
  lt(other: TensorOrScalar): Tensor { return binary('lt', this, other); }
  le(other: TensorOrScalar): Tensor { return binary('le', this, other); }
  gt(other: TensorOrScalar): Tensor { return binary('gt', this, other); }
  ge(other: TensorOrScalar): Tensor { return binary('ge', this, other); }
  logicalAnd(other: Tensor): Tensor { return callT('logical_and', [this, other]); }
  logicalOr(other: Tensor): Tensor { return callT('logical_or', [this, other]); }
  logicalXor(other: Tensor): Tensor { return callT('logical_xor', [this, other]); }
  logicalNot(): Tensor { return callT('logical_not', [this]); }
  where(condition: Tensor, other: TensorOrScalar): Tensor {
    return callT(other instanceof Tensor ? 'where.self' : 'where.ScalarOther', [condition, this, other]);
  }
  maskedFill(mask: Tensor, value: TensorOrScalar): Tensor {
    return callT(value instanceof Tensor ? 'masked_fill.Tensor' : 'masked_fill.Scalar', [this, mask, value]);
  }

  // ---- in-place (return this; used by optimizers and initializers) ----
  add_(other: TensorOrScalar, alpha: number = 1): this { return this.inplace(other instanceof Tensor ? 'add_.Tensor' : 'add_.Scalar', [other], { alpha }); }
  sub_(other: TensorOrScalar, alpha: number = 1): this { return this.inplace(other instanceof Tensor ? 'sub_.Tensor' : 'sub_.Scalar', [other], { alpha }); }
  mul_(other: TensorOrScalar): this { return this.inplace(other instanceof Tensor ? 'mul_.Tensor' : 'mul_.Scalar', [other]); }
  div_(other: TensorOrScalar): this { return this.inplace(other instanceof Tensor ? 'div_.Tensor' : 'div_.Scalar', [other]); }
  addcmul_(a: Tensor, b: Tensor, value: number = 1): this { return this.inplace('addcmul_', [a, b], { value }); }
  addcdiv_(a: Tensor, b: Tensor, value: number = 1): this { return this.inplace('addcdiv_', [a, b], { value }); }
  lerp_(end: Tensor, weight: number): this { return this.inplace('lerp_.Scalar', [end, weight]); }
  sqrt_(): this { return this.inplace('sqrt_', []); }
  clamp_(min?: number | null, max?: number | null): this { return this.inplace('clamp_', [min ?? null, max ?? null]); }
  copy_(src: Tensor): this { return this.inplace('copy_', [src]); }
  zero_(): this { return this.inplace('zero_', []); }
  fill_(value: number): this { return this.inplace('fill_.Scalar', [value]); }
  maskedFill_(mask: Tensor, value: number): this { return this.inplace('masked_fill_.Scalar', [mask, value]); }
  uniform_(from = 0, to = 1): this { return this.inplace('uniform_', [from, to]); }
  normal_(mean = 0, std = 1): this { return this.inplace('normal_', [mean, std]); }

  private inplace(op: string, args: unknown[], named?: Record<string, unknown>): this {
    const res = call(op, [this, ...args], named) as Tensor;
    res.dispose(); // same storage as this; only the extra handle goes
    return this;
  }

  // ---- reductions ----
  sum(dim?: Dims, keepdim = false, dtype?: DType): Tensor {
    const dt = dtype === undefined ? null : dtypeCode(dtype);
    return dim === undefined ? callT('sum', [this], { dtype: dt }) : callT('sum.dim_IntList', [this, dims(dim), keepdim], { dtype: dt });
  }
  mean(dim?: Dims, keepdim = false): Tensor {
    return dim === undefined ? callT('mean', [this]) : callT('mean.dim', [this, dims(dim), keepdim]);
  }
  prod(dim?: number, keepdim = false): Tensor {
    return dim === undefined ? callT('prod', [this]) : callT('prod.dim_int', [this, dim, keepdim]);
  }
  /** Variance with Bessel's correction by default (correction=1), as torch.var. */
  var(dim?: Dims, opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return callT('var.correction', [this, dim === undefined ? null : dims(dim)], { correction: opts.correction ?? 1, keepdim: opts.keepdim ?? false });
  }
  std(dim?: Dims, opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return callT('std.correction', [this, dim === undefined ? null : dims(dim)], { correction: opts.correction ?? 1, keepdim: opts.keepdim ?? false });
  }
  amax(dim: Dims = [], keepdim = false): Tensor { return callT('amax', [this, dims(dim), keepdim]); }
  amin(dim: Dims = [], keepdim = false): Tensor { return callT('amin', [this, dims(dim), keepdim]); }
  /** Global maximum; with dim, [values, indices] like torch.max(x, dim). */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): [Tensor, Tensor];
  max(dim?: number, keepdim = false): Tensor | [Tensor, Tensor] {
    return dim === undefined ? callT('max', [this]) : (callTs('max.dim', [this, dim, keepdim]) as [Tensor, Tensor]);
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): [Tensor, Tensor];
  min(dim?: number, keepdim = false): Tensor | [Tensor, Tensor] {
    return dim === undefined ? callT('min', [this]) : (callTs('min.dim', [this, dim, keepdim]) as [Tensor, Tensor]);
  }
  argmax(dim?: number, keepdim = false): Tensor { return callT('argmax', [this, dim ?? null, keepdim]); }
  argmin(dim?: number, keepdim = false): Tensor { return callT('argmin', [this, dim ?? null, keepdim]); }
  norm(p: number = 2, dim?: Dims, keepdim = false): Tensor {
    return dim === undefined ? callT('norm.Scalar', [this, p]) : callT('norm.ScalarOpt_dim', [this, p, dims(dim), keepdim]);
  }
  logsumexp(dim: Dims, keepdim = false): Tensor { return callT('logsumexp', [this, dims(dim), keepdim]); }
  cumsum(dim: number, dtype?: DType): Tensor { return callT('cumsum', [this, dim], { dtype: dtype === undefined ? null : dtypeCode(dtype) }); }
  all(): Tensor { return callT('all', [this]); }
  any(): Tensor { return callT('any', [this]); }
  countNonzero(dim?: Dims): Tensor { return callT('count_nonzero.dim_IntList', [this, dim === undefined ? [] : dims(dim)]); }

  // ---- linear algebra ----
  matmul(other: Tensor): Tensor { return callT('matmul', [this, other]); }
  mm(other: Tensor): Tensor { return callT('mm', [this, other]); }
  bmm(other: Tensor): Tensor { return callT('bmm', [this, other]); }
  t(): Tensor { return callT('t', [this]); }

  // ---- shape and views ----
  view(...shape: number[]): Tensor { return callT('view', [this, shape]); }
  reshape(...shape: number[]): Tensor { return callT('reshape', [this, shape]); }
  permute(...order: number[]): Tensor { return callT('permute', [this, order]); }
  transpose(dim0: number, dim1: number): Tensor { return callT('transpose.int', [this, dim0, dim1]); }
  squeeze(dim?: number): Tensor { return dim === undefined ? callT('squeeze', [this]) : callT('squeeze.dim', [this, dim]); }
  unsqueeze(dim: number): Tensor { return callT('unsqueeze', [this, dim]); }
  flatten(startDim = 0, endDim = -1): Tensor { return callT('flatten.using_ints', [this, startDim, endDim]); }
  unflatten(dim: number, sizes: number[]): Tensor { return callT('unflatten.int', [this, dim, sizes]); }
  expand(...shape: number[]): Tensor { return callT('expand', [this, shape]); }
  expandAs(other: Tensor): Tensor { return callT('expand_as', [this, other]); }
  repeat(...times: number[]): Tensor { return callT('repeat', [this, times]); }
  flip(dims_: Dims): Tensor { return callT('flip', [this, dims(dims_)]); }
  roll(shifts: Dims, dims_: Dims): Tensor { return callT('roll', [this, dims(shifts), dims(dims_)]); }
  narrow(dim: number, start: number, length: number): Tensor { return callT('narrow', [this, dim, start, length]); }
  /** x[..., start:end:step, ...] along dim (a view). */
  slice(dim: number, start: number | null = null, end: number | null = null, step = 1): Tensor {
    return callT('slice.Tensor', [this, dim, start, end, step]);
  }
  select(dim: number, index: number): Tensor { return callT('select.int', [this, dim, index]); }
  asStrided(size: number[], stride: number[], storageOffset?: number): Tensor {
    return callT('as_strided', [this, size, stride, storageOffset ?? null]);
  }
  chunk(chunks: number, dim = 0): Tensor[] { return callTs('chunk', [this, chunks, dim]); }
  split(sizes: number | number[], dim = 0): Tensor[] {
    return typeof sizes === 'number' ? callTs('split.Tensor', [this, sizes, dim]) : callTs('split_with_sizes', [this, sizes, dim]);
  }
  unbind(dim = 0): Tensor[] { return callTs('unbind.int', [this, dim]); }

  // ---- indexing ----
  /** Advanced indexing x[i0, i1, ...] with index tensors (null skips a dim), as torch's x[idx]. */
  index(indices: (Tensor | null)[]): Tensor { return callT('index.Tensor', [this, indices]); }
  indexSelect(dim: number, index: Tensor): Tensor { return callT('index_select', [this, dim, index]); }
  gather(dim: number, index: Tensor): Tensor { return callT('gather', [this, dim, index]); }
  scatter(dim: number, index: Tensor, src: TensorOrScalar): Tensor {
    return callT(src instanceof Tensor ? 'scatter.src' : 'scatter.value', [this, dim, index, src]);
  }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor { return callT('scatter_add', [this, dim, index, src]); }
  indexPut(indices: (Tensor | null)[], values: Tensor, accumulate = false): Tensor {
    return callT('index_put', [this, indices, values, accumulate]);
  }
  maskedSelect(mask: Tensor): Tensor { return callT('masked_select', [this, mask]); }
  nonzero(): Tensor { return callT('nonzero', [this]); }
  topk(k: number, dim = -1, largest = true, sorted = true): [Tensor, Tensor] {
    return callTs('topk', [this, k, dim, largest, sorted]) as [Tensor, Tensor];
  }
  sort(dim = -1, descending = false): [Tensor, Tensor] { return callTs('sort', [this, dim, descending]) as [Tensor, Tensor]; }
  argsort(dim = -1, descending = false): Tensor { return callT('argsort', [this, dim, descending]); }
}

setTensorPredicate((v: unknown): v is Tensor => v instanceof Tensor);

/** PyTorch's check that each explicit output gradient has its output's shape (libtorch's C++ API does not do it). */
export function checkGradShapes(outputs: Tensor[], grads: (Tensor | null | undefined)[]): void {
  grads.forEach((g, i) => {
    const o = outputs[i];
    if (g && o && g.shape.join() !== o.shape.join()) {
      throw new RangeError(`Mismatch in shape: grad_output[${i}] has a shape of [${g.shape.join(', ')}] and output[${i}] has a shape of [${o.shape.join(', ')}]`);
    }
  });
}

function dims(d: Dims): number[] {
  return typeof d === 'number' ? [d] : d;
}

/** Picks the Tensor or Scalar overload of a binary op, as Python does from the argument's type. */
function binary(op: string, a: Tensor, b: TensorOrScalar, named?: Record<string, unknown>): Tensor {
  if (b instanceof Tensor) return callT(`${op}.Tensor`, [a, b], named);
  if (typeof b !== 'number' && typeof b !== 'boolean') {
    throw new TypeError(`Expected a Tensor or number for other in ${op} but received ${String(b)} of type ${typeof b}`);
  }
  return callT(`${op}.Scalar`, [a, b], named);
}
