// SamAutomaticMaskGenerator (segment_anything/automatic_mask_generator.py and utils/amg.py): prompts SAM with a
// grid of single foreground points (optionally on overlapping crops too), keeps masks whose predicted IoU and
// stability score pass their thresholds, drops masks cut by a crop's inner edge, and removes duplicates by box NMS.
// Defaults, order of operations and outputs are the official ones, so results match it mask for mask:
// - masks come back ordered by predicted IoU within each crop (torchvision's NMS returns kept boxes by score);
// - bbox and cropBox are XYWH in original pixels, the box's right/bottom being the last inside column/row;
// - grid points are computed in float64 and scaled into the model frame in float64, as the official numpy path.
// Only output_mode "binary_mask" is offered: segmentation is an H x W bool tensor (the RLE modes are encodings of it).
import { type Tensor, F, arange, dispose, inferenceMode, keep, tensor, tidy } from '../../engine/index.ts';
import { SamPredictor, type SamImage } from './predictor.ts';
import type { Sam } from './sam.ts';
import type { SamPreprocessSpec } from './resize.ts';
import type { SamConfig } from './registry.ts';
import { longestSideShape } from './resize.ts';

export interface AutomaticMaskGeneratorOptions {
  /** Points sampled along one side of the image (grid of n x n); null when pointGrids is given. */
  pointsPerSide: number | null;
  /** Points decoded together (memory vs speed). */
  pointsPerBatch: number;
  /** Keep masks whose predicted IoU exceeds this (0 keeps all). */
  predIouThresh: number;
  /** Keep masks whose stability score is at least this (0 keeps all). */
  stabilityScoreThresh: number;
  /** Logit offset of the stability score: IoU of the masks thresholded at maskThreshold ± offset. */
  stabilityScoreOffset: number;
  /** IoU above which box NMS removes the lower-scoring duplicate within a crop. */
  boxNmsThresh: number;
  /** Extra crop layers: layer i cuts the image into (2^i)^2 overlapping crops. */
  cropNLayers: number;
  /** Box NMS across crops (smaller crops win). */
  cropNmsThresh: number;
  /** Overlap of neighbouring crops as a fraction of the short side (at the first crop layer). */
  cropOverlapRatio: number;
  /** Points per side in crop layer i are scaled down by this^i. */
  cropNPointsDownscaleFactor: number;
  /** Explicit grids per layer (points in [0, 1] as (x, y)), instead of pointsPerSide. */
  pointGrids: number[][][] | null;
  /** Remove islands and fill holes smaller than this many pixels (8-connectivity), then NMS again (0 = off). */
  minMaskRegionArea: number;
}

export const AMG_DEFAULTS: Readonly<AutomaticMaskGeneratorOptions> = Object.freeze({
  pointsPerSide: 32, pointsPerBatch: 64, predIouThresh: 0.88, stabilityScoreThresh: 0.95, stabilityScoreOffset: 1.0,
  boxNmsThresh: 0.7, cropNLayers: 0, cropNmsThresh: 0.7, cropOverlapRatio: 512 / 1500, cropNPointsDownscaleFactor: 1,
  pointGrids: null, minMaskRegionArea: 0,
});

export interface AutoMask {
  /** H x W bool mask at the original size (owned by the caller: dispose it, or disposeMasks(list)). */
  segmentation: Tensor;
  area: number;
  /** [x, y, w, h], w = right − left for the inclusive last column (the official box_xyxy_to_xywh). */
  bbox: [number, number, number, number];
  predictedIou: number;
  /** The grid point that produced the mask, in original pixels. */
  pointCoords: [[number, number]];
  stabilityScore: number;
  cropBox: [number, number, number, number];
}

export const disposeMasks = (masks: AutoMask[]): void => masks.forEach((m) => m.segmentation.dispose());

type Box = [number, number, number, number];

/** Candidates gathered so far: per-mask metadata in JS, the masks as one N x H x W bool tensor (or none). */
interface MaskData {
  masks: Tensor[];
  iou: number[];
  stability: number[];
  points: [number, number][];
  boxes: Box[];
  cropBoxes: Box[];
}

const emptyData = (): MaskData => ({ masks: [], iou: [], stability: [], points: [], boxes: [], cropBoxes: [] });

/** numpy.linspace(start, stop, n) (endpoint included): i * step + start, the last element exactly stop. */
function linspace(start: number, stop: number, n: number): number[] {
  if (n === 1) return [start];
  const step = (stop - start) / (n - 1);
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? stop : i * step + start));
}

/** build_point_grid: n x n cell centres in [0, 1]², rows of constant y, x varying fastest. */
export function buildPointGrid(nPerSide: number): [number, number][] {
  const offset = 1 / (2 * nPerSide);
  const side = linspace(offset, 1 - offset, nPerSide);
  return side.flatMap((y) => side.map((x): [number, number] => [x, y]));
}

/** build_all_layer_point_grids: layer i has int(n / scale^i) points per side. */
export function buildAllLayerPointGrids(nPerSide: number, nLayers: number, scalePerLayer: number): [number, number][][] {
  return Array.from({ length: nLayers + 1 }, (_, i) => buildPointGrid(Math.trunc(nPerSide / scalePerLayer ** i)));
}

/** generate_crop_boxes: the whole image, then layer i's (2^i)² overlapping crops, XYXY. Returns boxes and layers. */
export function generateCropBoxes(imH: number, imW: number, nLayers: number, overlapRatio: number): { boxes: Box[]; layers: number[] } {
  const boxes: Box[] = [[0, 0, imW, imH]];
  const layers = [0];
  const shortSide = Math.min(imH, imW);
  const cropLen = (orig: number, n: number, overlap: number): number => Math.ceil((overlap * (n - 1) + orig) / n);
  for (let layer = 0; layer < nLayers; layer++) {
    const n = 2 ** (layer + 1);
    const overlap = Math.trunc(overlapRatio * shortSide * (2 / n));
    const cw = cropLen(imW, n, overlap), ch = cropLen(imH, n, overlap);
    const x0s = Array.from({ length: n }, (_, i) => Math.trunc((cw - overlap) * i));
    const y0s = Array.from({ length: n }, (_, i) => Math.trunc((ch - overlap) * i));
    for (const x0 of x0s) {
      for (const y0 of y0s) {
        boxes.push([x0, y0, Math.min(x0 + cw, imW), Math.min(y0 + ch, imH)]);
        layers.push(layer + 1);
      }
    }
  }
  return { boxes, layers };
}

/**
 * batched_mask_to_box: XYXY boxes (right/bottom = last inside column/row) of bool masks ... x H x W; an empty mask
 * gives [0, 0, 0, 0]. Returns an int64 tensor ... x 4.
 */
export function batchedMaskToBox(masks: Tensor): Tensor {
  return tidy(() => {
    const shape = masks.shape;
    const [h, w] = shape.slice(-2) as [number, number];
    if (masks.numel === 0) return tensor(new BigInt64Array(0), [...shape.slice(0, -2), 4]);
    const m = masks.reshape(-1, h, w);
    const edges = (present: Tensor, n: number): [Tensor, Tensor] => {
      const coords = present.long().mul(arange(n, undefined, 1, { dtype: 'int64' }).unsqueeze(0));
      const last = coords.amax(-1);
      const first = coords.add(present.logicalNot().long().mul(n)).amin(-1);
      return [first, last];
    };
    const [top, bottom] = edges(m.amax(-1), h);
    const [left, right] = edges(m.amax(-2), w);
    const empty = right.lt(left).logicalOr(bottom.lt(top));
    const out = F.stack([left, top, right, bottom], -1).mul(empty.logicalNot().long().unsqueeze(-1));
    return out.reshape(...shape.slice(0, -2), 4);
  });
}

/** calculate_stability_score: |logits > t + offset| / |logits > t − offset| per mask (float32, NaN for 0/0). */
export function stabilityScore(logits: Tensor, threshold: number, offset: number): Tensor {
  return tidy(() => {
    const count = (t: number): Tensor => logits.gt(t).sum([-1, -2], false, 'int32');
    return count(threshold + offset).div(count(threshold - offset));
  });
}

/** IoU of two XYXY boxes as torchvision computes it (areas without +1). */
function boxIou(a: Box, b: Box): number {
  const areaA = (a[2] - a[0]) * (a[3] - a[1]), areaB = (b[2] - b[0]) * (b[3] - b[1]);
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0])), h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = w * h;
  return inter / (areaA + areaB - inter);
}

/**
 * torchvision.ops.nms (every box in one class): indices of the kept boxes by decreasing score (a stable sort, so
 * ties keep their order). Boxes are few (masks surviving the thresholds), so this runs on JS arrays.
 */
export function nms(boxes: Box[], scores: number[], iouThreshold: number): number[] {
  const order = scores.map((s, i) => [s, i] as const).sort((p, q) => (q[0] !== p[0] ? (q[0] > p[0] ? 1 : -1) : p[1] - q[1])).map(([, i]) => i);
  const removed = new Uint8Array(boxes.length);
  const keepIdx: number[] = [];
  for (let a = 0; a < order.length; a++) {
    const i = order[a]!;
    if (removed[i]) continue;
    keepIdx.push(i);
    for (let b = a + 1; b < order.length; b++) {
      const j = order[b]!;
      if (!removed[j] && boxIou(boxes[i]!, boxes[j]!) > iouThreshold) removed[j] = 1;
    }
  }
  return keepIdx;
}

/** is_box_near_crop_edge: a box within 20 px of a crop edge that is not also an image edge. */
function nearCropEdge(box: Box, crop: Box, orig: Box, atol = 20): boolean {
  const b = [box[0] + crop[0], box[1] + crop[1], box[2] + crop[0], box[3] + crop[1]];
  return b.some((v, k) => Math.abs(v - crop[k]!) <= atol && !(Math.abs(v - orig[k]!) <= atol));
}

const indexTensor = (idx: number[]): Tensor => tensor(BigInt64Array.from(idx, BigInt), [idx.length]);

/** Keeps the entries at idx (in that order) of every field; the masks are gathered into one tensor (d's are freed). */
function select(d: MaskData, idx: number[]): MaskData {
  const pick = <T>(xs: T[]): T[] => idx.map((i) => xs[i]!);
  const masks = d.masks.length && idx.length
    ? [keep(tidy(() => (d.masks.length === 1 ? d.masks[0]! : F.cat(d.masks, 0)).indexSelect(0, indexTensor(idx))))]
    : [];
  dispose(d.masks);
  return { masks, iou: pick(d.iou), stability: pick(d.stability), points: pick(d.points), boxes: pick(d.boxes), cropBoxes: pick(d.cropBoxes) };
}

function append(into: MaskData, more: MaskData): void {
  into.masks.push(...more.masks);
  into.iou.push(...more.iou);
  into.stability.push(...more.stability);
  into.points.push(...more.points);
  into.boxes.push(...more.boxes);
  into.cropBoxes.push(...more.cropBoxes);
}

function checkOptions(o: AutomaticMaskGeneratorOptions): void {
  const bad = (what: string, v: unknown): never => { throw new RangeError(`SamAutomaticMaskGenerator: ${what}, got ${JSON.stringify(v)}`); };
  if ((o.pointsPerSide === null) === (o.pointGrids === null)) bad('give exactly one of pointsPerSide and pointGrids', { pointsPerSide: o.pointsPerSide, pointGrids: o.pointGrids === null ? null : '[...]' });
  if (o.pointsPerSide !== null && !(Number.isInteger(o.pointsPerSide) && o.pointsPerSide >= 1)) bad('pointsPerSide must be a positive integer', o.pointsPerSide);
  if (!(Number.isInteger(o.pointsPerBatch) && o.pointsPerBatch >= 1)) bad('pointsPerBatch must be a positive integer', o.pointsPerBatch);
  if (!(Number.isInteger(o.cropNLayers) && o.cropNLayers >= 0)) bad('cropNLayers must be a non-negative integer', o.cropNLayers);
  if (!(Number.isInteger(o.cropNPointsDownscaleFactor) && o.cropNPointsDownscaleFactor >= 1)) bad('cropNPointsDownscaleFactor must be a positive integer', o.cropNPointsDownscaleFactor);
  for (const k of ['predIouThresh', 'stabilityScoreThresh', 'boxNmsThresh', 'cropNmsThresh', 'cropOverlapRatio'] as const) {
    if (!(typeof o[k] === 'number' && o[k] >= 0 && o[k] <= 1)) bad(`${k} must be a number in [0, 1]`, o[k]);
  }
  if (!(typeof o.stabilityScoreOffset === 'number' && Number.isFinite(o.stabilityScoreOffset))) bad('stabilityScoreOffset must be a finite number', o.stabilityScoreOffset);
  if (!(Number.isInteger(o.minMaskRegionArea) && o.minMaskRegionArea >= 0)) bad('minMaskRegionArea must be a non-negative integer', o.minMaskRegionArea);
  if (o.pointGrids !== null) {
    if (!Array.isArray(o.pointGrids) || o.pointGrids.length !== o.cropNLayers + 1) bad(`pointGrids must list ${o.cropNLayers + 1} grids (one per crop layer)`, o.pointGrids?.length);
    for (const g of o.pointGrids) if (!Array.isArray(g) || !g.every((p) => Array.isArray(p) && p.length === 2 && p.every((v) => typeof v === 'number' && v >= 0 && v <= 1))) bad('pointGrids must hold [x, y] points in [0, 1]', '...');
  }
}

export class SamAutomaticMaskGenerator {
  readonly predictor: SamPredictor;
  readonly options: Readonly<AutomaticMaskGeneratorOptions>;
  private readonly pointGrids: [number, number][][];

  /** model: a Sam in eval mode (not owned). spec: its preprocessing, as for SamPredictor. */
  constructor(model: Sam, options: Partial<AutomaticMaskGeneratorOptions> = {}, spec?: SamPreprocessSpec | SamConfig) {
    const o = { ...AMG_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as AutomaticMaskGeneratorOptions;
    if (options.pointGrids && options.pointsPerSide === undefined) o.pointsPerSide = null;
    checkOptions(o);
    this.options = Object.freeze(o);
    this.pointGrids = o.pointGrids
      ? o.pointGrids.map((g) => g.map(([x, y]) => [x!, y!] as [number, number]))
      : buildAllLayerPointGrids(o.pointsPerSide!, o.cropNLayers, o.cropNPointsDownscaleFactor);
    this.predictor = new SamPredictor(model, spec);
  }

  /** Masks for the whole image, best first within each crop; each segmentation is an H x W bool tensor to dispose. */
  generate(image: SamImage): AutoMask[] {
    return inferenceMode(() => this.generateMasks(image));
  }

  private generateMasks(image: SamImage): AutoMask[] {
    const o = this.options;
    const H = image.height, W = image.width;
    const { boxes: cropBoxes, layers } = generateCropBoxes(H, W, o.cropNLayers, o.cropOverlapRatio);
    let data = emptyData();
    try {
      for (const [k, crop] of cropBoxes.entries()) append(data, this.processCrop(image, crop, layers[k]!, [H, W]));
      if (cropBoxes.length > 1) {
        // Prefer masks from smaller crops: score = 1 / crop area.
        const scores = data.cropBoxes.map((c) => 1 / ((c[2] - c[0]) * (c[3] - c[1])));
        data = select(data, nms(data.boxes, scores, o.cropNmsThresh));
      }
      if (o.minMaskRegionArea > 0 && data.iou.length) data = this.postprocessSmallRegions(data, o.minMaskRegionArea, Math.max(o.boxNmsThresh, o.cropNmsThresh));
    } catch (err) {
      dispose(data.masks);
      throw err;
    }
    const all = data.masks[0];
    const out: AutoMask[] = data.iou.map((iou, i) => {
      const segmentation = keep(tidy(() => all!.select(0, i).clone()));
      const b = data.boxes[i]!, c = data.cropBoxes[i]!;
      return {
        segmentation, area: 0, bbox: [b[0], b[1], b[2] - b[0], b[3] - b[1]], predictedIou: iou,
        pointCoords: [[...data.points[i]!]] as [[number, number]], stabilityScore: data.stability[i]!, cropBox: [c[0], c[1], c[2] - c[0], c[3] - c[1]],
      };
    });
    if (all) {
      const areas = tidy(() => all.sum([-1, -2], false, 'int64').toArray());
      out.forEach((m, i) => { m.area = areas[i]!; });
      dispose(all);
    }
    return out;
  }

  private processCrop(image: SamImage, crop: Box, layer: number, [H, W]: [number, number]): MaskData {
    const o = this.options;
    const [x0, y0, x1, y1] = crop;
    const cropped = x0 === 0 && y0 === 0 && x1 === W && y1 === H ? image : cropImage(image, crop);
    const ch = y1 - y0, cw = x1 - x0;
    this.predictor.setImage(cropped);
    const data = emptyData();
    try {
      const points = this.pointGrids[layer]!.map(([x, y]): [number, number] => [x * cw, y * ch]);
      for (let s = 0; s < points.length; s += o.pointsPerBatch) {
        append(data, this.processBatch(points.slice(s, s + o.pointsPerBatch), [ch, cw], crop, [H, W]));
      }
    } catch (err) {
      dispose(data.masks);
      throw err;
    } finally {
      this.predictor.resetImage();
    }
    const kept = select(data, nms(data.boxes, data.iou, o.boxNmsThresh));
    kept.boxes = kept.boxes.map((b) => [b[0] + x0, b[1] + y0, b[2] + x0, b[3] + y0]);
    kept.points = kept.points.map(([x, y]) => [x + x0, y + y0]);
    kept.cropBoxes = kept.boxes.map(() => [...crop]);
    return kept;
  }

  /** One batch of grid points (crop pixels) → the masks that pass the thresholds, uncropped to the image. */
  private processBatch(points: [number, number][], [ch, cw]: [number, number], crop: Box, [H, W]: [number, number]): MaskData {
    const o = this.options;
    const model = this.predictor.model;
    const [nh, nw] = longestSideShape(ch, cw, model.imgSize);
    const embedding = this.predictor.getImageEmbedding();
    const { logits, iou } = tidy(() => {
      // apply_coords on the float64 grid, then float64 into the prompt encoder (it casts after dividing).
      const coords = tensor(Float64Array.from(points.flatMap(([x, y]) => [x * (nw / cw), y * (nh / ch)])), [points.length, 1, 2]);
      const labels = tensor(new Int32Array(points.length).fill(1), [points.length, 1]);
      const d = model.decode(embedding, { pointCoords: coords, pointLabels: labels }, true);
      return { logits: model.postprocessMasks(d.lowResLogits, [nh, nw], [ch, cw]).flatten(0, 1), iou: d.iouPredictions.flatten(0, 1) };
    });
    try {
      const perPoint = logits.shape[0]! / points.length;
      let idx = Array.from({ length: logits.shape[0]! }, (_, i) => i);
      const iouAll = iou.toArray();
      if (o.predIouThresh > 0) idx = idx.filter((i) => iouAll[i]! > o.predIouThresh);
      if (!idx.length) return emptyData();
      return tidy(() => {
        let kept = logits.indexSelect(0, indexTensor(idx));
        const stab = stabilityScore(kept, model.maskThreshold, o.stabilityScoreOffset).toArray();
        let pos = idx.map((_, k) => k);
        if (o.stabilityScoreThresh > 0) pos = pos.filter((k) => stab[k]! >= o.stabilityScoreThresh);
        if (!pos.length) return emptyData();
        if (pos.length !== idx.length) kept = kept.indexSelect(0, indexTensor(pos));
        const masks = kept.gt(model.maskThreshold);
        const boxes = chunks4(batchedMaskToBox(masks).toArray());
        const inside = pos.map((_, k) => k).filter((k) => !nearCropEdge(boxes[k]!, crop, [0, 0, W, H]));
        if (!inside.length) return emptyData();
        const sel = inside.length === pos.length ? masks : masks.indexSelect(0, indexTensor(inside));
        const [x0, y0, x1, y1] = crop;
        const full = x0 === 0 && y0 === 0 && x1 === W && y1 === H ? sel : F.pad(sel, [x0, W - x1, y0, H - y1]);
        const src = inside.map((k) => idx[pos[k]!]!);
        return {
          masks: [keep(full)], iou: src.map((i) => iouAll[i]!), stability: inside.map((k) => stab[pos[k]!]!),
          points: src.map((i) => points[Math.floor(i / perPoint)]!), boxes: inside.map((k) => boxes[k]!), cropBoxes: inside.map(() => [...crop] as Box),
        };
      });
    } finally {
      dispose([logits, iou]);
    }
  }

  /** postprocess_small_regions: fill small holes, drop small islands, then NMS preferring unchanged masks. */
  private postprocessSmallRegions(data: MaskData, minArea: number, nmsThresh: number): MaskData {
    const all = data.masks[0]!;
    const [n, h, w] = all.shape as [number, number, number];
    const bytes = tidy(() => all.to('uint8').data() as Uint8Array);
    const scores: number[] = [];
    for (let i = 0; i < n; i++) {
      const m = bytes.subarray(i * h * w, (i + 1) * h * w);
      const holes = removeSmallRegions(m, h, w, minArea, 'holes');
      const islands = removeSmallRegions(holes.mask, h, w, minArea, 'islands');
      m.set(islands.mask);
      scores.push(holes.changed || islands.changed ? 0 : 1);
    }
    const fixed = keep(tidy(() => tensor(bytes, [n, h, w]).bool()));
    const boxes = chunks4(batchedMaskToBox(fixed).toArray());
    const keepIdx = nms(boxes, scores, nmsThresh);
    // Changed masks that survive replace the originals (and their boxes); unchanged ones stay as they were.
    const merged = keep(tidy(() => F.where(tensor(Uint8Array.from(scores, (s) => (s === 0 ? 1 : 0)), [n, 1, 1]).bool(), fixed, all)));
    dispose([fixed, all]);
    const next = { ...data, masks: [merged], boxes: data.boxes.map((b, i) => (scores[i] === 0 ? boxes[i]! : b)) };
    return select(next, keepIdx);
  }
}

const chunks4 = (v: number[]): Box[] => Array.from({ length: v.length / 4 }, (_, i) => [v[4 * i]!, v[4 * i + 1]!, v[4 * i + 2]!, v[4 * i + 3]!]);

function cropImage(img: SamImage, [x0, y0, x1, y1]: Box): SamImage {
  const c = img.channels, w = x1 - x0, h = y1 - y0;
  const out = new Uint8Array(w * h * c);
  for (let y = 0; y < h; y++) out.set(img.data.subarray(((y + y0) * img.width + x0) * c, ((y + y0) * img.width + x1) * c), y * w * c);
  return { data: out, width: w, height: h, channels: c };
}

/**
 * remove_small_regions (OpenCV connectedComponentsWithStats, 8-connectivity): 'holes' fills background regions
 * smaller than minArea, 'islands' removes foreground regions smaller than it (keeping the largest if all are).
 * Hand-written: libtorch has no connected-component labelling, and it is one union-find pass over the mask.
 */
export function removeSmallRegions(mask: Uint8Array, h: number, w: number, minArea: number, mode: 'holes' | 'islands'): { mask: Uint8Array; changed: boolean } {
  const holes = mode === 'holes';
  const fg = (i: number): boolean => (mask[i] !== 0) !== holes; // the working mask: holes ^ mask
  const parent = new Int32Array(h * w).fill(-1);
  const find = (i: number): number => {
    while (parent[i] !== i) { parent[i] = parent[parent[i]!]!; i = parent[i]!; }
    return i;
  };
  const union = (a: number, b: number): void => { const ra = find(a), rb = find(b); if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb); };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!fg(i)) continue;
      parent[i] = i;
      // Already-visited 8-neighbours: left, and the three above.
      if (x > 0 && fg(i - 1)) union(i, i - 1);
      if (y > 0) {
        if (fg(i - w)) union(i, i - w);
        if (x > 0 && fg(i - w - 1)) union(i, i - w - 1);
        if (x < w - 1 && fg(i - w + 1)) union(i, i - w + 1);
      }
    }
  }
  const size = new Map<number, number>();
  for (let i = 0; i < h * w; i++) if (parent[i] !== -1) { const r = find(i); size.set(r, (size.get(r) ?? 0) + 1); }
  const small = new Set([...size].filter(([, s]) => s < minArea).map(([r]) => r));
  if (!small.size) return { mask, changed: false };
  const out = new Uint8Array(h * w);
  if (holes) {
    // np.isin(regions, [0] + small): the background label 0 is the working mask's background, i.e. the mask itself.
    for (let i = 0; i < h * w; i++) out[i] = parent[i] === -1 || small.has(find(i)) ? 1 : 0;
  } else {
    let fill = new Set([...size.keys()].filter((r) => !small.has(r)));
    if (!fill.size) fill = new Set([[...size].reduce((a, b) => (b[1] > a[1] ? b : a))[0]]);
    for (let i = 0; i < h * w; i++) out[i] = parent[i] !== -1 && fill.has(find(i)) ? 1 : 0;
  }
  return { mask: out, changed: true };
}
