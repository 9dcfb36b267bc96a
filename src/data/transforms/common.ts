// Shared pieces of the transforms: the sample record, spatial-rank checks, seeded scalar draws and the
// resampling helpers that keep label maps exact.
//
// Layout conventions (all transforms): images are channel-first without a batch dim, [C,H,W] (2D) or
// [C,D,H,W] (3D); masks are label maps [1,H,W] / [1,D,H,W] of integer labels (any dtype; 0 = background). Keyed
// transforms also take label maps without the channel dim ([H,W] / [D,H,W], as the loaders produce) and keep them so.
// Sizes are listed in tensor order ([H,W] / [D,H,W]); point coordinates are (x,y[,z]) in pixels.
import { Generator, Tensor, rand, F } from '../../engine/index.ts';
import { invalid } from '../../engine/validate.ts';

export { invalid, checkInt, checkNumber, checkOneOf } from '../../engine/validate.ts';

/**
 * The record a pipeline transforms. `image` is [C,H,W] or [C,D,H,W]; `mask` (optional) is the label map of the
 * same spatial size. Other fields (spacing, geometry, source path, extra views) pass through untouched.
 */
export interface Sample {
  image: Tensor;
  mask?: Tensor;
  [key: string]: unknown;
}

/** Which record fields are resampled as images (linear) and which as label maps (nearest, values kept exactly). */
export interface KeyOptions {
  /** Image-like keys: spatial ops interpolate them linearly, intensity ops change them. Default ['image']. */
  imageKeys?: string[];
  /** Label-map keys: spatial ops use nearest neighbour, intensity ops leave them alone. Default ['mask']. */
  labelKeys?: string[];
}

export type SpatialRank = 2 | 3;
/** An inclusive range [low, high] for a uniform draw. */
export type Range = readonly [number, number];

/** 2 for [C,H,W], 3 for [C,D,H,W]; throws otherwise. */
export function spatialRank(x: Tensor, name = 'image'): SpatialRank {
  if (x.ndim !== 3 && x.ndim !== 4) {
    throw new RangeError(`Expected a [C,H,W] or [C,D,H,W] tensor for ${name} but received shape [${x.shape.join(', ')}]`);
  }
  return (x.ndim - 1) as SpatialRank;
}

/** The spatial sizes ([H,W] or [D,H,W]) of a channel-first tensor. */
export const spatialSize = (x: Tensor): number[] => x.shape.slice(1);

export function checkRange(r: unknown, name: string, min = -Infinity, max = Infinity): Range {
  if (!Array.isArray(r) || r.length !== 2 || !r.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max) || r[0] > r[1]) {
    throw invalid(`a [low, high] pair of numbers within [${min}, ${max}]`, name, r);
  }
  return r as unknown as Range;
}

export function checkProb(p: unknown, name = 'p'): number {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw invalid('number between 0 and 1', name, p);
  return p;
}

export function checkSize(size: unknown, rank: number, name: string): number[] {
  if (!Array.isArray(size) || size.length !== rank || !size.every((v) => Number.isInteger(v) && v >= 1)) {
    throw invalid(`a list of ${rank} integers >= 1`, name, size);
  }
  return size as number[];
}

/**
 * `n` uniform draws in [0,1) from the generator (one float64 `rand` call, so the generator's state fully
 * determines them and saving/restoring it replays them exactly).
 */
export function uniforms(generator: Generator, n: number): number[] {
  if (n === 0) return [];
  const t = rand([n], { generator, dtype: 'float64' });
  try {
    return t.toArray();
  } finally {
    t.dispose();
  }
}

/** Maps a [0,1) draw into a range. */
export const inRange = (u: number, r: Range): number => r[0] + u * (r[1] - r[0]);
/** Maps a [0,1) draw to an integer in [0, n). */
export const pickIndex = (u: number, n: number): number => Math.min(n - 1, Math.floor(u * n));

/** Runs fn on x with a batch dim added ([C,...] → [1,C,...]) and removes it again. */
export function batched(x: Tensor, fn: (b: Tensor) => Tensor): Tensor {
  const b = x.unsqueeze(0);
  const y = fn(b);
  b.dispose();
  const out = y.squeeze(0);
  y.dispose();
  return out;
}

/**
 * Resamples a label map with nearest neighbour through `fn` (which receives a float32 [1,1,...] tensor) and returns
 * it in the original dtype. Labels are integers below 2^24, so the float round trip is exact.
 */
export function resampleLabels(mask: Tensor, fn: (f: Tensor) => Tensor): Tensor {
  const f = mask.to('float32');
  const y = batched(f, fn);
  f.dispose();
  if (mask.dtype === 'float32') return y;
  const r = y.round();
  y.dispose();
  const out = r.to(mask.dtype);
  r.dispose();
  return out;
}

/** 'linear' picks bilinear (2D) or trilinear (3D) for F.interpolate. */
export type ResizeMode = 'linear' | 'nearest' | 'nearest-exact' | 'bicubic';
export function interpMode(mode: ResizeMode, rank: SpatialRank): F.InterpolateMode {
  if (mode === 'linear') return rank === 2 ? 'bilinear' : 'trilinear';
  if (mode === 'bicubic' && rank !== 2) throw new RangeError('bicubic resizing is only available for 2D images');
  return mode;
}

/** Applies fn to each listed key that is present (a Tensor) in the record, returning a new record. */
export function mapKeys<S extends Sample>(sample: S, keys: readonly string[], fn: (t: Tensor, key: string) => Tensor): S {
  const out: Record<string, unknown> = { ...sample };
  for (const k of keys) {
    const v = sample[k];
    if (v instanceof Tensor) out[k] = fn(v, k);
  }
  return out as S;
}

/**
 * One step of a pipeline. `apply` returns a new record and never disposes the tensors it was given (Compose frees
 * the intermediates it made). Deterministic transforms ignore the generator; random ones draw from it once per
 * call, so one draw is shared by every key (image and mask stay aligned).
 */
export interface Transform<S extends Sample = Sample> {
  readonly name: string;
  apply(sample: S, generator: Generator): S;
}

/**
 * mapKeys for label maps: fn always sees [1,...]; a label map stored without the channel dim (ndim = rank) gets it
 * added for fn and removed from the result.
 */
export function mapLabels<S extends Sample>(sample: S, keys: readonly string[], rank: SpatialRank, fn: (t: Tensor, key: string) => Tensor): S {
  return mapKeys(sample, keys, (t, k) => {
    if (t.ndim === rank + 1) return fn(t, k);
    if (t.ndim !== rank) {
      throw new RangeError(`Expected a label map [1,...] or [...] with ${rank} spatial dims for ${k} but received shape [${t.shape.join(', ')}]`);
    }
    const c = t.unsqueeze(0);
    const y = fn(c, k);
    if (y === c) return t;
    c.dispose();
    const out = y.squeeze(0);
    y.dispose();
    return out;
  });
}

export const imageKeysOf = (o: KeyOptions): string[] => o.imageKeys ?? ['image'];
export const labelKeysOf = (o: KeyOptions): string[] => o.labelKeys ?? ['mask'];
