// `samtutor sam predict` / `sam auto`: prompts a SAM-family checkpoint (SAM, MobileSAM; model type detected from the weights)
// on one image. Points "x,y,label" and the box "x0,y0,x1,y1" are in original-image pixels (x = column, y = row).
// Writes to --out: mask_<i>.png (0/255, original size) per output mask, scores.json, optionally the image embedding
// (--save-embedding, float32 1x256x64x64 .npy) and logits_<i>.npy (--save-logits, float32 H x W).
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Tensor, dispose, tidy } from '../engine/index.ts';
import { readImage, writeMask } from '../data/image.ts';
import { readNpy, writeNpy } from '../data/npy.ts';
import { type LoadedSam, loadSamCheckpoint } from '../models/sam/index.ts';
import { SamPredictor, type SamImage } from '../models/sam/predictor.ts';
import { type AutoMask, SamAutomaticMaskGenerator, disposeMasks } from '../models/sam/amg.ts';
import { UsageError } from './usage.ts';

export interface SamPredictOptions {
  checkpoint: string;
  /** 'auto' (default: detected from the weights) or a registry name (vit_b, mobile_sam, ...). */
  modelType?: string;
  image: string;
  /** Points "x,y,label" (label 1 foreground, 0 background). */
  point?: string[];
  /** "x0,y0,x1,y1". */
  box?: string;
  /** .npy low-res mask logits, 256x256 or 1x256x256 (e.g. an earlier run's output). */
  maskInput?: string;
  multimask?: boolean;
  out: string;
  saveEmbedding?: string;
  saveLogits?: boolean;
}

export interface SamPredictResult {
  files: string[];
  iouPredictions: number[];
  modelType: string;
}

const numbers = (s: string, n: number, what: string, example: string): number[] => {
  const parts = String(s).split(',').map((p) => p.trim());
  const v = parts.map((p) => (p === '' ? NaN : Number(p)));
  if (parts.length !== n || !v.every(Number.isFinite)) throw new UsageError(`Expected ${what} as ${example} but received "${s}"`);
  return v;
};

/** "x,y,label" → [[x, y]], [label]; labels must be 0 or 1. */
export function parsePoints(points: string[]): { coords: number[][]; labels: number[] } {
  const coords: number[][] = [], labels: number[] = [];
  for (const p of points) {
    const [x, y, l] = numbers(p, 3, 'a point', '"x,y,label" (e.g. 120,80,1)');
    if (l !== 0 && l !== 1) throw new UsageError(`Expected the label of point "${p}" to be 1 (foreground) or 0 (background) but received ${l}`);
    coords.push([x!, y!]);
    labels.push(l);
  }
  return { coords, labels };
}

/** "x0,y0,x1,y1" → [x0, y0, x1, y1] with x0 <= x1 and y0 <= y1. */
export function parseBox(box: string): number[] {
  const b = numbers(box, 4, 'a box', '"x0,y0,x1,y1" (e.g. 10,20,200,180)');
  if (b[0]! > b[2]! || b[1]! > b[3]!) throw new UsageError(`Expected a box with x0 <= x1 and y0 <= y1 but received "${box}"`);
  return b;
}

const needFile = (path: string | undefined, what: string): string => {
  if (!path) throw new UsageError(`missing ${what}`);
  if (!existsSync(path) || !statSync(path).isFile()) throw new UsageError(`${what} not found: ${path}`);
  return path;
};

function readMaskInput(path: string): Tensor {
  let t: Tensor;
  try {
    t = readNpy(path);
  } catch (err) {
    throw new UsageError(`cannot read --mask-input ${path}: ${(err as Error).message}`);
  }
  const s = t.shape;
  if (!(s.length >= 2 && s.length <= 4 && s.at(-1) === 256 && s.at(-2) === 256 && s.slice(0, -2).every((d) => d === 1)) || !['float32', 'float64', 'float16'].includes(t.dtype)) {
    const msg = `Expected --mask-input as float 256x256 or 1x256x256 low-res logits but received ${t.dtype} [${s.join(', ')}] in ${path}`;
    t.dispose();
    throw new UsageError(msg);
  }
  return tidy(() => t.reshape(1, 256, 256).to('float32'));
}

/** --image as 8-bit RGB (grey replicated). */
async function readImageArg(path: string): Promise<SamImage> {
  let img;
  try {
    img = await readImage(path, { channels: 3 });
  } catch (err) {
    throw new UsageError(`cannot read --image ${path}: ${(err as Error).message}`);
  }
  if (img.bitDepth !== 8) throw new UsageError(`Expected an 8-bit image but ${path} has ${img.bitDepth} bits per sample`);
  return { data: img.data as Uint8Array, width: img.width, height: img.height, channels: 3 };
}

function loadModelArg(path: string, modelType: string | undefined): LoadedSam {
  try {
    return loadSamCheckpoint(path, { modelType: modelType ?? 'auto' });
  } catch (err) {
    throw new UsageError(`${path} is not a usable SAM-family checkpoint: ${(err as Error).message}`);
  }
}

/** Runs the command; returns the written files and IoU predictions (also printed). */
export async function runSamPredict(opts: SamPredictOptions): Promise<SamPredictResult> {
  const ckpt = needFile(opts.checkpoint, '--checkpoint');
  const imagePath = needFile(opts.image, '--image');
  if (!opts.out) throw new UsageError('missing --out <dir>');
  const pts = parsePoints(opts.point ?? []);
  const box = opts.box === undefined ? undefined : parseBox(opts.box);
  const maskPath = opts.maskInput === undefined ? undefined : needFile(opts.maskInput, '--mask-input');
  if (pts.coords.length === 0 && !box && !maskPath) throw new UsageError('give at least one prompt: --point x,y,label, --box x0,y0,x1,y1 or --mask-input <npy>');
  if (opts.saveEmbedding !== undefined && !opts.saveEmbedding.toLowerCase().endsWith('.npy')) throw new UsageError(`--save-embedding needs a .npy file but received ${opts.saveEmbedding}`);

  const img = await readImageArg(imagePath);
  const { model, config } = loadModelArg(ckpt, opts.modelType);
  let predictor: SamPredictor;
  try {
    predictor = new SamPredictor(model, config);
  } catch (err) {
    model.dispose();
    throw new UsageError(`cannot prompt ${config.name}: ${(err as Error).message}`);
  }
  let maskInput: Tensor | undefined;
  try {
    maskInput = maskPath ? readMaskInput(maskPath) : undefined;
  } catch (err) {
    model.dispose();
    throw err;
  }
  const tensors: Tensor[] = maskInput ? [maskInput] : [];
  try {
    predictor.setImage(img);
    const r = predictor.predict({
      ...(pts.coords.length ? { pointCoords: pts.coords, pointLabels: pts.labels } : {}), ...(box ? { box } : {}),
      ...(maskInput ? { maskInput } : {}), multimaskOutput: opts.multimask ?? false, returnLogits: true,
    });
    tensors.push(...(Object.values(r) as Tensor[]));
    mkdirSync(opts.out, { recursive: true });
    const files: string[] = [];
    const n = r.masks.shape[0]!;
    for (let i = 0; i < n; i++) {
      const mask = tidy(() => r.masks.select(0, i).to('uint8'));
      tensors.push(mask);
      files.push(join(opts.out, `mask_${i}.png`));
      await writeMask(files.at(-1)!, mask);
      if (opts.saveLogits) {
        const l = tidy(() => r.logits!.select(0, i).contiguous());
        tensors.push(l);
        files.push(join(opts.out, `logits_${i}.npy`));
        writeNpy(files.at(-1)!, l);
      }
    }
    if (opts.saveEmbedding) {
      const emb = predictor.getImageEmbedding(), path = opts.saveEmbedding;
      tidy(() => writeNpy(path, emb.contiguous()));
      files.push(opts.saveEmbedding);
    }
    const iou = Array.from(r.iouPredictions.toFloat32Array());
    const scores = {
      iou_predictions: iou, model_type: config.name, image_size: { height: img.height, width: img.width },
      prompts: {
        points: pts.coords.map(([x, y], k) => ({ x, y, label: pts.labels[k] })), box: box ?? null, mask_input: maskPath ?? null,
        multimask_output: opts.multimask ?? false,
      },
    };
    files.push(join(opts.out, 'scores.json'));
    writeFileSync(files.at(-1)!, `${JSON.stringify(scores, null, 2)}\n`);
    console.log(`sam predict: ${config.name}, ${n} mask(s), IoU predictions ${iou.map((v) => v.toFixed(3)).join(', ')} → ${opts.out}`);
    return { files, iouPredictions: iou, modelType: config.name };
  } finally {
    dispose(tensors);
    predictor.dispose();
    model.dispose();
  }
}

export interface SamAutoOptions {
  checkpoint: string;
  modelType?: string;
  image: string;
  out: string;
  pointsPerSide?: number;
  pointsPerBatch?: number;
  predIouThresh?: number;
  stabilityScoreThresh?: number;
  boxNmsThresh?: number;
  cropNLayers?: number;
  minMaskRegionArea?: number;
}

/**
 * `samtutor sam auto`: SAM's automatic mask generator on one image. Writes mask_<i>.png (0/255, original size, in
 * the generator's order) and masks.json (per mask: file, area, bbox XYWH, predicted IoU, stability score, the
 * prompt point, the crop box), into a temporary folder renamed to --out when complete.
 */
export async function runSamAuto(opts: SamAutoOptions): Promise<{ files: string[]; masks: number }> {
  const ckpt = needFile(opts.checkpoint, '--checkpoint');
  const imagePath = needFile(opts.image, '--image');
  if (!opts.out) throw new UsageError('missing --out <dir>');
  if (existsSync(opts.out) && !statSync(opts.out).isDirectory()) throw new UsageError(`--out ${opts.out} exists and is not a folder`);
  const img = await readImageArg(imagePath);
  const { model, config } = loadModelArg(ckpt, opts.modelType);
  let masks: AutoMask[] = [];
  try {
    let generator: SamAutomaticMaskGenerator;
    try {
      generator = new SamAutomaticMaskGenerator(model, {
        pointsPerSide: opts.pointsPerSide, pointsPerBatch: opts.pointsPerBatch, predIouThresh: opts.predIouThresh,
        stabilityScoreThresh: opts.stabilityScoreThresh, boxNmsThresh: opts.boxNmsThresh, cropNLayers: opts.cropNLayers,
        minMaskRegionArea: opts.minMaskRegionArea,
      }, config);
    } catch (err) {
      throw new UsageError((err as Error).message.replace(/^SamAutomaticMaskGenerator: /, ''));
    }
    masks = generator.generate(img);
    // Written beside --out first, so a failure leaves no half-written folder behind.
    const staging = `${opts.out.replace(/\/+$/, '')}.partial-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    try {
      const entries = [];
      for (const [i, m] of masks.entries()) {
        const file = `mask_${i}.png`;
        const bytes = tidy(() => m.segmentation.to('uint8'));
        try {
          await writeMask(join(staging, file), bytes);
        } finally {
          bytes.dispose();
        }
        entries.push({
          index: i, file, area: m.area, bbox_xywh: m.bbox, predicted_iou: m.predictedIou, stability_score: m.stabilityScore,
          point_coords: m.pointCoords, crop_box_xywh: m.cropBox,
        });
      }
      const o = generator.options;
      const summary = {
        image: imagePath, model_type: config.name, image_size: { height: img.height, width: img.width }, count: masks.length,
        settings: {
          points_per_side: o.pointsPerSide, points_per_batch: o.pointsPerBatch, pred_iou_thresh: o.predIouThresh,
          stability_score_thresh: o.stabilityScoreThresh, stability_score_offset: o.stabilityScoreOffset, box_nms_thresh: o.boxNmsThresh,
          crop_n_layers: o.cropNLayers, crop_nms_thresh: o.cropNmsThresh, crop_overlap_ratio: o.cropOverlapRatio,
          crop_n_points_downscale_factor: o.cropNPointsDownscaleFactor, min_mask_region_area: o.minMaskRegionArea,
        },
        masks: entries,
      };
      writeFileSync(join(staging, 'masks.json'), `${JSON.stringify(summary, null, 2)}\n`);
      rmSync(opts.out, { recursive: true, force: true });
      renameSync(staging, opts.out);
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      throw err;
    }
    console.log(`sam auto: ${config.name}, ${masks.length} mask(s) → ${opts.out}`);
    return { files: [...masks.map((_, i) => join(opts.out, `mask_${i}.png`)), join(opts.out, 'masks.json')], masks: masks.length };
  } finally {
    disposeMasks(masks);
    model.dispose();
  }
}
