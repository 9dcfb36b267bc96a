// Patch (crop) sampling for training on 2D [C,H,W] and 3D [C,D,H,W] records, with nnU-Net's foreground
// oversampling: with probability foregroundProb a patch is centred on a random foreground voxel (class first,
// chosen uniformly among the labels present, then a voxel of it), otherwise placed uniformly at random.
// Patches lie inside the volume where it is large enough (a centred patch is shifted inward, so the chosen voxel
// always stays in it); along dims smaller than the patch the whole extent is taken at a random offset and padded.
import { type Generator, Tensor, F, callTs, tidy } from '../../engine/index.ts';
import {
  type KeyOptions, type Sample, type SpatialRank, type Transform, checkProb, checkSize, imageKeysOf, labelKeysOf, mapKeys,
  mapLabels, pickIndex, spatialRank, spatialSize, uniforms,
} from './common.ts';

export interface PatchOptions {
  /** Patch size in tensor order ([H,W] or [D,H,W]). */
  patchSize: number[];
  /** Probability that a patch is centred on foreground (nnU-Net's oversample_foreground_percent). Default 0.33. */
  foregroundProb?: number;
  /** Labels that count as foreground; default every label > 0. */
  foregroundLabels?: number[];
  /** Pick a class uniformly before the voxel (nnU-Net), instead of a voxel uniformly over all foreground. Default true. */
  classBalanced?: boolean;
  /** Padding for images (default 0) and label maps (default 0 = background) where the patch leaves the volume. */
  imagePadValue?: number;
  labelPadValue?: number;
}

/** Where a patch came from. */
export interface PatchInfo {
  /** First voxel of the patch in the input, tensor order (negative where it starts in padding). */
  start: number[];
  /** Whether it was centred on a foreground voxel (false also when foreground was wanted but the mask had none). */
  foreground: boolean;
}

/** The patch [C, ...size] starting at `start` (may lie partly outside; the outside is filled with padValue). */
export function extractPatch(x: Tensor, start: number[], size: number[], padValue = 0): Tensor {
  const full = spatialSize(x);
  checkSize(size, full.length, 'size');
  return tidy(() => {
    let v = x;
    const pads: number[] = [];
    full.forEach((s, d) => {
      const a = Math.max(0, start[d]!), b = Math.min(s, start[d]! + size[d]!);
      if (b <= a) throw new RangeError(`extractPatch: the patch at [${start.join(', ')}] does not overlap the input along dim ${d}`);
      v = v.narrow(d + 1, a, b - a);
      pads.unshift(a - start[d]!, start[d]! + size[d]! - b);
    });
    return pads.some((p) => p > 0) ? F.pad(v, pads, 'constant', padValue) : v.clone();
  });
}

/** A foreground voxel (tensor order) chosen with two [0,1) draws, or null if the mask has none. */
function foregroundVoxel(mask: Tensor, size: number, o: PatchOptions, uClass: number, uVoxel: number): number[] | null {
  return tidy(() => {
    const m = mask.ndim === size ? mask : mask.select(0, 0);
    let sel: Tensor;
    const wanted = o.foregroundLabels;
    if (o.classBalanced ?? true) {
      const present = callTs('_unique2', [m, true, false, false])[0]!.toArray().filter((v) => (wanted ? wanted.includes(v) : v > 0));
      if (present.length === 0) return null;
      sel = m.eq(present[pickIndex(uClass, present.length)]!);
    } else if (wanted) {
      sel = wanted.map((l) => m.eq(l)).reduce((a, b) => a.logicalOr(b));
    } else {
      sel = m.gt(0);
    }
    const locations = sel.nonzero();
    const k = locations.shape[0]!;
    return k === 0 ? null : locations.select(0, pickIndex(uVoxel, k)).toArray();
  });
}

/**
 * Chooses a patch start for a volume of `size` (mask [1,...] or [...]) from 3 + n draws (always that many, so the stream does not depend
 * on the outcome).
 */
export function samplePatchStart(mask: Tensor | undefined, size: number[], generator: Generator, o: PatchOptions): PatchInfo {
  const p = checkSize(o.patchSize, size.length, 'patchSize');
  const prob = checkProb(o.foregroundProb ?? 0.33, 'foregroundProb');
  const u = uniforms(generator, 3 + size.length);
  const lo = size.map((s, d) => Math.min(0, s - p[d]!));
  const hi = size.map((s, d) => Math.max(0, s - p[d]!));
  const voxel = mask && u[0]! < prob ? foregroundVoxel(mask, size.length, o, u[1]!, u[2]!) : null;
  if (voxel) {
    return { start: voxel.map((v, d) => Math.min(hi[d]!, Math.max(lo[d]!, v - Math.floor(p[d]! / 2)))), foreground: true };
  }
  return { start: size.map((_, d) => lo[d]! + pickIndex(u[3 + d]!, hi[d]! - lo[d]! + 1)), foreground: false };
}

/** Samples one patch from an image [C,...] and optional label map [1,...] of the same spatial size. */
export function samplePatch(image: Tensor, mask: Tensor | undefined, generator: Generator, o: PatchOptions): PatchInfo & { image: Tensor; mask?: Tensor } {
  spatialRank(image);
  const size = spatialSize(image);
  if (mask && spatialSize(mask).some((d, i) => d !== size[i])) {
    throw new RangeError(`samplePatch: mask [${mask.shape.join(', ')}] and image [${image.shape.join(', ')}] differ in spatial size`);
  }
  const info = samplePatchStart(mask, size, generator, o);
  return {
    ...info,
    image: extractPatch(image, info.start, o.patchSize, o.imagePadValue ?? 0),
    ...(mask ? { mask: extractPatch(mask, info.start, o.patchSize, o.labelPadValue ?? 0) } : {}),
  };
}

/**
 * Keyed patch sampling: the same crop for every image and label key; foreground comes from the first label key.
 * The PatchInfo is stored under `infoKey` (default 'patch').
 */
export class RandPatch implements Transform {
  readonly name = 'RandPatch';
  constructor(private readonly o: PatchOptions & KeyOptions & { infoKey?: string }) {
    checkSize(o.patchSize, Array.isArray(o.patchSize) && o.patchSize.length === 3 ? 3 : 2, 'patchSize');
  }
  apply(sample: Sample, generator: Generator): Sample {
    const size = spatialSize(sample.image);
    const labelKeys = labelKeysOf(this.o);
    const mask = labelKeys.map((k) => sample[k]).find((v): v is Tensor => v instanceof Tensor);
    const info = samplePatchStart(mask, size, generator, this.o);
    let out = mapKeys(sample, imageKeysOf(this.o), (t) => extractPatch(t, info.start, this.o.patchSize, this.o.imagePadValue ?? 0));
    out = mapLabels(out, labelKeys, size.length as SpatialRank, (t) => extractPatch(t, info.start, this.o.patchSize, this.o.labelPadValue ?? 0));
    return { ...out, [this.o.infoKey ?? 'patch']: info };
  }
}
