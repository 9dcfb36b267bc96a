// Shared by the SAM parity tests: the sam-vit-small fixture (../shared/fixtures/sam-vit-small relative to the
// repository root), its manifest, the official preprocessing reproduced bit-exactly (Pillow's BILINEAR resize on
// uint8, pinned by the manifest's sha256), and max-abs comparisons against the stored strided subsets.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Tensor, tensor, tidy } from '../../../src/engine/index.ts';
import { readImage } from '../../../src/data/image.ts';
import { readNpy } from '../../../src/data/npy.ts';
import type { Sam, SamPrompts } from '../../../src/models/sam/index.ts';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const FIXTURE = resolve(repoRoot, '../shared/fixtures/sam-vit-small');
export const CHECKPOINT = resolve(FIXTURE, 'sam_vit_small.pth');
export const haveFixture = existsSync(resolve(FIXTURE, 'manifest.json')) && existsSync(CHECKPOINT);

export interface OutputSpec { file: string; full_shape: number[]; stride: number }
export interface FixtureCase {
  id: string;
  image: string;
  multimask_output: boolean;
  points_xy_in_1024_frame?: number[][];
  point_labels?: number[];
  box_xyxy_in_1024_frame?: number[];
  /** Case f: boxes in original pixels, transformed by ResizeLongestSide.apply_boxes_torch (float32 arithmetic). */
  boxes_xyxy?: number[][];
  mask_input?: { from_case: string; mask_index: number };
  outputs: {
    image_embedding: OutputSpec; iou_predictions: OutputSpec; low_res_logits: OutputSpec; mask_logits: OutputSpec;
    binary_masks: { file: string; mask_index: number; box_index?: number }[];
  };
}
export interface Manifest {
  images: Record<string, { file: string; width: number; height: number; resized_hw: [number, number]; resized_sha256_of_raw_hwc_uint8: string }>;
  cases: FixtureCase[];
  tolerances: { per_output: Record<string, { suggested_test_tolerance_max_abs: number }>; logit_tolerance_for_masks: number };
  typical_mistakes: { mistake: string; max_abs_change: Record<string, number> }[];
}

export const manifest = (): Manifest => JSON.parse(readFileSync(resolve(FIXTURE, 'manifest.json'), 'utf8')) as Manifest;
export const fixturePath = (rel: string): string => resolve(FIXTURE, rel);

/** Pillow's fixed-point bilinear coefficients (Resample.c precompute_coeffs + normalize_coeffs_8bpc). */
function pillowCoeffs(inSize: number, outSize: number): { bounds: Int32Array; kk: Int32Array; ksize: number } {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 1.0 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const tri = (x: number): number => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const w = Array.from({ length: xmax }, (_, x) => tri((x + xmin - center + 0.5) / filterscale));
    const ww = w.reduce((a, b) => a + b, 0);
    w.forEach((v, x) => {
      const k = ww !== 0 ? v / ww : v;
      kk[xx * ksize + x] = Math.trunc(k < 0 ? -0.5 + k * 4194304 : 0.5 + k * 4194304);
    });
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { bounds, kk, ksize };
}

/** One separable pass over `lines` lines of `len` samples (stride `step` along the line, `lineStep` between lines). */
function pillowPass(src: Uint8Array, dst: Uint8Array, o: { outLen: number; inLen: number; lines: number; channels: number; horizontal: boolean; inW: number; outW: number }): void {
  const { bounds, kk, ksize } = pillowCoeffs(o.inLen, o.outLen);
  const C = o.channels;
  for (let line = 0; line < o.lines; line++) {
    for (let i = 0; i < o.outLen; i++) {
      const xmin = bounds[i * 2]!, xmax = bounds[i * 2 + 1]!;
      for (let c = 0; c < C; c++) {
        let ss = 1 << 21;
        for (let x = 0; x < xmax; x++) {
          const at = o.horizontal ? (line * o.inW + xmin + x) * C + c : ((xmin + x) * o.inW + line) * C + c;
          ss += src[at]! * kk[i * ksize + x]!;
        }
        const v = Math.min(255, Math.max(0, Math.floor(ss / 4194304)));
        dst[o.horizontal ? (line * o.outW + i) * C + c : (i * o.outW + line) * C + c] = v;
      }
    }
  }
}

/** Pillow Image.resize(BILINEAR) of HxWxC uint8: horizontal pass then vertical, each rounded to uint8. */
export function pillowResizeBilinear(data: Uint8Array, w: number, h: number, channels: number, outW: number, outH: number): Uint8Array {
  const tmp = new Uint8Array(outW * h * channels);
  pillowPass(data, tmp, { outLen: outW, inLen: w, lines: h, channels, horizontal: true, inW: w, outW });
  const out = new Uint8Array(outW * outH * channels);
  pillowPass(tmp, out, { outLen: outH, inLen: h, lines: outW, channels, horizontal: false, inW: outW, outW });
  return out;
}

export interface PreparedImage {
  /** 1x3x1024x1024 normalised, padded model input. */
  input: Tensor;
  /** The resized image as 3xHxW uint8 (what Sam.forward takes). */
  resized: Tensor;
  inputSize: [number, number];
  originalSize: [number, number];
  sha256: string;
}

/** SamPredictor.set_image's preprocessing of a fixture image (grey replicated to RGB), with the resize's sha256. */
export async function prepareImage(model: Sam, name: 'rgb' | 'gray'): Promise<PreparedImage> {
  const info = manifest().images[name]!;
  const img = await readImage(fixturePath(info.file), { channels: 3 });
  const [nh, nw] = info.resized_hw;
  const resized = pillowResizeBilinear(img.data as Uint8Array, img.width, img.height, 3, nw, nh);
  const sha256 = createHash('sha256').update(resized).digest('hex');
  return tidy(() => {
    const chw = tensor(resized, [nh, nw, 3]).permute(2, 0, 1).contiguous();
    return { input: model.preprocess(chw.unsqueeze(0)), resized: chw, inputSize: [nh, nw], originalSize: [img.height, img.width], sha256 };
  });
}

/** The stored array of an output (a strided subset for large ones). */
export const stored = (spec: OutputSpec): Tensor => readNpy(fixturePath(spec.file));

/** full[..., ::stride, ::stride] (last two axes), contiguous. */
export function subsample(full: Tensor, stride: number): Tensor {
  return tidy(() => (stride === 1 ? full.contiguous() : full.slice(-2, 0, null, stride).slice(-1, 0, null, stride).contiguous()));
}

/** max |a − b| over equal-shaped tensors (throws on a shape difference). */
export function maxAbsDiff(a: Tensor, b: Tensor): number {
  if (a.shape.join() !== b.shape.join()) throw new Error(`shape [${a.shape.join(', ')}] differs from [${b.shape.join(', ')}]`);
  const x = a.toFloat32Array(), y = b.toFloat32Array();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return Number.isNaN(m) ? Infinity : m;
}

/**
 * A case's prompts in the model frame, as SamPredictor passes them: predict() transforms in float64 (numpy) and
 * casts to float32, so the manifest's *_in_1024_frame values are used as they are; predict_torch's boxes (case f)
 * are scaled in float32 (apply_boxes_torch), reproduced here with Math.fround. `shift` is added to every
 * coordinate (−0.5 cancels the prompt encoder's half-pixel shift, to reproduce that typical mistake).
 * maskInput: the chained low-res logits (1x256x256) of an earlier case for case e.
 */
export function casePrompts(c: FixtureCase, prep: PreparedImage, o: { shift?: number; maskInput?: Tensor } = {}): SamPrompts {
  const shift = o.shift ?? 0;
  const out: SamPrompts = {};
  if (c.points_xy_in_1024_frame) {
    const pts = c.points_xy_in_1024_frame;
    out.pointCoords = tensor(pts.flat().map((v) => Math.fround(v) + shift), [1, pts.length, 2]);
    out.pointLabels = tensor(Int32Array.from(c.point_labels!), [1, pts.length]);
  }
  if (c.box_xyxy_in_1024_frame) out.boxes = tensor(c.box_xyxy_in_1024_frame.map((v) => Math.fround(v) + shift), [1, 4]);
  if (c.boxes_xyxy) {
    const [H, W] = prep.originalSize, [h, w] = prep.inputSize;
    const f = Math.fround;
    const v = c.boxes_xyxy.flat().map((x, i) => f(f(x) * f(i % 2 === 0 ? w / W : h / H)) + shift);
    out.boxes = tensor(v, [c.boxes_xyxy.length, 4]);
  }
  if (o.maskInput) out.maskInputs = o.maskInput;
  return out;
}
