// Random augmentations as keyed transforms. Each call draws a fixed number of values from the pipeline's Generator
// once and applies the same draw to every key: spatial ops move image keys (linear by default) and label keys
// (nearest, labels kept exactly) identically; intensity ops change image keys only. Works on 2D [C,H,W] and
// 3D [C,D,H,W] records. With probability 1 − p an op leaves the record as it is (its draws are still made, so the
// stream never depends on outcomes, except the noise fields drawn only when an op applies).
import { type Generator, type Tensor, tidy } from '../../engine/index.ts';
import {
  type KeyOptions, type Range, type Sample, type SpatialRank, type Transform, checkProb, checkRange, imageKeysOf, inRange,
  labelKeysOf, mapKeys, mapLabels, pickIndex, spatialRank, spatialSize, uniforms,
} from './common.ts';
import { type Box, type PaddingMode, affineGrid, cutout, elasticGrid, gridDistortionGrid, warp, warpLabels } from './spatial.ts';
import { addGaussianNoise, adjustBrightness, adjustContrast, adjustGamma } from './intensity.ts';

export interface SpatialOptions extends KeyOptions {
  /** Image interpolation: 'linear' (default), 'nearest' or 'bicubic' (2D). Label keys always use nearest. */
  imageMode?: 'linear' | 'nearest' | 'bicubic';
  /** Outside the input: 'zeros' (default; label 0), 'border' or 'reflection', the same for image and labels. */
  padding?: PaddingMode;
}

const sym = (v: number | Range, name: string): Range => (typeof v === 'number' ? checkRange([-v, v], name) : checkRange(v, name));

/** Resamples every image and label key of the record through one grid. */
function warpRecord(sample: Sample, grid: Tensor, o: SpatialOptions): Sample {
  const out = mapKeys(sample, imageKeysOf(o), (t) => warp(t, grid, { mode: o.imageMode, padding: o.padding }));
  return mapLabels(out, labelKeysOf(o), spatialRank(sample.image), (t) => warpLabels(t, grid, o.padding));
}

/** Flips each spatial axis independently with probability p (axes in tensor order, default all). */
export class RandFlip implements Transform {
  readonly name = 'RandFlip';
  readonly #p: number;
  constructor(private readonly o: KeyOptions & { p?: number; axes?: number[] } = {}) {
    this.#p = checkProb(o.p ?? 0.5);
  }
  apply(sample: Sample, generator: Generator): Sample {
    const rank = spatialRank(sample.image);
    const axes = this.o.axes ?? Array.from({ length: rank }, (_, i) => i);
    const u = uniforms(generator, axes.length);
    const dims = axes.filter((_, i) => u[i]! < this.#p).map((a) => a + 1);
    if (dims.length === 0) return sample;
    const out = mapKeys(sample, imageKeysOf(this.o), (t) => t.flip(dims));
    return mapLabels(out, labelKeysOf(this.o), rank, (t) => t.flip(dims));
  }
}

export interface AffineOptions extends SpatialOptions {
  p?: number;
  /** Rotation in degrees: ±v or [lo, hi]. 2D in-plane; 3D the same range about each axis unless rotateAxes is set. */
  rotate?: number | Range;
  /** 3D only: which axes (x = 0, y = 1, z = 2) rotate; default all three. */
  rotateAxes?: number[];
  /** Zoom factor range (> 1 enlarges), isotropic unless `anisotropic`. Default [1, 1]. */
  scale?: Range;
  anisotropic?: boolean;
  /** Translation as ± this fraction of each side. Default 0. */
  shift?: number;
}

/** Random rotation, scaling and translation about the centre, in one resampling. Always draws 10 numbers. */
export class RandAffine implements Transform {
  readonly name = 'RandAffine';
  readonly #p: number;
  readonly #rotate: Range;
  readonly #scale: Range;
  constructor(private readonly o: AffineOptions = {}) {
    this.#p = checkProb(o.p ?? 1);
    this.#rotate = sym(o.rotate ?? 0, 'rotate');
    this.#scale = checkRange(o.scale ?? [1, 1], 'scale', Number.MIN_VALUE);
    checkRange([0, o.shift ?? 0], 'shift', 0, 1);
  }
  apply(sample: Sample, generator: Generator): Sample {
    const u = uniforms(generator, 10);
    if (u[0]! >= this.#p) return sample;
    const size = spatialSize(sample.image);
    const n = size.length;
    const axes = n === 2 ? [0] : (this.o.rotateAxes ?? [0, 1, 2]);
    const rotate = Array.from({ length: n === 2 ? 1 : 3 }, (_, i) => (axes.includes(i) ? (inRange(u[1 + i]!, this.#rotate) * Math.PI) / 180 : 0));
    const scale = Array.from({ length: n }, (_, i) => inRange(u[this.o.anisotropic ? 4 + i : 4]!, this.#scale));
    const xyz = [...size].reverse();
    const shift = xyz.map((s, i) => (2 * u[7 + i]! - 1) * (this.o.shift ?? 0) * s);
    return tidy(() => warpRecord(sample, affineGrid(size, { rotate, scale, shift }), this.o));
  }
}

export interface ElasticOptions extends SpatialOptions {
  p?: number;
  /** Smoothing σ as a fraction of the shortest side (range). Default [0.04, 0.06]. */
  sigma?: Range;
  /** Peak displacement as a fraction of the shortest side (range). Default [0.01, 0.03]. */
  magnitude?: Range;
}

/** Smooth random elastic deformation (see elasticGrid). Draws 3 numbers plus the noise field when applied. */
export class RandElastic implements Transform {
  readonly name = 'RandElastic';
  readonly #p: number;
  readonly #sigma: Range;
  readonly #magnitude: Range;
  constructor(private readonly o: ElasticOptions = {}) {
    this.#p = checkProb(o.p ?? 1);
    this.#sigma = checkRange(o.sigma ?? [0.04, 0.06], 'sigma', Number.MIN_VALUE);
    this.#magnitude = checkRange(o.magnitude ?? [0.01, 0.03], 'magnitude', 0);
  }
  apply(sample: Sample, generator: Generator): Sample {
    const [uApply, uSigma, uMag] = uniforms(generator, 3) as [number, number, number];
    if (uApply >= this.#p) return sample;
    const size = spatialSize(sample.image);
    const side = Math.min(...size);
    const p = { sigma: Math.max(0.5, inRange(uSigma, this.#sigma) * side), magnitude: inRange(uMag, this.#magnitude) * side };
    return tidy(() => warpRecord(sample, elasticGrid(size, generator, p), this.o));
  }
}

/** Albumentations-style grid distortion (see gridDistortionGrid); steps 5 and limit 0.05 by default. */
export class RandGridDistortion implements Transform {
  readonly name = 'RandGridDistortion';
  readonly #p: number;
  constructor(private readonly o: SpatialOptions & { p?: number; steps?: number; limit?: number } = {}) {
    this.#p = checkProb(o.p ?? 1);
    checkRange([0, o.limit ?? 0.05], 'limit', 0, 0.9);
  }
  apply(sample: Sample, generator: Generator): Sample {
    if (uniforms(generator, 1)[0]! >= this.#p) return sample;
    const size = spatialSize(sample.image);
    return tidy(() => warpRecord(sample, gridDistortionGrid(size, generator, { steps: this.o.steps ?? 5, limit: this.o.limit ?? 0.05 }), this.o));
  }
}

/** Multiplicative brightness x·b, then contrast about the channel mean (clipped to the channel's range). */
export class RandBrightnessContrast implements Transform {
  readonly name = 'RandBrightnessContrast';
  readonly #p: number;
  readonly #b: Range;
  readonly #c: Range;
  constructor(private readonly o: KeyOptions & { p?: number; brightness?: Range; contrast?: Range } = {}) {
    this.#p = checkProb(o.p ?? 1);
    this.#b = checkRange(o.brightness ?? [0.8, 1.2], 'brightness', 0);
    this.#c = checkRange(o.contrast ?? [0.8, 1.2], 'contrast', 0);
  }
  apply(sample: Sample, generator: Generator): Sample {
    const [uApply, ub, uc] = uniforms(generator, 3) as [number, number, number];
    if (uApply >= this.#p) return sample;
    const b = inRange(ub, this.#b), c = inRange(uc, this.#c);
    return mapKeys(sample, imageKeysOf(this.o), (t) => tidy(() => adjustContrast(adjustBrightness(t, b), c)));
  }
}

/**
 * Gamma per nnU-Net: with equal odds γ from [gamma[0], 1) or [1, gamma[1]], mean and std retained; with
 * probability invertP applied to the inverted image.
 */
export class RandGamma implements Transform {
  readonly name = 'RandGamma';
  readonly #p: number;
  readonly #g: Range;
  constructor(private readonly o: KeyOptions & { p?: number; gamma?: Range; invertP?: number } = {}) {
    this.#p = checkProb(o.p ?? 1);
    this.#g = checkRange(o.gamma ?? [0.7, 1.5], 'gamma', Number.MIN_VALUE);
    checkProb(o.invertP ?? 0, 'invertP');
  }
  apply(sample: Sample, generator: Generator): Sample {
    const [uApply, uSide, uG, uInv] = uniforms(generator, 4) as [number, number, number, number];
    if (uApply >= this.#p) return sample;
    const [lo, hi] = this.#g;
    const below = hi <= 1 || (lo < 1 && uSide < 0.5);
    const gamma = below ? inRange(uG, [lo, Math.min(1, hi)]) : inRange(uG, [Math.max(1, lo), hi]);
    const invert = uInv < (this.o.invertP ?? 0);
    return mapKeys(sample, imageKeysOf(this.o), (t) => adjustGamma(t, gamma, { invert }));
  }
}

/** Additive Gaussian noise with std = U(std) × the image's own std (scale-free), noise drawn per key. */
export class RandGaussianNoise implements Transform {
  readonly name = 'RandGaussianNoise';
  readonly #p: number;
  readonly #std: Range;
  constructor(private readonly o: KeyOptions & { p?: number; std?: Range } = {}) {
    this.#p = checkProb(o.p ?? 1);
    this.#std = checkRange(o.std ?? [0, 0.1], 'std', 0);
  }
  apply(sample: Sample, generator: Generator): Sample {
    const [uApply, uStd] = uniforms(generator, 2) as [number, number];
    if (uApply >= this.#p) return sample;
    const rel = inRange(uStd, this.#std);
    return mapKeys(sample, imageKeysOf(this.o), (t) => {
      const std = tidy(() => t.to('float32').std(undefined, { correction: 0 }).item());
      return addGaussianNoise(t, rel * std, generator);
    });
  }
}

export interface CutoutOptions extends KeyOptions {
  p?: number;
  /** Number of holes [min, max] (integers). Default [1, 4]. */
  holes?: Range;
  /** Hole side as a fraction of each spatial side [min, max] (at least 1 voxel). Default [0.05, 0.15]. */
  size?: Range;
  /** Image fill value (all channels). Default 0. */
  fill?: number;
  /** Also fill label keys with this label (default: labels untouched, as albumentations' CoarseDropout). */
  labelFill?: number;
}

/** Cut-out / coarse dropout: random boxes filled in the image (and optionally the labels). Draws 2 + 2·n·max holes. */
export class RandCutout implements Transform {
  readonly name = 'RandCutout';
  readonly #p: number;
  readonly #holes: Range;
  readonly #size: Range;
  constructor(private readonly o: CutoutOptions = {}) {
    this.#p = checkProb(o.p ?? 1);
    this.#holes = checkRange(o.holes ?? [1, 4], 'holes', 0);
    this.#size = checkRange(o.size ?? [0.05, 0.15], 'size', 0, 1);
  }
  apply(sample: Sample, generator: Generator): Sample {
    const size = spatialSize(sample.image);
    const n = size.length, maxHoles = Math.floor(this.#holes[1]);
    const u = uniforms(generator, 2 + 2 * n * maxHoles);
    if (u[0]! >= this.#p) return sample;
    const lo = Math.ceil(this.#holes[0]);
    const count = lo + pickIndex(u[1]!, maxHoles - lo + 1);
    const boxes: Box[] = Array.from({ length: count }, (_, h) => {
      const base = 2 + 2 * n * h;
      const side = size.map((s, d) => Math.max(1, Math.round(inRange(u[base + d]!, this.#size) * s)));
      return { size: side, start: size.map((s, d) => pickIndex(u[base + n + d]!, s - side[d]! + 1)) };
    });
    const out = mapKeys(sample, imageKeysOf(this.o), (t) => cutout(t, boxes, this.o.fill ?? 0));
    const labelFill = this.o.labelFill;
    return labelFill === undefined ? out : mapLabels(out, labelKeysOf(this.o), n as SpatialRank, (t) => cutout(t, boxes, labelFill));
  }
}
