// Linear (torch.nn.Linear): y = x Wᵀ + b, weight [out, in], kaiming_uniform(a=√5) init and U(±1/√in) bias.
import { type Tensor, empty, F } from '../engine/index.ts';
import { Module } from './module.ts';
import { fanInUniform_, kaimingUniform_ } from './init.ts';
import { positiveInt } from './util.ts';

export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(inFeatures: number, outFeatures: number, opts: { bias?: boolean } = {}) {
    super();
    this.inFeatures = positiveInt(inFeatures, 'inFeatures');
    this.outFeatures = positiveInt(outFeatures, 'outFeatures');
    this.weight = this.registerParameter('weight', empty([outFeatures, inFeatures]));
    this.bias = this.registerParameter('bias', opts.bias ?? true ? empty([outFeatures]) : null);
    this.resetParameters();
  }

  resetParameters(): void {
    kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias) fanInUniform_(this.bias, this.weight);
  }

  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias ? 'True' : 'False'}`;
  }
}
