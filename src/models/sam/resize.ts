// Image preprocessing of the SAM predictors, bit-exact with the official code: Pillow's BILINEAR resize of a uint8
// image (what torchvision's resize does on a PIL image inside ResizeLongestSide.apply_image), the longest-side
// target shape with half-up rounding, and the per-model preprocessing specs.
//
// Pillow BILINEAR (libImaging/Resample.c): separable, horizontal pass then vertical pass, each rounded and clipped
// to uint8; triangle kernel of support 1 scaled by max(1, in/out) (antialiased when shrinking); weights normalised
// and converted to fixed point with 22 fractional bits; the accumulator starts at 2^21 and is shifted right by 22.
import type { SamConfig, SamPreprocessing } from './registry.ts';
import { SAM_PIXEL_MEAN, SAM_PIXEL_STD } from './sam.ts';

const PRECISION_BITS = 22;
const ONE = 2 ** PRECISION_BITS;

/** Pillow's fixed-point bilinear coefficients (precompute_coeffs + normalize_coeffs_8bpc). */
function pillowCoeffs(inSize: number, outSize: number): { bounds: Int32Array; kk: Int32Array; ksize: number } {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const tri = (x: number): number => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0);
  const w = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) { w[x] = tri((x + xmin - center + 0.5) / filterscale); ww += w[x]!; }
    for (let x = 0; x < xmax; x++) {
      const k = ww !== 0 ? w[x]! / ww : w[x]!;
      kk[xx * ksize + x] = Math.trunc(k < 0 ? -0.5 + k * ONE : 0.5 + k * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { bounds, kk, ksize };
}

/** One pass along x (horizontal) or y (vertical) of an HxWxC uint8 image. */
function pillowPass(src: Uint8Array, inW: number, inH: number, C: number, outLen: number, horizontal: boolean): Uint8Array {
  const inLen = horizontal ? inW : inH;
  const outW = horizontal ? outLen : inW, outH = horizontal ? inH : outLen;
  const dst = new Uint8Array(outW * outH * C);
  const { bounds, kk, ksize } = pillowCoeffs(inLen, outLen);
  const lines = horizontal ? inH : inW;
  for (let line = 0; line < lines; line++) {
    for (let i = 0; i < outLen; i++) {
      const xmin = bounds[i * 2]!, xmax = bounds[i * 2 + 1]!;
      for (let c = 0; c < C; c++) {
        let ss = ONE / 2;
        for (let x = 0; x < xmax; x++) {
          const at = horizontal ? (line * inW + xmin + x) * C + c : ((xmin + x) * inW + line) * C + c;
          ss += src[at]! * kk[i * ksize + x]!;
        }
        const v = Math.min(255, Math.max(0, Math.floor(ss / ONE)));
        dst[horizontal ? (line * outW + i) * C + c : (i * outW + line) * C + c] = v;
      }
    }
  }
  return dst;
}

/**
 * Pillow Image.resize((outW, outH), BILINEAR) of interleaved HxWxC uint8 data (row-major): horizontal pass then
 * vertical pass, each rounded to uint8 (a pass whose size is unchanged is skipped, as Pillow does). Returns
 * outH x outW x C uint8.
 */
export function pillowResizeBilinear(data: Uint8Array, w: number, h: number, channels: number, outW: number, outH: number): Uint8Array {
  for (const [name, v] of [['w', w], ['h', h], ['channels', channels], ['outW', outW], ['outH', outH]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`Expected an integer >= 1 for ${name} but received ${v}`);
  }
  if (data.length !== w * h * channels) throw new RangeError(`Expected ${w * h * channels} bytes for a ${h}x${w}x${channels} image but received ${data.length}`);
  const tmp = outW === w ? data : pillowPass(data, w, h, channels, outW, true);
  return outH === h ? (tmp === data ? data.slice() : tmp) : pillowPass(tmp, outW, h, channels, outH, false);
}

/** (H', W') with the longest side `target`: s = target / max(H, W), H' = int(H·s + 0.5), W' = int(W·s + 0.5). */
export function longestSideShape(h: number, w: number, target: number): [number, number] {
  const s = target / Math.max(h, w);
  return [Math.floor(h * s + 0.5), Math.floor(w * s + 0.5)];
}

/** How a predictor turns an image into the encoder input (sam.md §4). */
export interface SamPreprocessSpec {
  /** Which recipe ('sam': SAM and MobileSAM). */
  kind: SamPreprocessing;
  /** Longest side of the resized image and side of the padded square encoder input. */
  targetLength: number;
  /** Per-channel mean / std in 0..255 units (RGB). */
  pixelMean: readonly number[];
  pixelStd: readonly number[];
}

/** The preprocessing spec of a model config (its `preprocessing` recipe, encoder size and pixel statistics). */
export function preprocessSpecFor(config: SamConfig): SamPreprocessSpec {
  const size = config.imageEncoder.type === 'vit' ? config.imageEncoder.imgSize : config.promptEncoder.inputImageSize[0];
  return {
    kind: config.preprocessing,
    targetLength: config.preprocessing === 'lite_medsam' ? 256 : size,
    pixelMean: config.pixelMean ?? SAM_PIXEL_MEAN,
    pixelStd: config.pixelStd ?? SAM_PIXEL_STD,
  };
}
