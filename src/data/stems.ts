// File stems and image↔mask pairing rules.
//
// A stem is the file name without its data ending (only a known ending is stripped: 'a.b.png' → 'a.b', and
// '.nii.gz' counts as one ending). A mask pairs with an image when, in this order:
//   1. its stem equals the image stem (Kvasir, CVC: masks/<stem>.jpg);
//   2. its stem minus a mask suffix equals the image stem ('_mask', '_segmentation', '-mask', '_lesion', '_1stHO',
//      ... case-insensitive), optionally followed by _<n> for several masks of one image (BUSI's original
//      'benign (4)_mask_1.png'; they are merged by union);
//   3. both stems minus a split/role word ('_training', '_test', '_image', ...) are equal and unique on both sides
//      (DRIVE: '21_training.jpg' ↔ '21_manual1.gif').
import { IMAGE_EXTENSIONS } from './image.ts';
import { DataError, listFew } from './errors.ts';

export const VOLUME_EXTENSIONS: readonly string[] = ['.nii.gz', '.nii'];

/** Mask suffixes tried longest first, case-insensitively. */
export const DEFAULT_MASK_SUFFIXES: readonly string[] = [
  '_segmentation', '_mask', '-mask', ' mask', '_lesion', '_1stHO', '_2ndHO', '_manual1', '_manual2', '_seg', '-seg',
  '_label', '_labels', '_gt', '_groundtruth', '_annotation', '_instances',
];

/** Role words stripped from both sides in the last pairing pass. */
export const ROLE_SUFFIXES: readonly string[] = ['_training', '_train', '_test', '_val', '_validation', '_image', '_img', '_orig', '_original'];

export interface FileEntry {
  name: string;
  path: string;
  stem: string;
  /** Lower-case ending including the dot ('.png', '.nii.gz'). */
  ext: string;
}

/** Splits a data file name into stem and ending; null for names that are not image/volume files or are hidden. */
export function splitName(name: string, extensions: readonly string[] = [...VOLUME_EXTENSIONS, ...IMAGE_EXTENSIONS]): { stem: string; ext: string } | null {
  if (name.startsWith('.') || name.startsWith('~$')) return null;
  const lower = name.toLowerCase();
  for (const ext of extensions) {
    if (lower.endsWith(ext) && name.length > ext.length) return { stem: name.slice(0, name.length - ext.length), ext };
  }
  return null;
}

function stripSuffix(stem: string, suffixes: readonly string[]): { key: string; part: number } | null {
  const lower = stem.toLowerCase();
  const sorted = [...suffixes].sort((a, b) => b.length - a.length);
  for (const suffix of sorted) {
    const s = suffix.toLowerCase();
    if (lower.endsWith(s) && stem.length > s.length) return { key: stem.slice(0, stem.length - s.length), part: 0 };
    const m = new RegExp(`${escape(s)}_(\\d+)$`).exec(lower);
    if (m && m.index > 0) return { key: stem.slice(0, m.index), part: Number(m[1]) };
  }
  return null;
}

function stripRole(stem: string): string {
  const lower = stem.toLowerCase();
  for (const r of ROLE_SUFFIXES) if (lower.endsWith(r) && stem.length > r.length) return stem.slice(0, stem.length - r.length);
  return stem;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export interface Pairing {
  /** Image entries with the mask(s) that belong to them (in part order; empty when unpaired). */
  pairs: { image: FileEntry; masks: FileEntry[] }[];
  unpairedImages: FileEntry[];
  unpairedMasks: FileEntry[];
}

/** Pairs images with masks by the rules above. Throws AMBIGUOUS when two images share a stem or one mask fits two images. */
export function pairByStem(images: FileEntry[], masks: FileEntry[], suffixes: readonly string[] = DEFAULT_MASK_SUFFIXES, where = ''): Pairing {
  const byStem = new Map<string, FileEntry>();
  for (const img of images) {
    const prev = byStem.get(img.stem);
    if (prev) throw new DataError('AMBIGUOUS', `two images share the stem ${JSON.stringify(img.stem)}${where}: ${prev.name} and ${img.name}`, img.path);
    byStem.set(img.stem, img);
  }
  const assigned = new Map<string, { entry: FileEntry; part: number; exact: boolean }[]>();
  const add = (stem: string, entry: FileEntry, part: number, exact: boolean): void => {
    const list = assigned.get(stem) ?? [];
    list.push({ entry, part, exact });
    assigned.set(stem, list);
  };
  const pending: { entry: FileEntry; key: string; part: number }[] = [];
  for (const m of masks) {
    if (byStem.has(m.stem)) { add(m.stem, m, 0, true); continue; }
    const s = stripSuffix(m.stem, suffixes);
    if (s && byStem.has(s.key)) { add(s.key, m, s.part, false); continue; }
    pending.push({ entry: m, key: s ? s.key : m.stem, part: s ? s.part : 0 });
  }
  // pass 3: role words, only where the stripped keys are unique on both sides
  const open = images.filter((i) => !assigned.has(i.stem));
  if (pending.length && open.length) {
    const imgByRole = new Map<string, FileEntry[]>();
    for (const i of open) imgByRole.set(stripRole(i.stem), [...(imgByRole.get(stripRole(i.stem)) ?? []), i]);
    const maskByRole = new Map<string, typeof pending>();
    for (const p of pending) maskByRole.set(stripRole(p.key), [...(maskByRole.get(stripRole(p.key)) ?? []), p]);
    for (const [key, ms] of maskByRole) {
      const is = imgByRole.get(key);
      if (!is || is.length !== 1 || new Set(ms.map((m) => m.part)).size !== ms.length) continue;
      for (const m of ms) add(is[0]!.stem, m.entry, m.part, false);
      for (const m of ms) pending.splice(pending.indexOf(m), 1);
    }
  }
  const pairs = images.map((image) => {
    const list = (assigned.get(image.stem) ?? []).sort((a, b) => a.part - b.part);
    if (list.length > 1) {
      const parts = new Set(list.map((l) => l.part));
      if (parts.size !== list.length || list.some((l) => l.exact)) {
        throw new DataError('AMBIGUOUS', `image ${image.name}${where} matches several masks: ${listFew(list.map((l) => l.entry.name))}`, image.path);
      }
    }
    return { image, masks: list.map((l) => l.entry) };
  });
  return {
    pairs,
    unpairedImages: pairs.filter((p) => p.masks.length === 0).map((p) => p.image),
    unpairedMasks: pending.map((p) => p.entry),
  };
}

/** Natural order: 'case2' < 'case10', 'benign (9)' < 'benign (10)'. */
export const naturalCompare: (a: string, b: string) => number = new Intl.Collator('en', { numeric: true }).compare;
