// The mask decoder's two-way transformer (segment_anything/modeling/transformer.py): prompt tokens attend to the
// image and the image attends back to the tokens. Post-norm blocks, LayerNorm eps 1e-5, ReLU MLP. Names:
//
//   layers.i.self_attn.{q,k,v,out}_proj                   D → D (internal dim D)
//   layers.i.cross_attn_token_to_image / _image_to_token  q/k/v D → D/r, out D/r → D (r = attention downsample rate)
//   layers.i.norm1..norm4, layers.i.mlp.lin1 / lin2       LayerNorm(D); Linear(D, mlp), ReLU, Linear(mlp, D)
//   final_attn_token_to_image, norm_final_attn
import { type Tensor, F, tidy } from '../../engine/index.ts';
import { LayerNorm, Linear, MLPBlock, Module, ModuleList, ReLU } from '../../nn/index.ts';
import { checkPositiveInt } from './common.ts';

/** Attention whose projections may shrink the embedding (internal dim = embeddingDim / downsampleRate). */
export class Attention extends Module {
  readonly embeddingDim: number;
  readonly internalDim: number;
  readonly numHeads: number;
  readonly qProj: Linear;
  readonly kProj: Linear;
  readonly vProj: Linear;
  readonly outProj: Linear;

  constructor(embeddingDim: number, numHeads: number, downsampleRate = 1) {
    super();
    this.embeddingDim = checkPositiveInt(embeddingDim, 'embeddingDim');
    this.internalDim = Math.floor(embeddingDim / checkPositiveInt(downsampleRate, 'downsampleRate'));
    this.numHeads = checkPositiveInt(numHeads, 'numHeads');
    if (this.internalDim % numHeads !== 0) throw new RangeError(`Attention: num_heads (${numHeads}) must divide the internal dim (${this.internalDim})`);
    this.qProj = this.registerModule('q_proj', new Linear(embeddingDim, this.internalDim));
    this.kProj = this.registerModule('k_proj', new Linear(embeddingDim, this.internalDim));
    this.vProj = this.registerModule('v_proj', new Linear(embeddingDim, this.internalDim));
    this.outProj = this.registerModule('out_proj', new Linear(this.internalDim, embeddingDim));
  }

  /** BxNxC → BxheadsxNx(C/heads). */
  #separateHeads(x: Tensor): Tensor {
    const [b, n, c] = x.shape as [number, number, number];
    return x.reshape(b, n, this.numHeads, c / this.numHeads).transpose(1, 2);
  }

  /** q: BxNqxD, k/v: BxNkxD → BxNqxD; logits (q kᵀ) / √(head dim), as the official code (divide, not multiply). */
  forward(q: Tensor, k: Tensor, v: Tensor): Tensor {
    return tidy(() => {
      const qh = this.#separateHeads(this.qProj.forward(q));
      const kh = this.#separateHeads(this.kProj.forward(k));
      const vh = this.#separateHeads(this.vProj.forward(v));
      const scale = Math.sqrt(qh.shape[3]!);
      let out: Tensor;
      if (qh.shape[2]! > kh.shape[2]!) {
        // Many queries, few keys (the image attending to the prompt tokens): the same softmax(q kᵀ) v, computed
        // as (k qᵀ)ᵀ so that the long axis is the last. With 4096 queries and 7 keys this takes the image→token
        // attention from 13 to 3 ms: libtorch's softmax over a last axis of 7 and its bmm with a transposed
        // 16×7 operand are both slow.
        const attnT = F.softmax(kh.matmul(qh.permute(0, 1, 3, 2)).div_(scale), -2);
        out = attnT.transpose(2, 3).matmul(vh);
      } else {
        out = F.softmax(qh.matmul(kh.permute(0, 1, 3, 2)).div_(scale), -1).matmul(vh);
      }
      const [b, nHeads, nTokens, c] = out.shape as [number, number, number, number];
      return this.outProj.forward(out.transpose(1, 2).reshape(b, nTokens, nHeads * c));
    });
  }
}

/** Self-attention of the tokens, token→image cross-attention, token MLP, image→token cross-attention. */
export class TwoWayAttentionBlock extends Module {
  readonly skipFirstLayerPe: boolean;
  readonly selfAttn: Attention;
  readonly norm1: LayerNorm;
  readonly crossAttnTokenToImage: Attention;
  readonly norm2: LayerNorm;
  readonly mlp: MLPBlock;
  readonly norm3: LayerNorm;
  readonly norm4: LayerNorm;
  readonly crossAttnImageToToken: Attention;

  constructor(o: { embeddingDim: number; numHeads: number; mlpDim?: number; attentionDownsampleRate?: number; skipFirstLayerPe?: boolean }) {
    super();
    const D = o.embeddingDim, r = o.attentionDownsampleRate ?? 2;
    this.skipFirstLayerPe = o.skipFirstLayerPe ?? false;
    this.selfAttn = this.registerModule('self_attn', new Attention(D, o.numHeads));
    this.norm1 = this.registerModule('norm1', new LayerNorm(D));
    this.crossAttnTokenToImage = this.registerModule('cross_attn_token_to_image', new Attention(D, o.numHeads, r));
    this.norm2 = this.registerModule('norm2', new LayerNorm(D));
    this.mlp = this.registerModule('mlp', new MLPBlock(D, o.mlpDim ?? 2048, () => new ReLU()));
    this.norm3 = this.registerModule('norm3', new LayerNorm(D));
    this.norm4 = this.registerModule('norm4', new LayerNorm(D));
    this.crossAttnImageToToken = this.registerModule('cross_attn_image_to_token', new Attention(D, o.numHeads, r));
  }

  /** queries BxNxD (tokens), keys BxHWxD (image); PEs broadcast over B. Returns the updated pair. */
  forward(queries: Tensor, keys: Tensor, queryPe: Tensor, keyPe: Tensor): { queries: Tensor; keys: Tensor } {
    return tidy(() => {
      let qs: Tensor;
      if (this.skipFirstLayerPe) {
        qs = this.selfAttn.forward(queries, queries, queries); // no residual in the first layer
      } else {
        const q = queries.add(queryPe);
        qs = queries.add(this.selfAttn.forward(q, q, queries));
      }
      qs = this.norm1.forward(qs);
      const k = keys.add(keyPe);
      qs = this.norm2.forward(qs.add(this.crossAttnTokenToImage.forward(qs.add(queryPe), k, keys)));
      qs = this.norm3.forward(qs.add(this.mlp.forward(qs)));
      const ks = this.norm4.forward(keys.add(this.crossAttnImageToToken.forward(k, qs.add(queryPe), qs)));
      return { queries: qs, keys: ks };
    });
  }
}

export interface TwoWayTransformerOptions {
  depth: number;
  embeddingDim: number;
  numHeads: number;
  mlpDim: number;
  attentionDownsampleRate?: number;
}

export class TwoWayTransformer extends Module {
  readonly depth: number;
  readonly embeddingDim: number;
  readonly numHeads: number;
  readonly mlpDim: number;
  readonly layers: ModuleList<TwoWayAttentionBlock>;
  readonly finalAttnTokenToImage: Attention;
  readonly normFinalAttn: LayerNorm;

  constructor(o: TwoWayTransformerOptions) {
    super();
    this.depth = checkPositiveInt(o.depth, 'depth');
    this.embeddingDim = checkPositiveInt(o.embeddingDim, 'embeddingDim');
    this.numHeads = checkPositiveInt(o.numHeads, 'numHeads');
    this.mlpDim = checkPositiveInt(o.mlpDim, 'mlpDim');
    const r = o.attentionDownsampleRate ?? 2;
    this.layers = this.registerModule('layers', new ModuleList(Array.from({ length: this.depth }, (_, i) => new TwoWayAttentionBlock({
      embeddingDim: this.embeddingDim, numHeads: this.numHeads, mlpDim: this.mlpDim, attentionDownsampleRate: r, skipFirstLayerPe: i === 0,
    }))));
    this.finalAttnTokenToImage = this.registerModule('final_attn_token_to_image', new Attention(this.embeddingDim, this.numHeads, r));
    this.normFinalAttn = this.registerModule('norm_final_attn', new LayerNorm(this.embeddingDim));
  }

  /**
   * imageEmbedding BxDxhxw, imagePe (1 or B)xDxhxw, pointEmbedding BxNxD → { queries: BxNxD, keys: BxhwxD }.
   */
  forward(imageEmbedding: Tensor, imagePe: Tensor, pointEmbedding: Tensor): { queries: Tensor; keys: Tensor } {
    return tidy(() => {
      // Token-major copies: as permuted views every linear and add over the 4096 image tokens ran on strided
      // memory (about 5 ms more per decode).
      const keys0 = imageEmbedding.flatten(2).permute(0, 2, 1).contiguous();
      const keyPe = imagePe.flatten(2).permute(0, 2, 1).contiguous();
      let queries = pointEmbedding;
      let keys = keys0;
      for (const layer of this.layers) ({ queries, keys } = layer.forward(queries, keys, pointEmbedding, keyPe));
      const attnOut = this.finalAttnTokenToImage.forward(queries.add(pointEmbedding), keys.add(keyPe), keys);
      return { queries: this.normFinalAttn.forward(queries.add(attnOut)), keys };
    });
  }
}
