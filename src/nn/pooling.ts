// Pooling and resampling modules: MaxPool2d/3d, AvgPool2d/3d, AdaptiveAvgPool2d/3d, Upsample.
import { type Tensor, F } from '../engine/index.ts';
import { Module } from './module.ts';
import { ntuple, pyBool } from './util.ts';

export interface MaxPoolOptions {
  /** Defaults to the kernel size. */
  stride?: number | number[];
  padding?: number | number[];
  dilation?: number | number[];
  ceilMode?: boolean;
}

abstract class MaxPoolNd extends Module {
  readonly stride: number | number[];
  constructor(private readonly dims: 2 | 3, readonly kernelSize: number | number[], readonly o: MaxPoolOptions = {}) {
    super();
    ntuple(kernelSize, dims, 'kernelSize', 1);
    this.stride = o.stride ?? kernelSize;
  }
  forward(x: Tensor): Tensor {
    const fn = this.dims === 2 ? F.maxPool2d : F.maxPool3d;
    return fn(x, this.kernelSize, { ...this.o, stride: this.stride });
  }
  override extraRepr(): string {
    return `kernel_size=${this.kernelSize}, stride=${this.stride}, padding=${this.o.padding ?? 0}, dilation=${this.o.dilation ?? 1}, ceil_mode=${pyBool(this.o.ceilMode ?? false)}`;
  }
}
export class MaxPool2d extends MaxPoolNd {
  constructor(kernelSize: number | number[], o: MaxPoolOptions = {}) { super(2, kernelSize, o); }
}
export class MaxPool3d extends MaxPoolNd {
  constructor(kernelSize: number | number[], o: MaxPoolOptions = {}) { super(3, kernelSize, o); }
}

export interface AvgPoolOptions {
  stride?: number | number[];
  padding?: number | number[];
  ceilMode?: boolean;
  countIncludePad?: boolean;
}

abstract class AvgPoolNd extends Module {
  constructor(private readonly dims: 2 | 3, readonly kernelSize: number | number[], readonly o: AvgPoolOptions = {}) {
    super();
    ntuple(kernelSize, dims, 'kernelSize', 1);
  }
  forward(x: Tensor): Tensor {
    return (this.dims === 2 ? F.avgPool2d : F.avgPool3d)(x, this.kernelSize, this.o);
  }
  override extraRepr(): string {
    return `kernel_size=${this.kernelSize}, stride=${this.o.stride ?? this.kernelSize}, padding=${this.o.padding ?? 0}`;
  }
}
export class AvgPool2d extends AvgPoolNd {
  constructor(kernelSize: number | number[], o: AvgPoolOptions = {}) { super(2, kernelSize, o); }
}
export class AvgPool3d extends AvgPoolNd {
  constructor(kernelSize: number | number[], o: AvgPoolOptions = {}) { super(3, kernelSize, o); }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: number | number[]) { super(); }
  forward(x: Tensor): Tensor { return F.adaptiveAvgPool2d(x, this.outputSize); }
  override extraRepr(): string { return `output_size=${this.outputSize}`; }
}
export class AdaptiveAvgPool3d extends Module {
  constructor(readonly outputSize: number | number[]) { super(); }
  forward(x: Tensor): Tensor { return F.adaptiveAvgPool3d(x, this.outputSize); }
  override extraRepr(): string { return `output_size=${this.outputSize}`; }
}

/** torch.nn.Upsample: F.interpolate with a fixed size or scale factor (mode 'nearest' by default). */
export class Upsample extends Module {
  constructor(readonly o: F.InterpolateOptions) {
    super();
    if ((o.size === undefined) === (o.scaleFactor === undefined)) throw new TypeError('Upsample: give exactly one of size or scaleFactor');
  }
  forward(x: Tensor): Tensor {
    return F.interpolate(x, this.o);
  }
  override extraRepr(): string {
    const what = this.o.size !== undefined ? `size=${this.o.size}` : `scale_factor=${this.o.scaleFactor}`;
    return `${what}, mode='${this.o.mode ?? 'nearest'}'`;
  }
}
