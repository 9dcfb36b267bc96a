// Fitting images to a model's input size and undoing it: stretch resize, letterbox (keep aspect ratio, pad) and
// SAM's ResizeLongestSide, each described by a ResizeRecord so predictions and prompts map back exactly.
//
// Sizes are in tensor order ([H,W] or [D,H,W]); coordinates are (x,y[,z]) in continuous pixel units of the frame
// they live in, and boxes are (x1,y1,x2,y2[ with z]) as [x1,y1,(z1),x2,y2,(z2)]. Resized sizes use SAM's
// half-up rounding: floor(n·s + 0.5).
import { type Generator, type Tensor, F, tensor, tidy } from '../../engine/index.ts';
import {
  type ResizeMode, type Sample, type SpatialRank, type Transform, type KeyOptions, batched, checkInt, checkOneOf, checkSize,
  imageKeysOf, interpMode, labelKeysOf, mapKeys, mapLabels, resampleLabels, spatialRank, spatialSize,
} from './common.ts';

/** How an image of `originalSize` was placed in a `targetSize` model input. */
export interface ResizeRecord {
  /** Spatial size before the transform, [H,W] or [D,H,W]. */
  originalSize: number[];
  /** Size the content was resized to (≤ targetSize). */
  resizedSize: number[];
  /** Model input size (content plus padding). */
  targetSize: number[];
  /** Padding before the content along each dim (0 for top-left placement). */
  offset: number[];
  /** resizedSize / originalSize per dim: the factor that maps coordinates into the model frame. */
  scale: number[];
}

export interface ResizeOptions {
  /** Interpolation for images: 'linear' (bilinear/trilinear, default), 'nearest', 'nearest-exact', 'bicubic' (2D). */
  mode?: ResizeMode;
  alignCorners?: boolean;
  /** Anti-aliased downsampling (2D linear/bicubic only), as torchvision's Resize(antialias=True). */
  antialias?: boolean;
}

/** Half-up rounding used by SAM's ResizeLongestSide: int(n·s + 0.5). */
export const roundHalfUp = (v: number): number => Math.floor(v + 0.5);

/** Resizes [C,H,W] / [C,D,H,W] to `size` (tensor order). Masks should use resizeLabels. */
export function resize(x: Tensor, size: number[], o: ResizeOptions = {}): Tensor {
  const rank = spatialRank(x);
  checkSize(size, rank, 'size');
  const mode = interpMode(o.mode ?? 'linear', rank);
  const nearest = mode === 'nearest' || mode === 'nearest-exact';
  const input = x.dtype === 'float32' || x.dtype === 'float64' ? x : x.to('float32');
  const out = batched(input, (b) => F.interpolate(b, { size, mode, alignCorners: nearest ? undefined : (o.alignCorners ?? false), antialias: o.antialias }));
  if (input !== x) input.dispose();
  return out;
}

/** Resizes a label map [1,...] with nearest neighbour ('nearest' = PyTorch/OpenCV floor rule), keeping dtype and labels. */
export function resizeLabels(mask: Tensor, size: number[], mode: 'nearest' | 'nearest-exact' = 'nearest'): Tensor {
  checkSize(size, spatialRank(mask, 'mask'), 'size');
  return resampleLabels(mask, (f) => F.interpolate(f, { size, mode }));
}

/** The record of a plain stretch to targetSize (aspect ratio not kept, no padding). */
export function planResize(originalSize: number[], targetSize: number[]): ResizeRecord {
  checkSize(originalSize, originalSize.length, 'originalSize');
  checkSize(targetSize, originalSize.length, 'targetSize');
  return {
    originalSize: [...originalSize], resizedSize: [...targetSize], targetSize: [...targetSize],
    offset: originalSize.map(() => 0), scale: targetSize.map((t, i) => t / originalSize[i]!),
  };
}

export type Placement = 'topleft' | 'center';

/**
 * The record of a letterbox: one scale s = min(target/original) for all dims, resized = floor(n·s + 0.5), padded
 * to targetSize. 'topleft' pads after the content (SAM, LiteMedSAM), 'center' splits the padding
 * (floor before, rest after).
 */
export function planLetterbox(originalSize: number[], targetSize: number[], placement: Placement = 'topleft'): ResizeRecord {
  checkSize(originalSize, originalSize.length, 'originalSize');
  checkSize(targetSize, originalSize.length, 'targetSize');
  checkOneOf(placement, 'placement', ['topleft', 'center'] as const);
  const s = Math.min(...targetSize.map((t, i) => t / originalSize[i]!));
  const resizedSize = originalSize.map((n, i) => Math.min(targetSize[i]!, Math.max(1, roundHalfUp(n * s))));
  const offset = placement === 'topleft' ? resizedSize.map(() => 0) : resizedSize.map((r, i) => Math.floor((targetSize[i]! - r) / 2));
  return { originalSize: [...originalSize], resizedSize, targetSize: [...targetSize], offset, scale: resizedSize.map((r, i) => r / originalSize[i]!) };
}

/** F.pad's list (last dim first) that places content of `record.resizedSize` at `record.offset` in targetSize. */
function padList(record: ResizeRecord): number[] {
  const pads: number[] = [];
  for (let i = record.targetSize.length - 1; i >= 0; i--) {
    const before = record.offset[i]!;
    pads.push(before, record.targetSize[i]! - record.resizedSize[i]! - before);
  }
  return pads;
}

function checkRecordInput(x: Tensor, record: ResizeRecord, name: string): void {
  const size = spatialSize(x);
  if (size.length !== record.originalSize.length || size.some((d, i) => d !== record.originalSize[i])) {
    throw new RangeError(`${name}: input spatial size [${size.join(', ')}] differs from the record's originalSize [${record.originalSize.join(', ')}]`);
  }
}

/** Applies a record to an image: resize to resizedSize, then pad with padValue to targetSize. */
export function applyResize(x: Tensor, record: ResizeRecord, o: ResizeOptions & { padValue?: number } = {}): Tensor {
  checkRecordInput(x, record, 'applyResize');
  return tidy(() => F.pad(resize(x, record.resizedSize, o), padList(record), 'constant', o.padValue ?? 0));
}

/** Applies a record to a label map (nearest; padding is label padValue, default 0 = background). */
export function applyResizeLabels(mask: Tensor, record: ResizeRecord, padValue = 0): Tensor {
  checkRecordInput(mask, record, 'applyResizeLabels');
  return tidy(() => F.pad(resizeLabels(mask, record.resizedSize), padList(record), 'constant', padValue));
}

/** Letterboxes an image [C,H,W] / [C,D,H,W] into targetSize; returns the image and its record. */
export function letterbox(x: Tensor, targetSize: number[], o: ResizeOptions & { placement?: Placement; padValue?: number } = {}): { image: Tensor; record: ResizeRecord } {
  const record = planLetterbox(spatialSize(x), targetSize, o.placement);
  return { image: applyResize(x, record, o), record };
}

/**
 * Maps a prediction in the model frame back to the original image: probabilities or logits [C,h,w] / [C,d,h,w]
 * (or with a batch dim, [B,C,...]). If its size is not targetSize (e.g. SAM's 256² low-res logits) it is first
 * resized to targetSize, then the padding is cropped and the content resized to originalSize: SAM's
 * postprocess_masks. mode 'linear' for probabilities/logits, 'nearest' for label maps (dtype kept).
 */
export function invertResize(pred: Tensor, record: ResizeRecord, o: { mode?: ResizeMode; alignCorners?: boolean } = {}): Tensor {
  const rank = record.originalSize.length as SpatialRank;
  if (pred.ndim !== rank + 1 && pred.ndim !== rank + 2) {
    throw new RangeError(`invertResize: expected a [C,...] or [B,C,...] prediction with ${rank} spatial dims but received shape [${pred.shape.join(', ')}]`);
  }
  const mode = interpMode(o.mode ?? 'linear', rank);
  const isLabel = mode === 'nearest' || mode === 'nearest-exact';
  return tidy(() => {
    let x = pred.ndim === rank + 1 ? pred.unsqueeze(0) : pred;
    const dtype = x.dtype;
    if (dtype !== 'float32' && dtype !== 'float64') x = x.to('float32');
    const interp = (t: Tensor, size: number[]): Tensor => F.interpolate(t, { size, mode, alignCorners: isLabel ? undefined : (o.alignCorners ?? false) });
    const lead = x.ndim - rank;
    if (x.shape.slice(lead).some((d, i) => d !== record.targetSize[i])) x = interp(x, record.targetSize);
    for (let i = 0; i < rank; i++) x = x.narrow(lead + i, record.offset[i]!, record.resizedSize[i]!);
    x = x.shape.slice(lead).some((d, i) => d !== record.originalSize[i]) ? interp(x, record.originalSize) : x.clone();
    if (isLabel && dtype !== x.dtype) x = x.round().to(dtype);
    return pred.ndim === rank + 1 ? x.squeeze(0) : x;
  });
}

/**
 * Coordinates [...,n] as (x,y[,z]) from the original frame into the model frame: c·scale + offset (inverse: back).
 * Integer input is converted to float32.
 */
export function mapCoords(coords: Tensor, record: ResizeRecord, inverse = false): Tensor {
  const n = record.originalSize.length;
  if (coords.shape[coords.ndim - 1] !== n) {
    throw new RangeError(`mapCoords: expected coordinates [..., ${n}] as (x,y${n === 3 ? ',z' : ''}) but received shape [${coords.shape.join(', ')}]`);
  }
  return tidy(() => {
    const c = coords.dtype === 'float64' ? coords : coords.to('float32');
    const s = tensor([...record.scale].reverse(), [n], { dtype: c.dtype });
    const t = tensor([...record.offset].reverse(), [n], { dtype: c.dtype });
    return inverse ? c.sub(t).div(s) : c.mul(s).add(t);
  });
}

/** Boxes [...,2n] as (x1,y1[,z1],x2,y2[,z2]) into the model frame (inverse: back). */
export function mapBoxes(boxes: Tensor, record: ResizeRecord, inverse = false): Tensor {
  const n = record.originalSize.length;
  if (boxes.shape[boxes.ndim - 1] !== 2 * n) {
    throw new RangeError(`mapBoxes: expected boxes [..., ${2 * n}] but received shape [${boxes.shape.join(', ')}]`);
  }
  return tidy(() => mapCoords(boxes.unflatten(-1, [2, n]), record, inverse).flatten(-2));
}

/** A single point (x,y[,z]) mapped with plain numbers (for prompts typed by a user). */
export function mapPoint(point: readonly number[], record: ResizeRecord, inverse = false): number[] {
  const n = record.originalSize.length;
  if (point.length !== n) throw new RangeError(`mapPoint: expected ${n} coordinates but received ${point.length}`);
  return point.map((v, i) => {
    const d = n - 1 - i; // x ↔ last tensor dim
    return inverse ? (v - record.offset[d]!) / record.scale[d]! : v * record.scale[d]! + record.offset[d]!;
  });
}

/**
 * SAM's ResizeLongestSide (segment_anything/utils/transforms.py): the longest side becomes targetLength, the other
 * floor(n·s + 0.5); coordinates scale by new/old per axis. `record()` adds SAM's bottom/right padding to a
 * targetLength square, so invertResize(lowResLogits, record) is SAM's postprocess_masks.
 */
export class ResizeLongestSide {
  readonly targetLength: number;
  constructor(targetLength: number) {
    this.targetLength = checkInt(targetLength, 'targetLength', 1);
  }
  /** (H,W) after resizing (H,W) so the longest side is targetLength. */
  static getPreprocessShape(oldH: number, oldW: number, longSideLength: number): [number, number] {
    const s = longSideLength / Math.max(oldH, oldW);
    return [roundHalfUp(oldH * s), roundHalfUp(oldW * s)];
  }
  /** The record for an image of originalSize [H,W] (or [D,H,W]) placed top-left in the padded square. */
  record(originalSize: number[]): ResizeRecord {
    return planLetterbox(originalSize, originalSize.map(() => this.targetLength), 'topleft');
  }
  /** Resizes [C,H,W] to the preprocess shape (no padding; SAM pads after normalising). */
  applyImage(x: Tensor, o: ResizeOptions = {}): Tensor {
    return resize(x, this.record(spatialSize(x)).resizedSize, o);
  }
  /** Points [...,2] (x,y) in an image of originalSize [H,W] into the resized frame. */
  applyCoords(coords: Tensor, originalSize: number[]): Tensor {
    return mapCoords(coords, this.record(originalSize));
  }
  /** Boxes [...,4] (x1,y1,x2,y2) into the resized frame. */
  applyBoxes(boxes: Tensor, originalSize: number[]): Tensor {
    return mapBoxes(boxes, this.record(originalSize));
  }
}

export interface FitOptions extends KeyOptions, ResizeOptions {
  /** Where the record is stored in the sample (default 'resize'); invertResize(pred, sample.resize) undoes it. */
  recordKey?: string;
  /** Image padding value (letterbox only; default 0). Label padding is always 0 (background). */
  padValue?: number;
}

/** Keyed stretch or letterbox to a model size: images linear, label maps nearest, record stored in the sample. */
abstract class Fit implements Transform {
  abstract readonly name: string;
  constructor(protected readonly targetSize: number[], protected readonly o: FitOptions = {}) {}
  protected abstract plan(size: number[]): ResizeRecord;
  apply(sample: Sample, _generator?: Generator): Sample {
    const size = spatialSize(sample.image);
    const record = this.plan(size);
    let out = mapKeys(sample, imageKeysOf(this.o), (t) => applyResize(t, record, this.o));
    out = mapLabels(out, labelKeysOf(this.o), size.length as SpatialRank, (t) => applyResizeLabels(t, record));
    return { ...out, [this.o.recordKey ?? 'resize']: record };
  }
}

/** Keyed stretch to targetSize ([H,W] / [D,H,W]). */
export class Resize extends Fit {
  readonly name = 'Resize';
  protected plan(size: number[]): ResizeRecord {
    return planResize(size, this.targetSize);
  }
}

/** Keyed letterbox to targetSize; placement 'topleft' (default, SAM) or 'center'. */
export class Letterbox extends Fit {
  readonly name = 'Letterbox';
  constructor(targetSize: number[], o: FitOptions & { placement?: Placement } = {}) {
    super(targetSize, o);
  }
  protected plan(size: number[]): ResizeRecord {
    return planLetterbox(size, this.targetSize, (this.o as { placement?: Placement }).placement ?? 'topleft');
  }
}
