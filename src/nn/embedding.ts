// Embedding (torch.nn.Embedding): a [num, dim] table initialised N(0, 1), the padding row zeroed.
import { type Tensor, empty, F, noGrad } from '../engine/index.ts';
import { Module } from './module.ts';
import { normal_ } from './init.ts';
import { positiveInt } from './util.ts';

export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  /** Normalised to a non-negative row index, or null. Its row starts at zero and gets no gradient. */
  readonly paddingIdx: number | null;
  readonly weight: Tensor;

  constructor(numEmbeddings: number, embeddingDim: number, opts: { paddingIdx?: number | null } = {}) {
    super();
    this.numEmbeddings = positiveInt(numEmbeddings, 'numEmbeddings');
    this.embeddingDim = positiveInt(embeddingDim, 'embeddingDim');
    let p = opts.paddingIdx ?? null;
    if (p !== null) {
      if (!Number.isInteger(p) || p >= numEmbeddings || p < -numEmbeddings) throw new RangeError('Padding_idx must be within num_embeddings');
      if (p < 0) p += numEmbeddings;
    }
    this.paddingIdx = p;
    this.weight = this.registerParameter('weight', empty([numEmbeddings, embeddingDim]));
    this.resetParameters();
  }

  resetParameters(): void {
    normal_(this.weight);
    if (this.paddingIdx !== null) {
      const row = this.weight.select(0, this.paddingIdx);
      noGrad(() => row.fill_(0));
      row.dispose();
    }
  }

  /** indices: an int64 tensor of any shape; returns [...indices.shape, embeddingDim]. */
  forward(indices: Tensor): Tensor {
    return F.embedding(indices, this.weight, this.paddingIdx ?? -1);
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx === null ? '' : `, padding_idx=${this.paddingIdx}`}`;
  }
}
