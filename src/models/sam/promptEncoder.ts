// SAM's prompt encoder (segment_anything/modeling/prompt_encoder.py): points and box corners become sparse tokens
// (random-Fourier positional encoding + a learned embedding per kind), a low-res mask becomes a dense embedding.
// State-dict names:
//
//   pe_layer.positional_encoding_gaussian_matrix   2 × (D/2) persistent buffer (random frequencies)
//   point_embeddings.{0,1,2,3}.weight              1 × D: negative point, positive point, box top-left, bottom-right
//   not_a_point_embed.weight, no_mask_embed.weight 1 × D
//   mask_downscaling.{0,1,3,4,6}                   conv 2×2/2 (1→c/4), LN2d, GELU, conv 2×2/2 (c/4→c), LN2d, GELU, conv 1×1 (c→D)
//
// Coordinates are pixels of the model frame (the resized, unpadded image placed at the top-left of the padded
// input), points as (x, y) and boxes as XYXY.
import { type Tensor, F, randn, tensor, tidy, zeros, full, empty } from '../../engine/index.ts';
import { Conv2d, Embedding, GELU, LayerNorm2d, Module, ModuleList, Sequential } from '../../nn/index.ts';
import { checkPositiveInt, checkShape, checkSize } from './common.ts';

/** Positional encoding with random spatial frequencies (PositionEmbeddingRandom). */
export class PositionEmbeddingRandom extends Module {
  readonly positionalEncodingGaussianMatrix: Tensor;

  constructor(numPosFeats = 64, scale: number | null = null) {
    super();
    const s = scale === null || scale <= 0 ? 1 : scale;
    const g = randn([2, checkPositiveInt(numPosFeats, 'numPosFeats')]);
    this.positionalEncodingGaussianMatrix = this.registerBuffer('positional_encoding_gaussian_matrix', s === 1 ? g : tidy(() => g.mul(s)));
    if (s !== 1) g.dispose();
  }

  /**
   * Encodes coordinates normalised to [0, 1]² (…x2, ordered (x, y)): c' = 2c − 1, p = 2π·(c' @ G) →
   * […, sin p, cos p] (…x2F, sin first).
   */
  peEncoding(coords: Tensor): Tensor {
    return tidy(() => {
      const p = coords.mul(2).sub(1).matmul(this.positionalEncodingGaussianMatrix).mul(2 * Math.PI);
      return F.cat([p.sin(), p.cos()], -1);
    });
  }

  /** Encoding of the (h, w) grid of cell centres ((j + 0.5)/w, (i + 0.5)/h): returns Cxhxw. */
  forward(size: [number, number]): Tensor {
    const [h, w] = checkSize(size, 'size');
    const grid = new Float32Array(h * w * 2);
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        grid[(i * w + j) * 2] = (j + 0.5) / w;
        grid[(i * w + j) * 2 + 1] = (i + 0.5) / h;
      }
    }
    return tidy(() => this.peEncoding(tensor(grid, [h, w, 2])).permute(2, 0, 1));
  }

  /** Encodes BxNx2 pixel coordinates (x, y) of an image of imageSize (H, W): returns BxNx2F. */
  forwardWithCoords(coords: Tensor, imageSize: [number, number]): Tensor {
    return tidy(() => this.peEncoding(coords.div(tensor([imageSize[1], imageSize[0]])).float()));
  }
}

export interface PromptEncoderOptions {
  /** Prompt embedding dimension D (256). */
  embedDim: number;
  /** (H, W) of the image embedding (64, 64). */
  imageEmbeddingSize: [number, number];
  /** (H, W) of the padded encoder input (1024, 1024; LiteMedSAM 256, 256). */
  inputImageSize: [number, number];
  /** Hidden channels of the mask downscaling (16). */
  maskInChans: number;
}

/** Point prompts: coords BxNx2 in model-frame pixels (x, y), labels BxN (1 positive, 0 negative, −1 padding). */
export interface PointPrompt {
  coords: Tensor;
  labels: Tensor;
}

export interface PromptEmbeddings {
  /** BxNxD: point tokens (plus one padding token when there is no box), then the two box-corner tokens. */
  sparseEmbeddings: Tensor;
  /** BxDxhxw: the encoded mask, or no_mask_embed broadcast when no mask is given. */
  denseEmbeddings: Tensor;
}

export class PromptEncoder extends Module {
  readonly embedDim: number;
  readonly inputImageSize: [number, number];
  readonly imageEmbeddingSize: [number, number];
  /** (H, W) of the mask input: 4 × the embedding size (256, 256). */
  readonly maskInputSize: [number, number];
  readonly numPointEmbeddings = 4;
  readonly peLayer: PositionEmbeddingRandom;
  readonly pointEmbeddings: ModuleList<Embedding>;
  readonly notAPointEmbed: Embedding;
  readonly maskDownscaling: Sequential;
  readonly noMaskEmbed: Embedding;

  constructor(o: PromptEncoderOptions) {
    super();
    this.embedDim = checkPositiveInt(o.embedDim, 'embedDim');
    this.imageEmbeddingSize = checkSize(o.imageEmbeddingSize, 'imageEmbeddingSize');
    this.inputImageSize = checkSize(o.inputImageSize, 'inputImageSize');
    const c = checkPositiveInt(o.maskInChans, 'maskInChans');
    const D = this.embedDim;
    this.peLayer = this.registerModule('pe_layer', new PositionEmbeddingRandom(Math.floor(D / 2)));
    this.pointEmbeddings = this.registerModule('point_embeddings', new ModuleList(Array.from({ length: 4 }, () => new Embedding(1, D))));
    this.notAPointEmbed = this.registerModule('not_a_point_embed', new Embedding(1, D));
    this.maskInputSize = [4 * this.imageEmbeddingSize[0], 4 * this.imageEmbeddingSize[1]];
    this.maskDownscaling = this.registerModule('mask_downscaling', new Sequential(
      new Conv2d(1, Math.floor(c / 4), 2, { stride: 2 }),
      new LayerNorm2d(Math.floor(c / 4)),
      new GELU(),
      new Conv2d(Math.floor(c / 4), c, 2, { stride: 2 }),
      new LayerNorm2d(c),
      new GELU(),
      new Conv2d(c, D, 1),
    ));
    this.noMaskEmbed = this.registerModule('no_mask_embed', new Embedding(1, D));
  }

  /** The positional encoding of the image embedding grid: 1xDxhxw. */
  getDensePe(): Tensor {
    return tidy(() => this.peLayer.forward(this.imageEmbeddingSize).unsqueeze(0));
  }

  /** Point tokens BxN'xD; pad appends the (0, 0) point with label −1 (done when no box is given). */
  embedPoints(points: Tensor, labels: Tensor, pad: boolean): Tensor {
    return tidy(() => {
      let pts = points.add(0.5); // shift to the centre of the pixel
      let lab = labels;
      if (pad) {
        const B = pts.shape[0]!;
        pts = F.cat([pts, zeros([B, 1, 2], { dtype: pts.dtype })], 1);
        lab = F.cat([lab, full([B, 1], -1, { dtype: lab.dtype })], 1);
      }
      const pe = this.peLayer.forwardWithCoords(pts, this.inputImageSize);
      const is = (v: number): Tensor => lab.eq(v).unsqueeze(-1);
      // point_embedding[labels == -1] = 0 then += not_a_point; [labels == 0] += pe0; [labels == 1] += pe1.
      let e = F.where(is(-1), this.notAPointEmbed.weight, pe);
      e = F.where(is(0), e.add(this.pointEmbeddings.at(0).weight), e);
      return F.where(is(1), e.add(this.pointEmbeddings.at(1).weight), e);
    });
  }

  /** Box tokens Bx2xD from XYXY boxes Bx4: top-left + point_embeddings.2, bottom-right + point_embeddings.3. */
  embedBoxes(boxes: Tensor): Tensor {
    return tidy(() => {
      const coords = boxes.add(0.5).reshape(-1, 2, 2);
      const corners = this.peLayer.forwardWithCoords(coords, this.inputImageSize);
      return corners.add(F.cat([this.pointEmbeddings.at(2).weight, this.pointEmbeddings.at(3).weight], 0));
    });
  }

  /** Dense embedding BxDxhxw of mask logits Bx1x(4h)x(4w). */
  embedMasks(masks: Tensor): Tensor {
    return this.maskDownscaling.forward(masks);
  }

  /**
   * Embeds prompts; any of them may be null. B is taken from the points, else the boxes, else the masks, else 1.
   * points: BxNx2 (x, y) + BxN labels; boxes: Bx4 XYXY; masks: Bx1x(4h)x(4w) logits (e.g. a previous prediction).
   */
  forward(points: PointPrompt | null, boxes: Tensor | null, masks: Tensor | null): PromptEmbeddings {
    this.#check(points, boxes, masks);
    return tidy(() => {
      const bs = points ? points.coords.shape[0]! : boxes ? boxes.shape[0]! : masks ? masks.shape[0]! : 1;
      const parts: Tensor[] = [];
      if (points) parts.push(this.embedPoints(points.coords, points.labels, boxes === null));
      if (boxes) parts.push(this.embedBoxes(boxes));
      const sparseEmbeddings = parts.length === 0 ? empty([bs, 0, this.embedDim]) : parts.length === 1 ? parts[0]! : F.cat(parts, 1);
      const [h, w] = this.imageEmbeddingSize;
      const denseEmbeddings = masks ? this.embedMasks(masks) : this.noMaskEmbed.weight.reshape(1, -1, 1, 1).expand(bs, -1, h, w);
      return { sparseEmbeddings, denseEmbeddings };
    });
  }

  #check(points: PointPrompt | null, boxes: Tensor | null, masks: Tensor | null): void {
    if (points) {
      checkShape(points.coords, 'points.coords', [null, null, 2], 'BxNx2');
      checkShape(points.labels, 'points.labels', [points.coords.shape[0]!, points.coords.shape[1]!], 'BxN (as points.coords)');
    }
    if (boxes) checkShape(boxes, 'boxes', [null, 4], 'Bx4');
    if (masks) checkShape(masks, 'masks', [null, 1, this.maskInputSize[0], this.maskInputSize[1]], `Bx1x${this.maskInputSize[0]}x${this.maskInputSize[1]}`);
  }
}
