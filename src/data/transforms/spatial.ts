// Spatial warps with explicit parameters: affine (rotation, scale, shift), elastic and grid distortion as sampling
// grids, resampled with grid_sample (images linear, label maps nearest), plus cut-out boxes. The random wrappers
// in augment.ts draw the parameters.
//
// Grids follow F.grid_sample: [1, ...size, n] holding, for each output voxel, the input location in normalised
// coordinates (x,y[,z]) ∈ [−1,1] with align_corners = false (−1 and 1 are the outer edges of the border pixels).
// Affine parameters are in pixel units about the image centre, so rotations stay rigid on non-square images.
import { type Generator, type Tensor, F, arange, callT, rand, tensor, tidy } from '../../engine/index.ts';
import { type SpatialRank, batched, checkOneOf, resampleLabels, spatialRank, spatialSize } from './common.ts';

export type PaddingMode = 'zeros' | 'border' | 'reflection';
const PADDING: Record<PaddingMode, number> = { zeros: 0, border: 1, reflection: 2 };

export interface AffineParams {
  /**
   * Radians. 2D: [θ] in-plane; 3D: [θx, θy, θz] about the x (W), y (H) and z (D) axes, applied x, then y, then z.
   * A positive θ turns +x towards +y: clockwise on screen, where y points down.
   */
  rotate?: number[];
  /** Zoom per axis in (x,y[,z]) order; > 1 enlarges the content. Default 1. */
  scale?: number[];
  /** Translation of the content in pixels, (x,y[,z]) order. Default 0. */
  shift?: number[];
}

type Mat = number[][];
const matmul = (a: Mat, b: Mat): Mat => a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
const transpose = (a: Mat): Mat => a[0]!.map((_, j) => a.map((row) => row[j]!));

/** Rotation matrix in (x,y[,z]) coordinates. */
export function rotationMatrix(rank: SpatialRank, angles: number[] = []): Mat {
  const [a = 0, b = 0, c = 0] = angles;
  if (rank === 2) return [[Math.cos(a), -Math.sin(a)], [Math.sin(a), Math.cos(a)]];
  const rx = [[1, 0, 0], [0, Math.cos(a), -Math.sin(a)], [0, Math.sin(a), Math.cos(a)]];
  const ry = [[Math.cos(b), 0, Math.sin(b)], [0, 1, 0], [-Math.sin(b), 0, Math.cos(b)]];
  const rz = [[Math.cos(c), -Math.sin(c), 0], [Math.sin(c), Math.cos(c), 0], [0, 0, 1]];
  return matmul(rz, matmul(ry, rx));
}

/**
 * The n×(n+1) theta for affine_grid that maps output to input locations for content moved by
 * u_out = R·S·u_in + shift (u in pixels about the centre). size is in tensor order.
 */
export function affineTheta(size: number[], p: AffineParams): Mat {
  const rank = size.length as SpatialRank;
  const half = [...size].reverse().map((s) => s / 2); // (x,y,z) half extents: u = n·half
  const scale = p.scale ?? half.map(() => 1);
  const shift = p.shift ?? half.map(() => 0);
  const inv = matmul(scale.map((s, i) => half.map((_, j) => (i === j ? 1 / s : 0))), transpose(rotationMatrix(rank, p.rotate)));
  return inv.map((row, i) => {
    const lin = row.map((v, j) => (v * half[j]!) / half[i]!);
    const t = -row.reduce((s, v, j) => s + v * shift[j]!, 0) / half[i]!;
    return [...lin, t];
  });
}

/** The sampling grid [1, ...size, n] of an affine (identity when params are empty). */
export function affineGrid(size: number[], p: AffineParams = {}): Tensor {
  return tidy(() => callT('affine_grid_generator', [tensor(affineTheta(size, p).flat(), [1, size.length, size.length + 1]), [1, 1, ...size], false]));
}

/**
 * Resamples an image [C,...] through a grid: 'linear' (bilinear/trilinear), 'nearest' or 'bicubic' (2D). Integer
 * images are resampled as float32.
 */
export function warp(x: Tensor, grid: Tensor, o: { mode?: 'linear' | 'nearest' | 'bicubic'; padding?: PaddingMode } = {}): Tensor {
  spatialRank(x);
  const mode = checkOneOf(o.mode ?? 'linear', 'mode', ['linear', 'nearest', 'bicubic'] as const);
  const pad = PADDING[checkOneOf(o.padding ?? 'zeros', 'padding', ['zeros', 'border', 'reflection'] as const)];
  return tidy(() => {
    const f = x.dtype === 'float32' || x.dtype === 'float64' ? x : x.to('float32');
    const g = grid.dtype === f.dtype ? grid : grid.to(f.dtype);
    return batched(f, (b) => callT('grid_sampler', [b, g, mode === 'linear' ? 0 : mode === 'nearest' ? 1 : 2, pad, false]));
  });
}

/** Resamples a label map [1,...] with nearest neighbour; values and dtype are kept exactly (zeros padding = background). */
export function warpLabels(mask: Tensor, grid: Tensor, padding: PaddingMode = 'zeros'): Tensor {
  spatialRank(mask, 'mask');
  return resampleLabels(mask, (f) => callT('grid_sampler', [f, grid.to('float32'), 1, PADDING[padding], false]));
}

/** Converts a pixel displacement field [1,n,...size] (channel 0 = x) into a sampling grid [1,...size,n]. */
function displacementToGrid(size: number[], disp: Tensor): Tensor {
  const n = size.length;
  const toNorm = tensor([...size].reverse().map((s) => 2 / s), [n]);
  const perm = [0, ...Array.from({ length: n }, (_, i) => i + 2), 1];
  return affineGrid(size).add(disp.permute(...perm).mul(toNorm));
}

/**
 * Separable Gaussian blur of [1,C,...] along every spatial dim, as a matrix product per dim with the row-normalised
 * Gaussian matrix exp(−(i−j)²/2σ²): near the borders the weights are renormalised over the voxels inside (no padding
 * values enter). Matrix products are far faster on CPU than depthwise convolutions with long kernels.
 */
export function gaussianBlur(x: Tensor, sigma: number): Tensor {
  const n = x.ndim - 2;
  return tidy(() => {
    let y = x;
    for (let d = 0; d < n; d++) {
      const L = x.shape[2 + d]!;
      const i = arange(L, undefined, 1, { dtype: x.dtype });
      const w = i.unsqueeze(1).sub(i.unsqueeze(0)).square().div(-2 * sigma * sigma).exp();
      const mt = w.div(w.sum(1, true)).t(); // y[..., i] = Σ_j w[i,j]·x[..., j]
      y = y.transpose(2 + d, -1).matmul(mt).transpose(2 + d, -1);
    }
    return y.contiguous();
  });
}

export interface ElasticParams {
  /** Smoothness: std of the Gaussian applied to the noise, in pixels. */
  sigma: number;
  /** Largest displacement in pixels (the smoothed field is scaled so its peak |component| equals this). */
  magnitude: number;
}

/**
 * A random elastic deformation grid [1,...size,n]: uniform noise in [−1,1] per axis, Gaussian-smoothed with σ, scaled
 * to peak `magnitude` pixels (batchgenerators/MONAI style). The noise is drawn and smoothed on a grid coarser by
 * ⌊σ/1.5⌋ (σ' = σ/factor ≥ 1.5 voxels there) and upsampled linearly, which keeps large σ cheap in 3D.
 */
export function elasticGrid(size: number[], generator: Generator, p: ElasticParams): Tensor {
  const n = size.length;
  const factor = Math.max(1, Math.floor(p.sigma / 1.5));
  const coarse = size.map((s) => Math.max(2, Math.ceil(s / factor)));
  return tidy(() => {
    const noise = rand([1, n, ...coarse], { generator }).mul(2).sub(1);
    const smooth = gaussianBlur(noise, p.sigma / factor);
    const same = coarse.every((c, i) => c === size[i]);
    const full = same ? smooth : F.interpolate(smooth, { size, mode: n === 2 ? 'bilinear' : 'trilinear', alignCorners: false });
    const peak = full.abs().amax().clamp(1e-12);
    return displacementToGrid(size, full.div(peak).mul(p.magnitude));
  });
}

export interface GridDistortionParams {
  /** Cells per axis. */
  steps: number;
  /** Each cell's width is scaled by 1 + U(−limit, limit), then all cells are rescaled to span the axis. */
  limit: number;
}

/**
 * Albumentations-style grid distortion as a separable grid [1,...size,n]: per axis, `steps` cells with random widths;
 * output cell boundaries (evenly spaced) map linearly onto the distorted boundaries in the input.
 */
export function gridDistortionGrid(size: number[], generator: Generator, p: GridDistortionParams): Tensor {
  const n = size.length;
  return tidy(() => {
    const factors = rand([n, p.steps], { generator, dtype: 'float64' }).mul(2).sub(1).mul(p.limit).add(1).toArray();
    const maps = size.map((s, d) => {
      const f = factors.slice(d * p.steps, (d + 1) * p.steps);
      const total = f.reduce((a, b) => a + b, 0);
      const knots = [0];
      f.forEach((v) => knots.push(knots[knots.length - 1]! + (v / total) * s));
      const knotT = tensor(knots, [p.steps + 1]);
      const t = arange(s, undefined, 1, { dtype: 'float32' }).add(0.5).mul(p.steps / s);
      const k = t.floor().clamp(0, p.steps - 1);
      const frac = t.sub(k);
      const lo = knotT.indexSelect(0, k.long()), hi = knotT.indexSelect(0, k.add(1).long());
      return lo.add(hi.sub(lo).mul(frac)).mul(2 / s).sub(1); // input position, normalised
    });
    const mesh = F.meshgrid(maps, 'ij');
    return F.stack([...mesh].reverse(), -1).unsqueeze(0);
  });
}

/** A box in tensor order: start and size per spatial dim. */
export interface Box {
  start: number[];
  size: number[];
}

/** Fills boxes (clipped to the image) with `value` in every channel; returns a new tensor. */
export function cutout(x: Tensor, boxes: readonly Box[], value = 0): Tensor {
  const size = spatialSize(x);
  const out = x.clone();
  tidy(() => {
    for (const b of boxes) {
      let view = out;
      let empty = false;
      b.start.forEach((s, d) => {
        const lo = Math.max(0, s), hi = Math.min(size[d]!, s + b.size[d]!);
        if (hi <= lo) empty = true;
        else view = view.narrow(d + 1, lo, hi - lo);
      });
      if (!empty) view.fill_(value);
    }
  });
  return out;
}
