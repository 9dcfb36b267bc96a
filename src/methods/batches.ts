// Training batches from a case cache. The order of cases comes from the run's data Generator: each epoch takes
// the next `iterations × batch` indices of a stream of random permutations, started fresh every epoch (the rest
// of the last permutation is dropped, like DataLoader(shuffle=True, drop_last=True) when an epoch is one pass).
// So the order of every later epoch depends only on the generator state at the epoch's start, which checkpoints
// save. 3D batches cut one patch per case with nnU-Net's foreground oversampling, also from the data Generator;
// augmentation draws from its own Generator (the pipeline's), one record at a time.
import { type Generator, type Tensor, F, randperm, tensor, tidy } from '../engine/index.ts';
import { type Compose, samplePatch } from '../data/transforms/index.ts';
import type { CaseCache } from './cache.ts';
import { modelInput } from './preprocess.ts';

/** One training batch: images [B, C, ...] float32 (augmented), label maps [B, ...] uint8, ids and source folders. */
export interface Batch {
  image: Tensor;
  mask: Tensor;
  ids: string[];
  sources: number[];
}

/** The case indices of one epoch: `count` draws from consecutive random permutations of n cases. */
export function epochOrder(n: number, count: number, generator: Generator): number[] {
  const order: number[] = [];
  while (order.length < count) {
    const perm = randperm(n, { generator });
    try {
      order.push(...perm.toArray());
    } finally {
      perm.dispose();
    }
  }
  return order.slice(0, count);
}

/** Applies a keyed augmentation to each record ([C, ...] image, [1, ...] mask) and restacks the batch. */
function augmentEach(images: Tensor, masks: Tensor, augment: Compose): { image: Tensor; mask: Tensor } {
  const outs = images.unbind(0).map((image, i) => augment.apply({ image, mask: masks.select(0, i).unsqueeze(0) }));
  return { image: F.stack(outs.map((o) => o.image)), mask: F.stack(outs.map((o) => o.mask!)).squeeze(1) };
}

/** A 2D batch: one index_select of the cached inputs and masks, then per-record augmentation. */
function batch2d(cache: CaseCache, indices: number[], augment: Compose | null): { image: Tensor; mask: Tensor } {
  const idx = tensor(BigInt64Array.from(indices, BigInt), [indices.length]);
  const image = modelInput(cache.images!.indexSelect(0, idx));
  const mask = cache.masks!.indexSelect(0, idx);
  return augment ? augmentEach(image, mask, augment) : { image, mask };
}

/** A 3D batch: one patch per case (foreground-oversampled, from the data generator), then augmentation. */
function batch3d(cache: CaseCache, indices: number[], o: PatchBatchOptions): { image: Tensor; mask: Tensor } {
  const patches = indices.map((i) => samplePatch(cache.volumes![i]!, cache.labelMaps![i]!.unsqueeze(0), o.generator, {
    patchSize: o.patchSize, foregroundProb: o.foregroundProb,
  }));
  const image = F.stack(patches.map((p) => p.image));
  const mask = F.stack(patches.map((p) => p.mask!)).squeeze(1);
  return o.augment ? augmentEach(image, mask, o.augment) : { image, mask };
}

export interface PatchBatchOptions {
  patchSize: number[];
  foregroundProb: number;
  generator: Generator;
  augment: Compose | null;
}

/** The batch of the given case indices (tensors join the caller's tidy scope). */
export function makeBatch(cache: CaseCache, indices: number[], o: PatchBatchOptions): Batch {
  const { image, mask } = tidy(() => (cache.dims === 2 ? batch2d(cache, indices, o.augment) : batch3d(cache, indices, o)));
  return { image, mask, ids: indices.map((i) => cache.ids[i]!), sources: indices.map((i) => cache.sources[i]!) };
}
