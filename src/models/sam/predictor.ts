// SamPredictor (segment_anything/predictor.py): computes an image's embedding once with setImage() and then
// predicts masks for prompts given in ORIGINAL image pixels (predict) or in the model's input frame (predictTorch).
//
// Frames and coordinate order: points are (x, y) and boxes (x0, y0, x1, y1); the input frame is the image resized
// so its longest side is the spec's target length (1024 for SAM / MobileSAM), (H', W') = int(H·s + 0.5),
// int(W·s + 0.5). predict() scales x by W'/W and y by H'/H in float64 and casts to float32 (apply_coords /
// apply_boxes on numpy arrays); batched `boxes` are scaled in float32 as apply_boxes_torch does.
// Sizes are (H, W). Tensors returned by predict/predictTorch belong to the caller (dispose them).
//
// The three published recipes (sam.md §4), chosen by the spec's kind:
// - 'sam' (SAM, MobileSAM): Pillow bilinear to the longest side, (x − mean)/std, zero padding; masks = logits > 0.
// - 'medsam' (MedSAM_Inference.py): scikit-image order-3 resize to S × S ignoring the aspect ratio, uint8 by
//   truncation, min–max to [0, 1]; no mean/std, no padding. Prompts scale as (x / W)·S. Masks: sigmoid of the
//   256² logits, bilinear straight to (H, W), > 0.5.
// - 'lite_medsam' (CVPR24_LiteMedSAM_infer.py): OpenCV INTER_AREA to the longest side 256, min–max to [0, 1],
//   zero padding. Boxes scale by 256 / max(H, W) and are truncated with int(); points scale by the same ratio.
//   Masks: the SAM crop-and-resize of the logits, then sigmoid > 0.5.
// For both MedSAM recipes `logits` are the SAM-style resized logits (MedSAM: the 256² logits resized straight to
// (H, W)), so the masks, which follow the published rule, may differ from logits > 0 on boundary pixels.
import { type Tensor, F, dispose, inferenceMode, keep, tensor, tidy } from '../../engine/index.ts';
import type { SamConfig } from './registry.ts';
import { type SamPrompts, Sam, SAM_PIXEL_MEAN, SAM_PIXEL_STD } from './sam.ts';
import { type SamPreprocessSpec, longestSideShape, pillowResizeBilinear, preprocessSpecFor } from './resize.ts';
import { opencvResizeArea } from './resizeArea.ts';
import { medsamPreprocess } from './resizeSpline.ts';

/** An 8-bit image: interleaved row-major H x W x channels (1 grey → replicated to RGB, 3 RGB, 4 RGBA → alpha dropped). */
export interface SamImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

export interface SamPredictOptions {
  /** N x 2 points (x, y) in original-image pixels. */
  pointCoords?: number[][];
  /** N labels: 1 foreground, 0 background (−1 padding). */
  pointLabels?: number[];
  /** One box (x0, y0, x1, y1) in original-image pixels. */
  box?: number[];
  /** B boxes (x0, y0, x1, y1) in original pixels, decoded as a batch (outputs keep the B axis); no points then. */
  boxes?: number[][];
  /** Low-res mask logits from an earlier prediction: 256x256, 1x256x256 or (B)x1x256x256. */
  maskInput?: Tensor;
  /** Three masks (true, the default as in the official predictor) or one. */
  multimaskOutput?: boolean;
  /** Also return the original-size logits. */
  returnLogits?: boolean;
}

export interface SamPrediction {
  /** C x H x W boolean masks at the original size (B x C x H x W for batched boxes / predictTorch). */
  masks: Tensor;
  /** C predicted IoUs (B x C). */
  iouPredictions: Tensor;
  /** C x 256 x 256 low-resolution logits (B x C x 256 x 256), usable as a later maskInput. */
  lowResLogits: Tensor;
  /** C x H x W float32 logits at the original size (B x C x H x W), when returnLogits. */
  logits?: Tensor;
}

interface ImageState {
  embedding: Tensor;
  originalSize: [number, number];
  inputSize: [number, number];
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The image as H x W x 3 RGB bytes (grey replicated, alpha dropped). */
function toRgb(img: SamImage): Uint8Array {
  const { data, width: w, height: h, channels: c } = img;
  if (!(data instanceof Uint8Array)) throw new TypeError('Expected the image data as a Uint8Array (8-bit samples)');
  if (![1, 3, 4].includes(c)) throw new RangeError(`Expected an image with 1, 3 or 4 channels but received ${c}`);
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1 || data.length !== w * h * c) {
    throw new RangeError(`Expected ${w}x${h}x${c} = ${w * h * c} samples but received ${data.length}`);
  }
  if (c === 3) return data;
  const out = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    if (c === 1) { out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = data[i]!; } else { for (let k = 0; k < 3; k++) out[3 * i + k] = data[4 * i + k]!; }
  }
  return out;
}

export class SamPredictor {
  readonly model: Sam;
  readonly spec: SamPreprocessSpec;
  private state: ImageState | null = null;

  /**
   * model: a Sam in eval mode (not owned: dispose it yourself). spec: its preprocessing, from the config
   * (preprocessSpecFor(config)) or given; default SAM's (longest side = model.imgSize, Pillow bilinear, mean/std).
   * Normalisation uses the model's own pixel_mean / pixel_std buffers (Sam.preprocess), as the official predictor;
   * the MedSAM and LiteMedSAM recipes use min–max scaling instead (see the header).
   */
  constructor(model: Sam, spec?: SamPreprocessSpec | SamConfig) {
    if (!(model instanceof Sam)) throw new TypeError('SamPredictor: expected a Sam model');
    this.model = model;
    this.spec = spec === undefined ? { kind: 'sam', targetLength: model.imgSize, pixelMean: SAM_PIXEL_MEAN, pixelStd: SAM_PIXEL_STD }
      : 'imageEncoder' in spec ? preprocessSpecFor(spec) : spec;
    if (this.spec.targetLength !== model.imgSize) throw new RangeError(`SamPredictor: target length ${this.spec.targetLength} differs from the model's input size ${model.imgSize}`);
  }

  /** Whether setImage has been called (and resetImage not since). */
  get isImageSet(): boolean {
    return this.state !== null;
  }

  /** (H, W) of the image given to setImage. */
  get originalSize(): [number, number] {
    return [...this.need().originalSize];
  }

  /** (H', W') of the resized image (the model frame of the prompts). */
  get inputSize(): [number, number] {
    return [...this.need().inputSize];
  }

  /**
   * Resizes the image (longest side → targetLength, Pillow bilinear on uint8), normalises, pads and encodes it;
   * the 1 x D x h x w embedding is cached for predict(). Replaces any earlier image.
   */
  setImage(image: SamImage): void {
    const rgb = toRgb(image);
    const H = image.height, W = image.width, S = this.model.imgSize;
    if (this.spec.kind === 'medsam') {
      this.encode(tensor(medsamPreprocess(rgb, W, H, S), [S, S, 3]), [H, W], [S, S]);
      return;
    }
    const [nh, nw] = longestSideShape(H, W, this.spec.targetLength);
    if (this.spec.kind === 'lite_medsam') {
      const resized = opencvResizeArea(rgb, W, H, 3, nw, nh);
      let lo = 255, hi = 0;
      for (const v of resized) { if (v < lo) lo = v; if (v > hi) hi = v; }
      const range = Math.max(hi - lo, 1e-8);
      this.encode(tensor(Float32Array.from(resized, (v) => (v - lo) / range), [nh, nw, 3]), [H, W], [nh, nw]);
      return;
    }
    this.setResizedImage(tensor(pillowResizeBilinear(rgb, W, H, 3, nw, nh), [nh, nw, 3]), [H, W], true);
  }

  /** Encodes an already normalised H' × W' × 3 float image (zero-padded to S × S) and caches it; consumes hwc. */
  private encode(hwc: Tensor, originalSize: [number, number], inputSize: [number, number]): void {
    try {
      const S = this.model.imgSize;
      const embedding = inferenceMode(() => tidy(() => {
        const x = hwc.permute(2, 0, 1).unsqueeze(0).contiguous();
        return this.model.encodeImage(F.pad(x, [0, S - inputSize[1], 0, S - inputSize[0]]));
      }));
      this.resetImage();
      this.state = { embedding: keep(embedding), originalSize: [...originalSize], inputSize: [...inputSize] };
    } finally {
      hwc.dispose();
    }
  }

  /**
   * setImage for an image already resized to the input frame: H' x W' x 3 uint8 (or float 0..255), as the
   * official set_torch_image (there 1x3xH'xW'). originalSize (H, W) is the size before resizing.
   */
  setResizedImage(hwc: Tensor, originalSize: [number, number], consume = false): void {
    try {
      if (this.spec.kind !== 'sam') throw new RangeError(`SamPredictor.setResizedImage: only for the 'sam' preprocessing (this predictor uses '${this.spec.kind}'; call setImage)`);
      if (hwc.ndim !== 3 || hwc.shape[2] !== 3) throw new RangeError(`Expected an H'xW'x3 image but received shape [${hwc.shape.join(', ')}]`);
      const [nh, nw] = hwc.shape as [number, number, number];
      const S = this.model.imgSize;
      if (Math.max(nh, nw) !== S) throw new RangeError(`Expected the longest side of the resized image to be ${S} but received [${nh}, ${nw}]`);
      const embedding = inferenceMode(() => tidy(() => {
        const x = this.model.preprocess(hwc.permute(2, 0, 1).unsqueeze(0).to('float32'));
        return this.model.encodeImage(x);
      }));
      this.resetImage();
      this.state = { embedding: keep(embedding), originalSize: [...originalSize], inputSize: [nh, nw] };
    } finally {
      if (consume) hwc.dispose();
    }
  }

  /** The cached 1 x D x h x w image embedding (owned by the predictor: do not dispose it). */
  getImageEmbedding(): Tensor {
    return this.need().embedding;
  }

  /** Forgets the image and frees its embedding. */
  resetImage(): void {
    if (this.state) dispose(this.state.embedding);
    this.state = null;
  }

  /** Frees the cached embedding (the model is not owned by the predictor). */
  dispose(): void {
    this.resetImage();
  }

  /** Prompts in original pixels → model-frame prompts, then predictTorch; outputs drop the batch axis unless `boxes`. */
  predict(o: SamPredictOptions = {}): SamPrediction {
    const { originalSize: [H, W], inputSize: [nh, nw] } = this.need();
    const sx = nw / W, sy = nh / H, S = this.model.imgSize, kind = this.spec.kind;
    const liteRatio = S / Math.max(H, W);
    // One coordinate from original pixels to the input frame, as each recipe's own code computes it.
    const toInput = (v: number, isX: boolean, box: boolean): number => kind === 'medsam' ? (v / (isX ? W : H)) * S
      : kind === 'lite_medsam' ? (box ? Math.trunc(v * liteRatio) : v * liteRatio) : v * (isX ? sx : sy);
    const { pointCoords, pointLabels, box, boxes } = o;
    if ((pointCoords === undefined) !== (pointLabels === undefined)) throw new TypeError('SamPredictor.predict: pointCoords and pointLabels must be given together');
    if (box !== undefined && boxes !== undefined) throw new TypeError('SamPredictor.predict: give either box or boxes, not both');
    if (boxes !== undefined && pointCoords !== undefined) throw new TypeError('SamPredictor.predict: points with batched boxes: use predictTorch with B x N x 2 points');
    const batched = boxes !== undefined;
    return tidy(() => {
      const p: SamPrompts = {};
      if (pointCoords && pointLabels) {
        if (!Array.isArray(pointCoords) || pointCoords.length === 0 || !pointCoords.every((q) => Array.isArray(q) && q.length === 2 && q.every(finite))) {
          throw new TypeError('SamPredictor.predict: expected pointCoords as a non-empty list of [x, y] finite numbers');
        }
        if (!Array.isArray(pointLabels) || pointLabels.length !== pointCoords.length || !pointLabels.every((l) => Number.isInteger(l) && l >= -1 && l <= 3)) {
          throw new TypeError(`SamPredictor.predict: expected ${pointCoords.length} integer point labels (1 foreground, 0 background)`);
        }
        p.pointCoords = tensor(pointCoords.flatMap(([x, y]) => [Math.fround(toInput(x!, true, false)), Math.fround(toInput(y!, false, false))]), [1, pointCoords.length, 2]);
        p.pointLabels = tensor(Int32Array.from(pointLabels), [1, pointLabels.length]);
      }
      const checkBox = (b: unknown, what: string): number[] => {
        if (!Array.isArray(b) || b.length !== 4 || !b.every(finite)) throw new TypeError(`SamPredictor.predict: expected ${what} as [x0, y0, x1, y1] finite numbers`);
        return b as number[];
      };
      if (box !== undefined) {
        const b = checkBox(box, 'box');
        p.boxes = tensor(b.map((v, i) => Math.fround(toInput(v, i % 2 === 0, true))), [1, 4]);
      }
      if (boxes !== undefined) {
        if (!Array.isArray(boxes) || boxes.length === 0) throw new TypeError('SamPredictor.predict: expected boxes as a non-empty list of boxes');
        const f = Math.fround, fx = f(sx), fy = f(sy);
        const scale = (x: number, i: number): number => kind === 'sam' ? f(f(x) * (i % 2 === 0 ? fx : fy)) : f(toInput(x, i % 2 === 0, true));
        const v = boxes.flatMap((b, k) => checkBox(b, `boxes[${k}]`).map(scale));
        p.boxes = tensor(v, [boxes.length, 4]);
      }
      if (o.maskInput !== undefined) p.maskInputs = this.maskInput(o.maskInput, batched ? boxes!.length : 1);
      const r = this.predictTorch(p, o.multimaskOutput ?? true, o.returnLogits ?? false);
      if (batched) return r;
      const out: SamPrediction = { masks: r.masks.squeeze(0), iouPredictions: r.iouPredictions.squeeze(0), lowResLogits: r.lowResLogits.squeeze(0) };
      if (r.logits) out.logits = r.logits.squeeze(0);
      return out;
    });
  }

  /**
   * Prompts already in the model input frame (float32): pointCoords B x N x 2 (x, y), pointLabels B x N, boxes
   * B x 4, maskInputs B x 1 x 256 x 256. Returns batched outputs (B x C x ...), as the official predict_torch.
   */
  predictTorch(prompts: SamPrompts, multimaskOutput = true, returnLogits = false): SamPrediction {
    const st = this.need();
    if (!prompts.pointCoords && !prompts.boxes && !prompts.maskInputs) throw new TypeError('SamPredictor: give at least one prompt (points, a box or a mask input)');
    return inferenceMode(() => tidy(() => {
      const { lowResLogits, iouPredictions } = this.model.decode(st.embedding, prompts, multimaskOutput);
      const resize = (x: Tensor): Tensor => F.interpolate(x, { size: st.originalSize, mode: 'bilinear', alignCorners: false });
      const logits = this.spec.kind === 'medsam' ? resize(lowResLogits) : this.model.postprocessMasks(lowResLogits, st.inputSize, st.originalSize);
      const masks = this.spec.kind === 'medsam' ? resize(lowResLogits.sigmoid()).gt(0.5)
        : this.spec.kind === 'lite_medsam' ? logits.sigmoid().gt(0.5) : logits.gt(this.model.maskThreshold);
      const out: SamPrediction = { masks, iouPredictions, lowResLogits };
      if (returnLogits) out.logits = logits;
      return out;
    }));
  }

  private maskInput(m: Tensor, batch: number): Tensor {
    const s = m.shape;
    const ok = s.length >= 2 && s[s.length - 1] === 256 && s[s.length - 2] === 256 && s.slice(0, -2).every((d) => d === 1);
    const okBatched = s.length === 4 && s[0] === batch && s[1] === 1 && s[2] === 256 && s[3] === 256;
    if (!ok && !okBatched) throw new RangeError(`SamPredictor: expected a 256x256, 1x256x256 or ${batch}x1x256x256 mask input but received shape [${s.join(', ')}]`);
    return tidy(() => {
      const x = okBatched ? m : m.reshape(1, 1, 256, 256);
      return (batch > 1 && x.shape[0] === 1 ? x.expand(batch, 1, 256, 256) : x).to('float32');
    });
  }

  private need(): ImageState {
    if (!this.state) throw new Error('SamPredictor: an image must be set with setImage() before predicting');
    return this.state;
  }
}
