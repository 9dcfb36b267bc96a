// Convolutions (torch.nn.Conv1d/2d/3d, ConvTranspose1d/2d/3d) with torch's arguments, defaults and init:
// weight [out, in/groups, *k] ([in, out/groups, *k] transposed), kaiming_uniform(a=√5), bias U(±1/√fanIn).
import { type Tensor, callT, empty, F, tidy } from '../engine/index.ts';
import { Module } from './module.ts';
import { fanInUniform_, kaimingUniform_ } from './init.ts';
import { ntuple, positiveInt, pyTuple } from './util.ts';

export type PaddingMode = 'zeros' | 'reflect' | 'replicate' | 'circular';

export interface ConvOptions {
  stride?: number | number[];
  /** An int, one per spatial dim, or 'same' / 'valid' (stride 1 only for 'same'), as torch. */
  padding?: number | number[] | 'same' | 'valid';
  dilation?: number | number[];
  groups?: number;
  bias?: boolean;
  paddingMode?: PaddingMode;
}

export interface ConvTransposeOptions {
  stride?: number | number[];
  padding?: number | number[];
  outputPadding?: number | number[];
  dilation?: number | number[];
  groups?: number;
  bias?: boolean;
}

abstract class ConvNd extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number[];
  readonly stride: number[];
  readonly dilation: number[];
  readonly groups: number;
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly dims: 1 | 2 | 3, transposed: boolean, inChannels: number, outChannels: number, kernelSize: number | number[],
    o: { stride?: number | number[]; dilation?: number | number[]; groups?: number; bias?: boolean }) {
    super();
    this.inChannels = positiveInt(inChannels, 'inChannels');
    this.outChannels = positiveInt(outChannels, 'outChannels');
    this.kernelSize = ntuple(kernelSize, dims, 'kernelSize', 1);
    this.stride = ntuple(o.stride ?? 1, dims, 'stride', 1);
    this.dilation = ntuple(o.dilation ?? 1, dims, 'dilation', 1);
    this.groups = positiveInt(o.groups ?? 1, 'groups');
    if (inChannels % this.groups !== 0) throw new RangeError('in_channels must be divisible by groups');
    if (outChannels % this.groups !== 0) throw new RangeError('out_channels must be divisible by groups');
    const wShape = transposed ? [inChannels, outChannels / this.groups] : [outChannels, inChannels / this.groups];
    this.weight = this.registerParameter('weight', empty([...wShape, ...this.kernelSize]));
    this.bias = this.registerParameter('bias', o.bias ?? true ? empty([outChannels]) : null);
    this.resetParameters();
  }

  resetParameters(): void {
    kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias) fanInUniform_(this.bias, this.weight);
  }

  protected reprParts(padding: string, extra: string[]): string {
    const zeros = (v: number[], z: number): boolean => v.every((x) => x === z);
    const parts = [`${this.inChannels}, ${this.outChannels}, kernel_size=${pyTuple(this.kernelSize)}, stride=${pyTuple(this.stride)}`];
    if (padding) parts.push(`padding=${padding}`);
    if (!zeros(this.dilation, 1)) parts.push(`dilation=${pyTuple(this.dilation)}`);
    parts.push(...extra);
    if (this.groups !== 1) parts.push(`groups=${this.groups}`);
    if (!this.bias) parts.push('bias=False');
    return parts.join(', ');
  }
}

export class ConvNdBase extends ConvNd {
  /** Numeric padding per dim, or the string form. */
  readonly padding: number[] | 'same' | 'valid';
  readonly paddingMode: PaddingMode;

  constructor(dims: 1 | 2 | 3, inChannels: number, outChannels: number, kernelSize: number | number[], o: ConvOptions = {}) {
    super(dims, false, inChannels, outChannels, kernelSize, o);
    const p = o.padding ?? 0;
    if (p === 'same' || p === 'valid') {
      if (p === 'same' && this.stride.some((s) => s !== 1)) throw new RangeError("padding='same' is not supported for strided convolutions");
      this.padding = p;
    } else {
      this.padding = ntuple(p, dims, 'padding');
    }
    this.paddingMode = o.paddingMode ?? 'zeros';
    if (!['zeros', 'reflect', 'replicate', 'circular'].includes(this.paddingMode)) {
      throw new TypeError(`Expected one of zeros, reflect, replicate, circular for paddingMode but received ${String(this.paddingMode)}`);
    }
  }

  /** Per-dim [left, right] padding, last dim first (F.pad order), as torch's _reversed_padding_repeated_twice. */
  #padsForF(): number[] {
    const out: number[] = [];
    for (let i = this.dims - 1; i >= 0; i--) {
      if (this.padding === 'valid') out.push(0, 0);
      else if (this.padding === 'same') {
        const total = this.dilation[i]! * (this.kernelSize[i]! - 1);
        const left = Math.floor(total / 2);
        out.push(left, total - left);
      } else out.push(this.padding[i]!, this.padding[i]!);
    }
    return out;
  }

  forward(x: Tensor): Tensor {
    const opts = { stride: this.stride, dilation: this.dilation, groups: this.groups };
    const fn = this.dims === 1 ? F.conv1d : this.dims === 2 ? F.conv2d : F.conv3d;
    if (this.paddingMode !== 'zeros') {
      return tidy(() => fn(F.pad(x, this.#padsForF(), this.paddingMode as F.PadMode), this.weight, this.bias, { ...opts, padding: 0 }));
    }
    if (typeof this.padding === 'string') {
      return callT(`conv${this.dims}d.padding`, [x, this.weight, this.bias, this.stride, this.padding, this.dilation, this.groups]);
    }
    return fn(x, this.weight, this.bias, { ...opts, padding: this.padding });
  }

  override extraRepr(): string {
    const p = typeof this.padding === 'string' ? `${this.padding}` : this.padding.every((v) => v === 0) ? '' : pyTuple(this.padding);
    const extra = this.paddingMode !== 'zeros' ? [`padding_mode=${this.paddingMode}`] : [];
    return this.reprParts(p, extra);
  }
}

export class Conv1d extends ConvNdBase {
  constructor(inChannels: number, outChannels: number, kernelSize: number | number[], o: ConvOptions = {}) {
    super(1, inChannels, outChannels, kernelSize, o);
  }
}
export class Conv2d extends ConvNdBase {
  constructor(inChannels: number, outChannels: number, kernelSize: number | number[], o: ConvOptions = {}) {
    super(2, inChannels, outChannels, kernelSize, o);
  }
}
export class Conv3d extends ConvNdBase {
  constructor(inChannels: number, outChannels: number, kernelSize: number | number[], o: ConvOptions = {}) {
    super(3, inChannels, outChannels, kernelSize, o);
  }
}

export class ConvTransposeNdBase extends ConvNd {
  readonly padding: number[];
  readonly outputPadding: number[];

  constructor(dims: 1 | 2 | 3, inChannels: number, outChannels: number, kernelSize: number | number[], o: ConvTransposeOptions = {}) {
    super(dims, true, inChannels, outChannels, kernelSize, o);
    this.padding = ntuple(o.padding ?? 0, dims, 'padding');
    this.outputPadding = ntuple(o.outputPadding ?? 0, dims, 'outputPadding');
    this.outputPadding.forEach((op, i) => {
      if (op >= Math.max(this.stride[i]!, this.dilation[i]!)) throw new RangeError('output padding must be smaller than either stride or dilation');
    });
  }

  /** outputSize (the spatial size wanted) picks the output padding, as torch's forward(input, output_size). */
  forward(x: Tensor, outputSize?: number[]): Tensor {
    const outputPadding = outputSize ? this.#outputPaddingFor(x, outputSize) : this.outputPadding;
    const o = { stride: this.stride, padding: this.padding, outputPadding, dilation: this.dilation, groups: this.groups };
    const fn = this.dims === 1 ? F.convTranspose1d : this.dims === 2 ? F.convTranspose2d : F.convTranspose3d;
    return fn(x, this.weight, this.bias, o);
  }

  #outputPaddingFor(x: Tensor, outputSize: number[]): number[] {
    const size = outputSize.slice(-this.dims);
    if (size.length !== this.dims) throw new RangeError(`outputSize must have ${this.dims} or ${this.dims + 2} elements (got ${outputSize.length})`);
    return size.map((want, i) => {
      const inSize = x.shape[x.ndim - this.dims + i]!;
      const min = (inSize - 1) * this.stride[i]! - 2 * this.padding[i]! + this.dilation[i]! * (this.kernelSize[i]! - 1) + 1;
      const max = min + Math.max(this.stride[i]!, this.dilation[i]!) - 1;
      if (want < min || want > max) throw new RangeError(`requested an output size of ${want} in dim ${i}, but valid sizes range from ${min} to ${max}`);
      return want - min;
    });
  }

  override extraRepr(): string {
    const p = this.padding.every((v) => v === 0) ? '' : pyTuple(this.padding);
    const extra = this.outputPadding.every((v) => v === 0) ? [] : [`output_padding=${pyTuple(this.outputPadding)}`];
    return this.reprParts(p, extra);
  }
}

export class ConvTranspose1d extends ConvTransposeNdBase {
  constructor(inChannels: number, outChannels: number, kernelSize: number | number[], o: ConvTransposeOptions = {}) {
    super(1, inChannels, outChannels, kernelSize, o);
  }
}
export class ConvTranspose2d extends ConvTransposeNdBase {
  constructor(inChannels: number, outChannels: number, kernelSize: number | number[], o: ConvTransposeOptions = {}) {
    super(2, inChannels, outChannels, kernelSize, o);
  }
}
export class ConvTranspose3d extends ConvTransposeNdBase {
  constructor(inChannels: number, outChannels: number, kernelSize: number | number[], o: ConvTransposeOptions = {}) {
    super(3, inChannels, outChannels, kernelSize, o);
  }
}
