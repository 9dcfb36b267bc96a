// Shared surface machinery: bounding-box crop, boundary extraction with the cross element, and directed
// nearest-boundary distance lists. Everything runs as engine ops in native memory; JS only loops over chunks.
//
// Exactness: every distance is sqrt(Σ_k (Δ_k·s_k)²) summed over axes in order, Δ the integer grid offset — the
// expression scipy's distance_transform_edt(sampling=s) evaluates — so values (and ties at a tolerance) agree with
// MedPy/MONAI/DeepMind bit for bit, not just to rounding.
//
// Cost: cropping and erosion are O(V) in the voxels V of the bounding box of P ∪ G. A directed list from A to B
// (gridNearestDistances) first scans grid offsets in order of increasing physical length up to a radius ρ chosen so
// that about min(MAX_OFFSETS, |B|/2) offsets fit (ρ ≈ 12 voxels in 3D, 50 pixels in 2D when |B| is large); each
// element of A stops at its first hit, which is its exact nearest distance. Work ≈ Σ over elements of A of the
// offsets scanned, so boundaries that agree to a few voxels cost O(|A|·small). Elements with nothing within ρ
// (far-off false positives or misses) fall back to exact brute force against all of B, O(#far · |B|); the worst
// case is ~1.5× brute force. Every step works in chunks of CHUNK_ELEMENTS (~16 MB of float64 per temporary), so
// memory stays bounded. Small pairs (|A|·|B| ≤ DIRECT_PAIRS) go straight to brute force.
// Measured on one core of this project's 2-core machine, all metrics of one label, default convention: 256×256 2D
// ~20 ms; 64×128×128 3D ~0.2 s; 96×192×192 3D (3.5 M voxels, ~60 k boundary voxels, Dice 0.91) ~0.7 s, peak native
// memory ~270 MB (mostly the masks themselves). Worst case, disjoint objects (nothing within ρ): two 3D ellipsoids
// with ~12 k boundary voxels each ~5 s. The DeepMind vertex grid (NSD; 'deepmind') costs about twice the pixel one.
import { F, type Tensor, arange, full, tensor, tidy, zeros } from '../engine/index.ts';

/** Pair distances (or offset probes) evaluated per chunk. */
export const CHUNK_ELEMENTS = 1 << 21;
/** Below this many pairs, a directed list is computed by brute force without the offset scan. */
export const DIRECT_PAIRS = 1 << 16;
/** The offset scan probes at most this many offsets per element before falling back to brute force. */
export const MAX_OFFSETS = 8192;

/** Half-open box [lo, hi) per axis. */
export interface Box { lo: number[]; hi: number[] }

/** The bounding box of the non-zero elements of a bool mask, or null if it has none. */
export function boundingBox(mask: Tensor): Box | null {
  return tidy(() => {
    const nd = mask.ndim;
    const u8 = mask.to('uint8');
    if (!u8.any().item()) return null;
    const lo: number[] = [], hi: number[] = [];
    for (let axis = 0; axis < nd; axis++) {
      const others = [...Array(nd).keys()].filter((d) => d !== axis);
      const proj = u8.amax(others); // [L]: 1 where the slice holds foreground
      lo.push(proj.argmax().item());
      hi.push(proj.size(0) - proj.flip(0).argmax().item());
    }
    return { lo, hi };
  });
}

/** mask[lo0:hi0, lo1:hi1, ...] (a view). */
export function crop(mask: Tensor, box: Box): Tensor {
  return tidy(() => {
    let out = mask.narrow(0, box.lo[0]!, box.hi[0]! - box.lo[0]!);
    for (let d = 1; d < box.lo.length; d++) out = out.narrow(d, box.lo[d]!, box.hi[d]! - box.lo[d]!);
    return out;
  });
}

/** Zero padding of one element on both sides of every axis. */
export function padOne(mask: Tensor): Tensor {
  return F.pad(mask, Array<number>(2 * mask.ndim).fill(1));
}

/**
 * Binary erosion with the cross-shaped (connectivity-1) structuring element, one iteration, outside the array
 * counted as background (scipy.ndimage.binary_erosion with generate_binary_structure(ndim, 1), border_value 0).
 * bool in, bool out, same shape.
 */
export function erodeCross(mask: Tensor): Tensor {
  return tidy(() => {
    const padded = padOne(mask.bool());
    const shape = mask.shape;
    const window = (axis: number, start: number): Tensor => {
      let v = padded;
      for (let d = 0; d < shape.length; d++) v = v.narrow(d, d === axis ? start : 1, shape[d]!);
      return v;
    };
    let out = mask.bool();
    for (let axis = 0; axis < shape.length; axis++) {
      out = out.logicalAnd(window(axis, 0)).logicalAnd(window(axis, 2));
    }
    return out;
  });
}

/** ∂X = X XOR erode(X) (cross element, outside = background): object pixels on the image edge are boundary. */
export function boundaryPixels(mask: Tensor): Tensor {
  return tidy(() => {
    const m = mask.bool();
    return m.logicalXor(erodeCross(m));
  });
}

/**
 * For each row of `from` (integer grid coordinates as float64 [m, d]), the Euclidean distance in physical units to
 * the nearest row of `to` ([n, d]): sqrt(Σ_k ((a_k − b_k)·s_k)²), summed over axes in order — the expression
 * scipy's distance_transform_edt(sampling=s) evaluates, so values (and ties at a tolerance) agree bit for bit.
 * Returns float64 [m]; +inf everywhere when `to` is empty.
 */
export function nearestDistances(from: Tensor, to: Tensor, spacing: readonly number[]): Tensor {
  const m = from.size(0), n = to.size(0);
  if (m === 0) return zeros([0], { dtype: 'float64' });
  if (n === 0) return full([m], Infinity, { dtype: 'float64' });
  const rows = Math.max(1, Math.floor(CHUNK_ELEMENTS / n));
  const parts: Tensor[] = [];
  try {
    for (let start = 0; start < m; start += rows) {
      const len = Math.min(rows, m - start);
      parts.push(tidy(() => {
        const a = from.narrow(0, start, len);
        let acc: Tensor | null = null;
        for (let k = 0; k < spacing.length; k++) {
          const diff = a.select(1, k).unsqueeze(1).sub(to.select(1, k).unsqueeze(0)).mul(spacing[k]!);
          const sq = diff.mul(diff);
          acc = acc === null ? sq : acc.add(sq);
        }
        return acc!.amin(1);
      }));
    }
    return tidy(() => (parts.length === 1 ? parts[0]! : F.cat(parts, 0)).sqrt());
  } finally {
    for (const p of parts) p.dispose();
  }
}

/** Directed distances (and optional per-element weights) from the elements of grid mask `from` to grid mask `to`. */
export interface DirectedList {
  /** float64 [k]: one distance per element of `from`, in no particular order. */
  distances: Tensor;
  /** float64 [k] aligned with distances: the weight (surfel area) of each element; absent when unweighted. */
  weights?: Tensor;
}

/**
 * Distances from every true element of `from` to the nearest true element of `to` (both bool grids of one shape,
 * element spacing `spacing`). Elements present in both get 0 without a search. `weights` (float64, grid shape)
 * are gathered in the same order. +inf when `to` is empty.
 */
export function directedDistances(from: Tensor, to: Tensor, spacing: readonly number[], weights?: Tensor): DirectedList {
  return tidy(() => {
    const shared = from.logicalAnd(to);
    const only = from.logicalAnd(to.logicalNot());
    const nShared = shared.sum().item();
    const far = gridNearestDistances(only.nonzero(), to, spacing);
    const distances = F.cat([zeros([nShared], { dtype: 'float64' }), far], 0);
    if (!weights) return { distances };
    return { distances, weights: F.cat([weights.maskedSelect(shared), weights.maskedSelect(only)], 0) };
  });
}

/** Grid offsets [K, d] (int64) with length ≤ rho (the zero offset first), sorted by length, and their lengths (float64 [K]). */
function sortedOffsets(half: readonly number[], spacing: readonly number[], rho: number): { offsets: Tensor; lengths: Tensor } {
  return tidy(() => {
    const axes = half.map((h) => arange(-h, h + 1));
    const grids = F.meshgrid(axes, 'ij').map((g) => g.flatten());
    let sq: Tensor | null = null;
    grids.forEach((g, k) => {
      const t = g.to('float64').mul(spacing[k]!);
      sq = sq === null ? t.mul(t) : sq.add(t.mul(t));
    });
    const len = sq!.sqrt();
    const keep = len.le(rho);
    const [lengths, order] = len.maskedSelect(keep).sort(0);
    const offsets = F.stack(grids.map((g) => g.maskedSelect(keep)), 1).index([order]);
    return { offsets, lengths };
  });
}

/**
 * Exact distance from each point of `fromPts` (int64 [m, d] grid coordinates) to the nearest true element of the
 * bool grid `to`, in physical units (float64 [m]); +inf when `to` is empty. See the cost note at the top.
 */
export function gridNearestDistances(fromPts: Tensor, to: Tensor, spacing: readonly number[]): Tensor {
  return tidy(() => {
    const m = fromPts.size(0);
    const toPts = to.nonzero().to('float64');
    const n = toPts.size(0);
    if (m === 0 || n === 0 || m * n <= DIRECT_PAIRS) return nearestDistances(fromPts.to('float64'), toPts, spacing);
    const shape = to.shape, d = shape.length;
    const budget = Math.min(MAX_OFFSETS, Math.max(64, Math.floor(n / 2)));
    const cell = spacing.reduce((a, b) => a * b, 1);
    const rho = d === 2 ? Math.sqrt((budget * cell) / Math.PI) : Math.cbrt((3 * budget * cell) / (4 * Math.PI));
    // every offset of length ≤ rho has |o_k| ≤ rho/s_k; beyond S_k − 1 it cannot land inside the grid
    const half = shape.map((s, k) => Math.min(Math.floor(rho / spacing[k]!), s - 1));
    const { offsets, lengths } = sortedOffsets(half, spacing, rho);
    const padded = F.pad(to.to('uint8'), half.flatMap((h) => [h, h]).reverse()).flatten();
    const pshape = shape.map((s, k) => s + 2 * half[k]!);
    const stride = pshape.map((_, k) => pshape.slice(k + 1).reduce((a, b) => a * b, 1));
    const strideT = tensor(BigInt64Array.from(stride, BigInt), [1, d]);
    const offFlat = offsets.mul(strideT).sum(1);
    let result = full([m], Infinity, { dtype: 'float64' });
    let pending = arange(0, m);
    let base = fromPts.add(tensor(BigInt64Array.from(half, BigInt), [1, d])).mul(strideT).sum(1);
    const total = offFlat.size(0);
    for (let start = 0; start < total && pending.size(0) > 0;) {
      const kb = Math.min(total - start, Math.max(1, Math.floor(CHUNK_ELEMENTS / pending.size(0))));
      const next = tidy(() => {
        const probe = padded.index([base.unsqueeze(1).add(offFlat.narrow(0, start, kb).unsqueeze(0))]); // [u, kb]
        const hit = probe.amax(1).gt(0);
        const first = probe.argmax(1).maskedSelect(hit); // first hit = shortest offset
        const r = result.indexPut([pending.maskedSelect(hit)], lengths.narrow(0, start, kb).index([first]));
        const miss = hit.logicalNot();
        return { result: r, pending: pending.maskedSelect(miss), base: base.maskedSelect(miss) };
      });
      for (const t of [result, pending, base]) t.dispose();
      ({ result, pending, base } = next);
      start += kb;
    }
    if (pending.size(0) === 0) return result;
    const farPts = fromPts.index([pending]).to('float64');
    return result.indexPut([pending], nearestDistances(farPts, toPts, spacing));
  });
}

/** The two directed lists between prediction and truth. */
export interface SurfaceDistances {
  /** D_PG: from each boundary element of the prediction to the truth's boundary. */
  predToGt: DirectedList;
  /** D_GP: from each boundary element of the truth to the prediction's boundary. */
  gtToPred: DirectedList;
}

/** Disposes the tensors of a SurfaceDistances. */
export function disposeSurfaceDistances(sd: SurfaceDistances): void {
  for (const l of [sd.predToGt, sd.gtToPred]) {
    l.distances.dispose();
    l.weights?.dispose();
  }
}

const emptyList = (): DirectedList => ({ distances: zeros([0], { dtype: 'float64' }) });

/**
 * Pixel-centre surface distances (MedPy `__surface_distances`, MONAI `get_surface_distance`): boundaries by
 * boundaryPixels on the crop of P ∪ G's bounding box (cropping then zero padding equals the whole image with
 * zeros outside), distances in spacing units. pred and gt are bool masks of one shape; an empty mask gives an
 * empty list of its own and +inf distances in the other.
 */
export function pixelSurfaceDistances(pred: Tensor, gt: Tensor, spacing: readonly number[]): SurfaceDistances {
  return tidy(() => {
    const box = boundingBox(pred.logicalOr(gt));
    if (!box) return { predToGt: emptyList(), gtToPred: emptyList() };
    const bp = boundaryPixels(crop(pred, box));
    const bg = boundaryPixels(crop(gt, box));
    return { predToGt: directedDistances(bp, bg, spacing), gtToPred: directedDistances(bg, bp, spacing) };
  });
}

/** A float64 1-D tensor from JS numbers (small tables). */
export const float64 = (values: readonly number[]): Tensor => tensor(Float64Array.from(values), [values.length]);
