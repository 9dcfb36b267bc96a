// LayerNorm, SAM's LayerNorm2d and GroupNorm (torch.nn names, defaults and ones/zeros init).
import { type Tensor, F, ones, tidy, zeros } from '../engine/index.ts';
import { Module } from './module.ts';
import { positiveInt, pyBool, pyFloat, pyTuple } from './util.ts';

/** Normalises over the trailing normalizedShape dims; weight ones and bias zeros of that shape when affine. */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(normalizedShape: number | number[], opts: { eps?: number; elementwiseAffine?: boolean; bias?: boolean } = {}) {
    super();
    this.normalizedShape = (typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape]).map((d) => positiveInt(d, 'normalizedShape'));
    this.eps = opts.eps ?? 1e-5;
    this.elementwiseAffine = opts.elementwiseAffine ?? true;
    this.weight = this.registerParameter('weight', this.elementwiseAffine ? ones(this.normalizedShape) : null);
    this.bias = this.registerParameter('bias', this.elementwiseAffine && (opts.bias ?? true) ? zeros(this.normalizedShape) : null);
  }

  forward(x: Tensor): Tensor {
    return F.layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }

  override extraRepr(): string {
    return `${pyTuple(this.normalizedShape)}, eps=${pyFloat(this.eps)}, elementwise_affine=${pyBool(this.elementwiseAffine)}`;
  }
}

/**
 * SAM's channel-wise LayerNorm for [N, C, H, W] (segment_anything/modeling/common.py), with its exact arithmetic:
 * u = mean over C, s = mean((x-u)²) over C, x̂ = (x-u)/√(s+eps), out = weight[:,None,None]·x̂ + bias[:,None,None].
 */
export class LayerNorm2d extends Module {
  readonly numChannels: number;
  readonly eps: number;
  readonly weight: Tensor;
  readonly bias: Tensor;

  constructor(numChannels: number, eps = 1e-6) {
    super();
    this.numChannels = positiveInt(numChannels, 'numChannels');
    this.eps = eps;
    this.weight = this.registerParameter('weight', ones([numChannels]));
    this.bias = this.registerParameter('bias', zeros([numChannels]));
  }

  forward(x: Tensor): Tensor {
    if (x.ndim !== 4) throw new RangeError(`LayerNorm2d: expected a 4-d [N, C, H, W] input but received shape [${x.shape.join(', ')}]`);
    return tidy(() => {
      const u = x.mean(1, true);
      const d = x.sub(u);
      const s = d.pow(2).mean(1, true);
      const xn = d.div(s.add(this.eps).sqrt());
      return this.weight.view(-1, 1, 1).mul(xn).add(this.bias.view(-1, 1, 1));
    });
  }

  override extraRepr(): string {
    return `${this.numChannels}, eps=${pyFloat(this.eps)}`;
  }
}

export class GroupNorm extends Module {
  readonly numGroups: number;
  readonly numChannels: number;
  readonly eps: number;
  readonly affine: boolean;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(numGroups: number, numChannels: number, opts: { eps?: number; affine?: boolean } = {}) {
    super();
    this.numGroups = positiveInt(numGroups, 'numGroups');
    this.numChannels = positiveInt(numChannels, 'numChannels');
    if (numChannels % numGroups !== 0) throw new RangeError('num_channels must be divisible by num_groups');
    this.eps = opts.eps ?? 1e-5;
    this.affine = opts.affine ?? true;
    this.weight = this.registerParameter('weight', this.affine ? ones([numChannels]) : null);
    this.bias = this.registerParameter('bias', this.affine ? zeros([numChannels]) : null);
  }

  forward(x: Tensor): Tensor {
    return F.groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }

  override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${pyFloat(this.eps)}, affine=${pyBool(this.affine)}`;
  }
}
