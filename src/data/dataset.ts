// The internal sample record every layout reader produces, and the dataset index that holds them.
import type { MaskEncoding } from './encoding.ts';

export type Layout = 'images+masks' | 'mixed' | 'msd' | 'nnunet';

export interface SampleMeta {
  /** Image-level class (BUSI: benign / malignant / normal; class sub-folders in the mixed layout). */
  class?: string;
  /** Leakage group: samples sharing it stay in one split (CVC video sequence, Kvasir near-duplicates). */
  group?: string;
  /** Split the dataset's authors assigned (DRIVE's official 20/20). */
  officialSplit?: 'train' | 'test';
  /** Where an unlabeled record came from. */
  source?: 'unpaired' | 'imagesTs';
}

export interface SampleRecord {
  /** Stem (images+masks) or case id (MSD/nnU-Net); unique in the dataset. */
  id: string;
  /** The image file (the first channel file for multi-file nnU-Net cases). */
  imagePath: string;
  /** All channel files in channel order, when a case has more than one (nnU-Net CASE_0000, CASE_0001, ...). */
  channelPaths?: string[];
  maskPath?: string;
  /** Further masks of the same image, merged by union/maximum (BUSI original: x_mask_1.png, x_mask_2.png). */
  extraMaskPaths?: string[];
  /** Other per-image maps found in sibling folders, by folder name (fov, instances, ...). */
  extra: Record<string, string>;
  dims: 2 | 3;
  meta: SampleMeta;
}

export interface DatasetIndex {
  name: string;
  root: string;
  layout: Layout;
  dims: 2 | 3;
  /** Labeled samples in natural id order. */
  samples: SampleRecord[];
  /** Images without masks (only with allowUnlabeled) and nnU-Net/MSD imagesTs. */
  unlabeled: SampleRecord[];
  /** Label index → name after decoding (0 background). */
  labels: Record<number, string>;
  /** How stored mask values are decoded (loadSample may override). */
  encoding: MaskEncoding;
  /** id → leakage group for makeSplit (only ids that share a group with another id). */
  groups?: Record<string, string>;
  officialSplit?: { train: string[]; test: string[] };
  /** Non-fatal findings (extra files that did not pair, count different from meta.json, ...). */
  warnings: string[];
}

export interface DiscoverOptions {
  /** Replace the default mask suffixes (see stems.ts). */
  maskSuffixes?: string[];
  /** Add to the default mask suffixes. */
  extraMaskSuffixes?: string[];
  /** Keep images without masks as unlabeled records instead of failing. */
  allowUnlabeled?: boolean;
  /** Folder names, when they are not one of the usual ones (images/ image/ imgs/; masks/ labels/ gt/ ...). */
  imagesDir?: string;
  masksDir?: string;
  /** Mask encoding; default from meta.json, else 'auto' (2D) or 'labels' (3D). */
  encoding?: MaskEncoding;
  /** Read meta.json / dataset.json extras (default true). */
  useMeta?: boolean;
  /** Read every file header and verify sizes (slower; see checkDataset). */
  check?: boolean;
}
