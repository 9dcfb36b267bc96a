// Intensity normalisation (z-score, percentile clipping, CT windowing, bit-depth scaling) and the deterministic
// intensity adjustments the random augmentations draw parameters for. Inputs are [C,H,W] or [C,D,H,W] of any
// dtype; outputs are float32 (float64 stays float64). Statistics are taken over the whole image, or per channel
// with channelWise. Label maps are never passed here.
import { type Generator, type Tensor, F, callTs, randn, tidy } from '../../engine/index.ts';
import { checkNumber, invalid, spatialRank } from './common.ts';

const asFloat = (x: Tensor): Tensor => (x.dtype === 'float32' || x.dtype === 'float64' ? x : x.to('float32'));
/** Spatial dims of a channel-first tensor, for channel-wise reductions. */
const spatialDims = (x: Tensor): number[] => Array.from({ length: x.ndim - 1 }, (_, i) => i + 1);
const statDims = (x: Tensor, channelWise: boolean): number[] => (channelWise ? spatialDims(x) : Array.from({ length: x.ndim }, (_, i) => i));

export interface ZScoreOptions {
  /** Statistics per channel (nnU-Net normalises each modality separately). Default false (whole image, as MONAI). */
  channelWise?: boolean;
  /** Use only voxels ≠ 0 for the statistics and leave zeros at 0 (nnU-Net's use_mask_for_norm, MONAI nonzero). */
  nonzero?: boolean;
  /** The std floor: x is divided by max(std, eps) (nnU-Net's 1e-8). */
  eps?: number;
}

/** (x − mean) / max(std, eps), std without Bessel correction (NumPy/nnU-Net/MONAI). */
export function zscore(x: Tensor, o: ZScoreOptions = {}): Tensor {
  spatialRank(x);
  const eps = checkNumber(o.eps ?? 1e-8, 'eps', 0);
  return tidy(() => {
    const f = asFloat(x);
    const dims = statDims(f, o.channelWise ?? false);
    if (!o.nonzero) {
      const mean = f.mean(dims, true);
      const std = f.std(dims, { correction: 0, keepdim: true }).clamp(eps);
      return f.sub(mean).div(std);
    }
    const m = f.ne(0);
    const mf = m.to(f.dtype);
    const count = mf.sum(dims, true).clamp(1);
    const mean = f.mul(mf).sum(dims, true).div(count);
    const centred = f.sub(mean).mul(mf);
    const std = centred.square().sum(dims, true).div(count).sqrt().clamp(eps);
    return centred.div(std);
  });
}

/**
 * Percentiles q (0–100) of x with NumPy's default 'linear' rule: position p = q/100·(n−1), value
 * v[⌊p⌋] + (v[⌊p⌋+1] − v[⌊p⌋])·(p − ⌊p⌋) of the sorted values (what np.percentile and torch.quantile compute).
 * Found with kthvalue (linear time, no size limit, unlike torch.quantile's 16M elements). `nonzero` uses only
 * values ≠ 0; if none are left the result is all zeros.
 */
export function percentiles(x: Tensor, q: readonly number[], o: { nonzero?: boolean } = {}): number[] {
  q.forEach((v, i) => checkNumber(v, `q[${i}]`, 0, 100));
  return tidy(() => {
    const flat = o.nonzero ? x.maskedSelect(x.ne(0)) : x.flatten();
    const n = flat.numel;
    if (n === 0) {
      if (o.nonzero) return q.map(() => 0);
      throw new RangeError('percentiles: the input is empty');
    }
    const kth = (k: number): number => callTs('kthvalue', [flat, k + 1, 0, false])[0]!.item();
    return q.map((qi) => {
      const pos = (qi / 100) * (n - 1);
      const lo = Math.floor(pos), t = pos - lo;
      const a = kth(lo);
      if (t === 0) return a;
      const b = kth(Math.min(lo + 1, n - 1));
      // NumPy's _lerp: a + (b−a)·t, computed from the upper end when t ≥ 0.5.
      return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
    });
  });
}

export interface PercentileClipOptions {
  /** Lower and upper percentiles (0–100). Defaults 0.5 and 99.5 (nnU-Net CT, MedSAM MR). */
  lower?: number;
  upper?: number;
  /** Percentiles of the non-zero voxels only; zeros stay 0 after clipping (MedSAM's MR preprocessing). */
  nonzero?: boolean;
  /** Separate bounds per channel. */
  channelWise?: boolean;
  /** Then map [lo, hi] linearly to [0, 1]. */
  rescale?: boolean;
}

/** Clips x to its [lower, upper] percentiles (optionally rescaled to [0,1]). Returns float. */
export function percentileClip(x: Tensor, o: PercentileClipOptions = {}): Tensor {
  spatialRank(x);
  const lower = checkNumber(o.lower ?? 0.5, 'lower', 0, 100);
  const upper = checkNumber(o.upper ?? 99.5, 'upper', lower, 100);
  return tidy(() => {
    const f = asFloat(x);
    const channels = o.channelWise ? f.unbind(0) : [f];
    const out = channels.map((c) => {
      const [lo, hi] = percentiles(c, [lower, upper], { nonzero: o.nonzero });
      let y = c.clamp(lo!, hi!);
      if (o.rescale) y = y.sub(lo!).div(Math.max(hi! - lo!, 1e-8));
      return o.nonzero ? y.where(c.ne(0), 0) : y;
    });
    return o.channelWise ? F.stack(out, 0) : out[0]!;
  });
}

/** Common CT windows in Hounsfield units. */
export const CT_WINDOWS = Object.freeze({
  abdomen: { level: 40, width: 400 },
  liver: { level: 60, width: 160 },
  lung: { level: -600, width: 1500 },
  bone: { level: 400, width: 1800 },
  brain: { level: 40, width: 80 },
});

/** CT windowing: HU in [level − width/2, level + width/2] mapped linearly to [0,1], clipped outside. */
export function ctWindow(x: Tensor, o: { level: number; width: number }): Tensor {
  const level = checkNumber(o.level, 'level');
  const width = checkNumber(o.width, 'width', Number.MIN_VALUE);
  return tidy(() => asFloat(x).sub(level - width / 2).div(width).clamp(0, 1));
}

/** Integer pixels to [0,1]: uint8 ÷ 255, 16-bit (held as int32/int16 by the engine) ÷ 65535. */
export function scaleToUnit(x: Tensor, bitDepth?: 8 | 16): Tensor {
  const depth = bitDepth ?? (x.dtype === 'uint8' ? 8 : undefined);
  if (depth !== 8 && depth !== 16) throw invalid('bitDepth 8 or 16 (required unless the dtype is uint8)', 'bitDepth', bitDepth);
  return tidy(() => x.to('float32').div(depth === 8 ? 255 : 65535));
}

/** (x − min) / max(max − min, eps) over the whole image (MedSAM, LiteMedSAM). */
export function minMaxScale(x: Tensor, eps = 1e-8): Tensor {
  return tidy(() => {
    const f = asFloat(x);
    const lo = f.amin(), hi = f.amax();
    return f.sub(lo).div(hi.sub(lo).clamp(eps));
  });
}

// ---- adjustments with explicit parameters (the random wrappers in augment.ts draw them) ----

/** x·factor + shift. */
export const adjustBrightness = (x: Tensor, factor: number, shift = 0): Tensor => tidy(() => asFloat(x).mul(factor).add(shift));

/**
 * Contrast around the per-channel mean: (x − mean)·factor + mean, then (preserveRange) clipped to the channel's
 * original [min, max] (nnU-Net's ContrastAugmentation).
 */
export function adjustContrast(x: Tensor, factor: number, preserveRange = true): Tensor {
  return tidy(() => {
    const f = asFloat(x);
    const dims = spatialDims(f);
    const mean = f.mean(dims, true);
    const y = f.sub(mean).mul(factor).add(mean);
    return preserveRange ? y.maximum(f.amin(dims, true)).minimum(f.amax(dims, true)) : y;
  });
}

/**
 * Gamma per channel (nnU-Net's augment_gamma): rescale to [0,1] by the channel's min/range, raise to gamma, map back;
 * retainStats then restores the channel's mean and std; invert applies it to −x (brightens dark structures).
 */
export function adjustGamma(x: Tensor, gamma: number, o: { retainStats?: boolean; invert?: boolean } = {}): Tensor {
  checkNumber(gamma, 'gamma', Number.MIN_VALUE);
  return tidy(() => {
    let f = asFloat(x);
    if (o.invert) f = f.neg();
    const dims = spatialDims(f);
    const lo = f.amin(dims, true);
    const range = f.amax(dims, true).sub(lo).add(1e-7);
    let y = f.sub(lo).div(range).clamp(0, 1).pow(gamma).mul(range).add(lo);
    if (o.retainStats ?? true) {
      const mean = f.mean(dims, true), std = f.std(dims, { correction: 0, keepdim: true });
      const yMean = y.mean(dims, true), yStd = y.std(dims, { correction: 0, keepdim: true });
      y = y.sub(yMean).div(yStd.add(1e-8)).mul(std).add(mean);
    }
    return o.invert ? y.neg() : y;
  });
}

/** x + N(0, std²) noise drawn from the generator. */
export function addGaussianNoise(x: Tensor, std: number, generator: Generator): Tensor {
  checkNumber(std, 'std', 0);
  return tidy(() => {
    const f = asFloat(x);
    return f.add(randn(f.shape, { generator, dtype: f.dtype }).mul(std));
  });
}
