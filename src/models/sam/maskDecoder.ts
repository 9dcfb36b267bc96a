// SAM's mask decoder (segment_anything/modeling/mask_decoder.py): output tokens (1 IoU token + M mask tokens)
// and the prompt tokens run through the two-way transformer with the image embedding; the image side is
// upscaled 4× and each mask token's hypernetwork MLP turns it into a mask. Names:
//
//   transformer.*                                   the injected TwoWayTransformer
//   iou_token.weight 1×D, mask_tokens.weight M×D    M = numMultimaskOutputs + 1
//   output_upscaling.{0,1,3}                        ConvT 2×2/2 (D→D/4), LayerNorm2d, GELU, ConvT 2×2/2 (D/4→D/8), GELU
//   output_hypernetworks_mlps.i.layers.{0,1,2}      D → D → D → D/8 (ReLU between)
//   iou_prediction_head.layers.{0..depth-1}         D → hidden … → M (ReLU between, no sigmoid)
import { type Tensor, F, callT, tidy } from '../../engine/index.ts';
import { ConvTranspose2d, Embedding, GELU, LayerNorm2d, MLP, Module, ModuleList, Sequential } from '../../nn/index.ts';
import { checkPositiveInt } from './common.ts';
import type { TwoWayTransformer } from './twoWayTransformer.ts';

export interface MaskDecoderOptions {
  transformerDim: number;
  transformer: TwoWayTransformer;
  numMultimaskOutputs?: number;
  iouHeadDepth?: number;
  iouHeadHiddenDim?: number;
}

export interface MaskDecoderOutput {
  /** BxCx(4h)x(4w) mask logits; C = 3 (tokens 1..3) with multimask output, else 1 (token 0). */
  masks: Tensor;
  /** BxC predicted mask IoU. */
  iouPred: Tensor;
}

/**
 * The per-prompt copy of the image-side inputs: used as is when its batch already equals the prompt batch B (as
 * MedSAM's decoder does), broadcast when it is 1 (what repeat_interleave would copy), else repeat_interleave'd.
 */
function perPrompt(t: Tensor, B: number): Tensor {
  const n = t.shape[0]!;
  return n === B || n === 1 ? t : callT('repeat_interleave.self_int', [t, B, 0]);
}

export class MaskDecoder extends Module {
  readonly transformerDim: number;
  readonly numMultimaskOutputs: number;
  readonly numMaskTokens: number;
  readonly transformer: TwoWayTransformer;
  readonly iouToken: Embedding;
  readonly maskTokens: Embedding;
  readonly outputUpscaling: Sequential;
  readonly outputHypernetworksMlps: ModuleList<MLP>;
  readonly iouPredictionHead: MLP;

  constructor(o: MaskDecoderOptions) {
    super();
    const D = this.transformerDim = checkPositiveInt(o.transformerDim, 'transformerDim');
    this.numMultimaskOutputs = checkPositiveInt(o.numMultimaskOutputs ?? 3, 'numMultimaskOutputs');
    this.numMaskTokens = this.numMultimaskOutputs + 1;
    this.transformer = this.registerModule('transformer', o.transformer);
    this.iouToken = this.registerModule('iou_token', new Embedding(1, D));
    this.maskTokens = this.registerModule('mask_tokens', new Embedding(this.numMaskTokens, D));
    this.outputUpscaling = this.registerModule('output_upscaling', new Sequential(
      new ConvTranspose2d(D, Math.floor(D / 4), 2, { stride: 2 }),
      new LayerNorm2d(Math.floor(D / 4)),
      new GELU(),
      new ConvTranspose2d(Math.floor(D / 4), Math.floor(D / 8), 2, { stride: 2 }),
      new GELU(),
    ));
    this.outputHypernetworksMlps = this.registerModule('output_hypernetworks_mlps', new ModuleList(
      Array.from({ length: this.numMaskTokens }, () => new MLP(D, D, Math.floor(D / 8), 3)),
    ));
    this.iouPredictionHead = this.registerModule('iou_prediction_head',
      new MLP(D, checkPositiveInt(o.iouHeadHiddenDim ?? 256, 'iouHeadHiddenDim'), this.numMaskTokens, checkPositiveInt(o.iouHeadDepth ?? 3, 'iouHeadDepth')));
  }

  /**
   * imageEmbeddings (1 or B)xDxhxw, imagePe (1 or B)xDxhxw, sparse BxNxD, dense BxDxhxw → masks and IoU
   * predictions of all M tokens (BxMx4hx4w, BxM).
   */
  predictMasks(imageEmbeddings: Tensor, imagePe: Tensor, sparse: Tensor, dense: Tensor): MaskDecoderOutput {
    return tidy(() => {
      const B = sparse.shape[0]!;
      const outputTokens = F.cat([this.iouToken.weight, this.maskTokens.weight], 0);
      const tokens = F.cat([outputTokens.unsqueeze(0).expand(B, -1, -1), sparse], 1);
      const src = perPrompt(imageEmbeddings, B).add(dense);
      const [b, c, h, w] = src.shape as [number, number, number, number];
      const { queries: hs, keys } = this.transformer.forward(src, perPrompt(imagePe, B), tokens);
      const iouTokenOut = hs.select(1, 0);
      const upscaled = this.outputUpscaling.forward(keys.transpose(1, 2).view(b, c, h, w));
      const hyperIn = F.stack(this.outputHypernetworksMlps.map((mlp, i) => mlp.forward(hs.select(1, 1 + i))), 1);
      const [ub, uc, uh, uw] = upscaled.shape as [number, number, number, number];
      const masks = hyperIn.matmul(upscaled.view(ub, uc, uh * uw)).view(ub, -1, uh, uw);
      return { masks, iouPred: this.iouPredictionHead.forward(iouTokenOut) };
    });
  }

  /** As predictMasks, keeping tokens 1..M−1 when multimaskOutput, else token 0 only. */
  forward(imageEmbeddings: Tensor, imagePe: Tensor, sparse: Tensor, dense: Tensor, multimaskOutput: boolean): MaskDecoderOutput {
    return tidy(() => {
      const { masks, iouPred } = this.predictMasks(imageEmbeddings, imagePe, sparse, dense);
      const [start, end] = multimaskOutput ? [1, null] : [0, 1];
      return { masks: masks.slice(1, start, end), iouPred: iouPred.slice(1, start, end) };
    });
  }
}
