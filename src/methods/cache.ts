// Decodes every case once and keeps it preprocessed in native memory for the whole run: 2D cases as one
// [N, C, ...size] tensor (uint8 or float32, see preprocess.ts) plus [N, ...size] uint8 masks, so a batch is one
// index_select; 3D cases as a list of normalised volumes [C, D, H, W] and uint8 label maps [D, H, W] that
// patches are cut from. Files are decoded a few at a time (libvips / zlib work off the main thread).
import { type Tensor, dispose, empty, keep, tidy } from '../engine/index.ts';
import { type LoadedSample, disposeSample, loadSample, type ImageGeometry } from '../data/index.ts';
import type { CaseRef } from './data.ts';
import { type Preprocessing, prepareImage2d, prepareMask2d, prepareVolume } from './preprocess.ts';

export interface CaseCache {
  dims: 2 | 3;
  ids: string[];
  /** Which --data folder each case came from. */
  sources: number[];
  /** 2D: [N, C, ...size] stored inputs and [N, ...size] masks. */
  images?: Tensor;
  masks?: Tensor;
  /** 3D: per case [C, D, H, W] float32 and [D, H, W] uint8, with spacing [dz, dy, dx]. */
  volumes?: Tensor[];
  labelMaps?: Tensor[];
  spacings?: number[][];
}

const DECODE_CONCURRENCY = 4;

/** Loads cases `DECODE_CONCURRENCY` at a time and hands each to `use` in order (then frees the decoded sample). */
async function forEachLoaded(refs: CaseRef[], channels: number, use: (s: LoadedSample, i: number) => void): Promise<void> {
  for (let start = 0; start < refs.length; start += DECODE_CONCURRENCY) {
    const chunk = refs.slice(start, start + DECODE_CONCURRENCY);
    const loaded = await Promise.all(chunk.map((r) => loadSample(r.record, { channels: r.record.dims === 2 ? (channels as 1 | 3) : 'auto', extras: false }, r.index)));
    loaded.forEach((s, j) => {
      try {
        if (!s.mask) throw new Error(`case ${chunk[j]!.id} has no mask`);
        use(s, start + j);
      } finally {
        disposeSample(s);
      }
    });
  }
}

function checkLabels(mask: Tensor, id: string, prep: Preprocessing): void {
  const max = tidy(() => mask.max().item());
  if (max >= prep.numClasses) throw new Error(`case ${id} has label ${max} but the dataset declares ${prep.numClasses - 1} as its highest label`);
}

/** Decodes and preprocesses `refs` (labeled cases) into a cache. */
export async function cacheCases(refs: CaseRef[], prep: Preprocessing): Promise<CaseCache> {
  const base = { dims: prep.dims, ids: refs.map((r) => r.id), sources: refs.map((r) => r.source) };
  if (prep.dims === 3) {
    const volumes: Tensor[] = [], labelMaps: Tensor[] = [], spacings: number[][] = [];
    const loading = forEachLoaded(refs, prep.channels, (s, i) => {
      if (s.image.shape[0] !== prep.channels) throw new Error(`case ${refs[i]!.id} has ${s.image.shape[0]} channels but the first case has ${prep.channels}`);
      checkLabels(s.mask!, refs[i]!.id, prep);
      volumes.push(keep(prepareVolume(s.image, prep)));
      labelMaps.push(keep(tidy(() => s.mask!.to('uint8'))));
      spacings.push([...s.spacing]);
    });
    await loading.catch((err: unknown) => {
      dispose([volumes, labelMaps]);
      throw err;
    });
    return { ...base, volumes, labelMaps, spacings };
  }
  const n = refs.length;
  const images = keep(empty([n, prep.channels, ...prep.size], { dtype: prep.storage }));
  const masks = keep(empty([n, ...prep.size], { dtype: 'uint8' }));
  try {
    await forEachLoaded(refs, prep.channels, (s, i) => {
      checkLabels(s.mask!, refs[i]!.id, prep);
      tidy(() => {
        const { input } = prepareImage2d(s.image, (s.geometry as ImageGeometry).bitDepth, prep);
        images.select(0, i).copy_(input);
        masks.select(0, i).copy_(prepareMask2d(s.mask!, prep));
      });
    });
  } catch (err) {
    dispose([images, masks]);
    throw err;
  }
  return { ...base, images, masks };
}

export function disposeCache(cache: CaseCache | null | undefined): void {
  if (cache) dispose([cache.images, cache.masks, cache.volumes, cache.labelMaps]);
}

/** Number of cases in a cache. */
export const cacheSize = (cache: CaseCache): number => cache.ids.length;
