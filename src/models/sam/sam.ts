// Sam (segment_anything/modeling/sam.py): wires a finished image encoder, prompt encoder and mask decoder, and
// holds the pixel statistics and the pre-/post-processing that sit on the model. It builds nothing itself, so a
// light encoder (TinyViT) drops in unchanged. State dict: image_encoder.*, prompt_encoder.*, mask_decoder.*;
// pixel_mean / pixel_std are non-persistent buffers (not in checkpoints).
//
// Frames: the "input frame" is the image resized so its longest side is imgSize (the model frame of prompts);
// preprocess() normalises it and zero-pads it on the right/bottom to imgSize × imgSize.
import { type Tensor, F, noGrad, tensor, tidy } from '../../engine/index.ts';
import { Module } from '../../nn/index.ts';
import { checkShape, checkSize, expected } from './common.ts';
import type { MaskDecoder } from './maskDecoder.ts';
import type { PromptEncoder } from './promptEncoder.ts';

/** What Sam needs of an image encoder: Bx3xSxS → BxDxhxw (ImageEncoderViT, TinyViT). */
export interface SamImageEncoder extends Module {
  forward(x: Tensor): Tensor;
}

export const SAM_PIXEL_MEAN: readonly number[] = Object.freeze([123.675, 116.28, 103.53]);
export const SAM_PIXEL_STD: readonly number[] = Object.freeze([58.395, 57.12, 57.375]);

export interface SamOptions {
  /** Per-channel mean and std (RGB, 0..255 units) used by preprocess(). */
  pixelMean?: readonly number[];
  pixelStd?: readonly number[];
}

/** Prompts for one image, all in the input frame (pixels of the resized, unpadded image). */
export interface SamPrompts {
  /** BxNx2 points (x, y). */
  pointCoords?: Tensor;
  /** BxN labels: 1 positive, 0 negative, −1 padding. */
  pointLabels?: Tensor;
  /** Bx4 boxes XYXY. */
  boxes?: Tensor;
  /** Bx1x256x256 mask logits (e.g. a previous lowResLogits). */
  maskInputs?: Tensor;
}

export interface SamBatchedInput extends SamPrompts {
  /** 3xHxW image already resized to the input frame (not normalised; float or uint8, 0..255). */
  image: Tensor;
  /** (H, W) of the image before resizing. */
  originalSize: [number, number];
}

export interface SamDecoded {
  /** BxCx256x256 mask logits (C = 3 with multimask output, else 1). */
  lowResLogits: Tensor;
  /** BxC predicted IoU. */
  iouPredictions: Tensor;
}

export interface SamOutput extends SamDecoded {
  /** BxCxHxW boolean masks at the original size (H, W). */
  masks: Tensor;
}

export class Sam extends Module {
  /** Logit threshold of the binary masks. */
  static readonly maskThreshold = 0.0;
  static readonly imageFormat = 'RGB';
  readonly maskThreshold = Sam.maskThreshold;
  readonly pixelMean: Tensor;
  readonly pixelStd: Tensor;
  readonly imageEncoder: SamImageEncoder;
  readonly promptEncoder: PromptEncoder;
  readonly maskDecoder: MaskDecoder;

  constructor(imageEncoder: SamImageEncoder, promptEncoder: PromptEncoder, maskDecoder: MaskDecoder, o: SamOptions = {}) {
    super();
    const mean = o.pixelMean ?? SAM_PIXEL_MEAN, std = o.pixelStd ?? SAM_PIXEL_STD;
    for (const [name, v] of [['pixelMean', mean], ['pixelStd', std]] as const) {
      if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) throw expected('3 finite numbers', name, v);
    }
    this.imageEncoder = this.registerModule('image_encoder', imageEncoder);
    this.promptEncoder = this.registerModule('prompt_encoder', promptEncoder);
    this.maskDecoder = this.registerModule('mask_decoder', maskDecoder);
    this.pixelMean = this.registerBuffer('pixel_mean', tensor([...mean], [3, 1, 1]), false);
    this.pixelStd = this.registerBuffer('pixel_std', tensor([...std], [3, 1, 1]), false);
  }

  /** Side of the square encoder input (the encoder's imgSize; else the prompt encoder's input height). */
  get imgSize(): number {
    const own = (this.imageEncoder as unknown as { imgSize?: unknown }).imgSize;
    return typeof own === 'number' ? own : this.promptEncoder.inputImageSize[0];
  }

  /** Normalises (x − mean) / std and zero-pads right/bottom to imgSize²: (B)x3xHxW → (B)x3xSxS float32. */
  preprocess(x: Tensor): Tensor {
    const S = this.imgSize;
    const [h, w] = x.shape.slice(-2) as [number, number];
    if (x.ndim < 3 || x.shape[x.ndim - 3] !== 3 || h > S || w > S) {
      throw new RangeError(`Expected a 3xHxW or Bx3xHxW image with H, W <= ${S} for x but received shape [${x.shape.join(', ')}]`);
    }
    return tidy(() => F.pad(x.sub(this.pixelMean).div(this.pixelStd), [0, S - w, 0, S - h]));
  }

  /**
   * Removes the padding and resizes mask logits to the original image: BxCxhxw → bilinear (align_corners false)
   * to imgSize² → crop to inputSize (H', W') → bilinear to originalSize (H, W). Returns BxCxHxW logits.
   */
  postprocessMasks(masks: Tensor, inputSize: [number, number], originalSize: [number, number]): Tensor {
    const [ih, iw] = checkSize(inputSize, 'inputSize');
    const orig = checkSize(originalSize, 'originalSize');
    return tidy(() => {
      const S = this.imgSize;
      const up = F.interpolate(masks, { size: [S, S], mode: 'bilinear', alignCorners: false });
      return F.interpolate(up.slice(-2, 0, ih).slice(-1, 0, iw), { size: orig, mode: 'bilinear', alignCorners: false });
    });
  }

  /** Image embeddings of preprocessed images: Bx3xSxS → BxDxhxw. */
  encodeImage(x: Tensor): Tensor {
    return this.imageEncoder.forward(x);
  }

  /**
   * Prompt encoder + mask decoder for one image's embedding (1xDxhxw, or one per prompt): the low-res logits
   * and IoU predictions, as SamPredictor.predict_torch before its post-processing.
   */
  decode(imageEmbeddings: Tensor, prompts: SamPrompts, multimaskOutput: boolean): SamDecoded {
    const { pointCoords, pointLabels, boxes, maskInputs } = prompts;
    if ((pointCoords === undefined) !== (pointLabels === undefined)) throw new TypeError('pointCoords and pointLabels must be given together');
    return tidy(() => {
      const points = pointCoords && pointLabels ? { coords: pointCoords, labels: pointLabels } : null;
      const { sparseEmbeddings, denseEmbeddings } = this.promptEncoder.forward(points, boxes ?? null, maskInputs ?? null);
      const { masks, iouPred } = this.maskDecoder.forward(imageEmbeddings, this.promptEncoder.getDensePe(), sparseEmbeddings, denseEmbeddings, multimaskOutput);
      return { lowResLogits: masks, iouPredictions: iouPred };
    });
  }

  /**
   * End to end for a list of images with their prompts (the official Sam.forward, under no-grad): images are
   * preprocessed and encoded as one batch, then each image's prompts are decoded and post-processed.
   */
  forward(batchedInput: SamBatchedInput[], multimaskOutput: boolean): SamOutput[] {
    if (!Array.isArray(batchedInput) || batchedInput.length === 0) throw expected('a non-empty array of inputs', 'batchedInput', batchedInput);
    for (const [i, r] of batchedInput.entries()) checkShape(r.image, `batchedInput[${i}].image`, [3, null, null], '3xHxW');
    return noGrad(() => tidy(() => {
      const embeddings = this.encodeImage(F.stack(batchedInput.map((r) => this.preprocess(r.image)), 0));
      return batchedInput.map((record, i) => {
        const { lowResLogits, iouPredictions } = this.decode(embeddings.narrow(0, i, 1), record, multimaskOutput);
        const inputSize = record.image.shape.slice(-2) as [number, number];
        const masks = this.postprocessMasks(lowResLogits, inputSize, record.originalSize).gt(this.maskThreshold);
        return { masks, iouPredictions, lowResLogits };
      });
    }));
  }
}
