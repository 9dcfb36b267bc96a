// Folder layouts: images/ + masks/ (+ sibling folders such as fov/ and instances/), and "mixed" folders where masks
// sit beside their images and are told apart by suffix (BUSI's original benign/ malignant/ normal/ folders).
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { DataError, listFew } from './errors.ts';
import { DEFAULT_MASK_SUFFIXES, type FileEntry, naturalCompare, pairByStem, splitName } from './stems.ts';
import type { DiscoverOptions, SampleRecord } from './dataset.ts';

export const IMAGE_DIRS = ['images', 'image', 'imgs', 'img'];
// in priority order: DRIVE's original release has both 1st_manual/ (vessels) and mask/ (its field of view)
export const MASK_DIRS = ['masks', '1st_manual', 'mask', 'labels', 'label', 'annotations', 'gt', 'groundtruth', 'ground_truth', 'segmentations'];

export async function listDataFiles(dir: string): Promise<{ files: FileEntry[]; ignored: string[] }> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataError(code === 'ENOENT' ? 'NOT_FOUND' : 'UNREADABLE', `cannot list folder ${dir}: ${code ?? err}`, dir);
  }
  const files: FileEntry[] = [];
  const ignored: string[] = [];
  for (const e of entries) {
    if (!e.isFile()) continue;
    const s = splitName(e.name);
    if (s) files.push({ name: e.name, path: join(dir, e.name), ...s });
    else if (!e.name.startsWith('.')) ignored.push(e.name);
  }
  files.sort((a, b) => naturalCompare(a.name, b.name));
  return { files, ignored };
}

export const suffixesOf = (opts: DiscoverOptions): string[] => [...(opts.maskSuffixes ?? DEFAULT_MASK_SUFFIXES), ...(opts.extraMaskSuffixes ?? [])];

const dimsOf = (files: FileEntry[], where: string): 2 | 3 => {
  const vol = files.filter((f) => f.ext === '.nii' || f.ext === '.nii.gz').length;
  if (vol && vol !== files.length) throw new DataError('INVALID', `${where} mixes volumes (.nii/.nii.gz) and 2D images`);
  return vol ? 3 : 2;
};

function unpairedError(root: string, kind: 'images' | 'masks', files: FileEntry[], other: string, suffixes: string[]): DataError {
  const what = kind === 'images'
    ? `${files.length} image(s) have no mask in ${other}: ${listFew(files.map((f) => f.name))} (pass allowUnlabeled to keep them as unlabeled)`
    : `${files.length} mask(s) match no image in ${other}: ${listFew(files.map((f) => f.name))} (mask suffixes tried: ${suffixes.join(' ')})`;
  return new DataError('UNPAIRED', `${root}: ${what}`, files[0]?.path);
}

/** images/ + masks/ with optional sibling folders of per-image maps. */
export async function discoverFolders(root: string, imagesDir: string, masksDir: string, others: string[], opts: DiscoverOptions): Promise<{ samples: SampleRecord[]; unlabeled: SampleRecord[]; warnings: string[] }> {
  const suffixes = suffixesOf(opts);
  const warnings: string[] = [];
  const imgs = await listDataFiles(join(root, imagesDir));
  const masks = await listDataFiles(join(root, masksDir));
  if (imgs.files.length === 0) throw new DataError('EMPTY_FOLDER', `no image files in ${join(root, imagesDir)}${imgs.ignored.length ? ` (ignored: ${listFew(imgs.ignored)})` : ''}`, join(root, imagesDir));
  if (masks.files.length === 0 && !opts.allowUnlabeled) throw new DataError('EMPTY_FOLDER', `no mask files in ${join(root, masksDir)}${masks.ignored.length ? ` (ignored: ${listFew(masks.ignored)})` : ''}`, join(root, masksDir));
  for (const [dir, l] of [[imagesDir, imgs], [masksDir, masks]] as const) {
    if (l.ignored.length) warnings.push(`${dir}/: ignored ${l.ignored.length} non-image file(s): ${listFew(l.ignored)}`);
  }
  const dims = dimsOf([...imgs.files, ...masks.files], root);
  const pairing = pairByStem(imgs.files, masks.files, suffixes, ` in ${imagesDir}/`);
  if (pairing.unpairedMasks.length) throw unpairedError(root, 'masks', pairing.unpairedMasks, `${imagesDir}/`, suffixes);
  if (pairing.unpairedImages.length && !opts.allowUnlabeled) throw unpairedError(root, 'images', pairing.unpairedImages, `${masksDir}/`, suffixes);

  const records = new Map<string, SampleRecord>();
  for (const { image, masks: ms } of pairing.pairs) {
    const rec: SampleRecord = { id: image.stem, imagePath: image.path, extra: {}, dims, meta: {} };
    if (ms.length) rec.maskPath = ms[0]!.path;
    if (ms.length > 1) rec.extraMaskPaths = ms.slice(1).map((m) => m.path);
    if (!ms.length) rec.meta.source = 'unpaired';
    records.set(image.stem, rec);
  }
  for (const dir of others) {
    const extra = await listDataFiles(join(root, dir));
    if (!extra.files.length) continue;
    const p = pairByStem(imgs.files, extra.files, [...suffixes, `_${dir}`], ` in ${imagesDir}/`);
    let n = 0;
    for (const { image, masks: ms } of p.pairs) {
      if (ms.length === 1) { records.get(image.stem)!.extra[dir] = ms[0]!.path; n++; }
    }
    if (p.unpairedMasks.length) warnings.push(`${dir}/: ${p.unpairedMasks.length} file(s) match no image: ${listFew(p.unpairedMasks.map((f) => f.name))}`);
    if (n && n < imgs.files.length) warnings.push(`${dir}/: only ${n} of ${imgs.files.length} images have a file here`);
  }
  const all = [...records.values()];
  return { samples: all.filter((r) => r.maskPath), unlabeled: all.filter((r) => !r.maskPath), warnings };
}

/** Masks beside images in one folder, or in class sub-folders of the root (the class becomes meta.class). */
export async function discoverMixed(root: string, classDirs: string[], opts: DiscoverOptions): Promise<{ samples: SampleRecord[]; unlabeled: SampleRecord[]; warnings: string[] }> {
  const suffixes = suffixesOf(opts);
  const samples: SampleRecord[] = [];
  const unlabeled: SampleRecord[] = [];
  const warnings: string[] = [];
  const seen = new Map<string, string>();
  for (const dir of classDirs.length ? classDirs : ['']) {
    const folder = join(root, dir);
    const { files, ignored } = await listDataFiles(folder);
    if (ignored.length) warnings.push(`${dir || '.'}/: ignored ${ignored.length} non-image file(s): ${listFew(ignored)}`);
    const lower = suffixes.map((s) => s.toLowerCase());
    const isMask = (f: FileEntry): boolean => lower.some((s) => new RegExp(`${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(_\\d+)?$`).test(f.stem.toLowerCase()));
    const masks = files.filter(isMask);
    const images = files.filter((f) => !isMask(f));
    if (!images.length) continue;
    const dims = dimsOf(files, folder);
    const pairing = pairByStem(images, masks, suffixes, dir ? ` in ${dir}/` : '');
    if (pairing.unpairedMasks.length) throw unpairedError(folder, 'masks', pairing.unpairedMasks, 'the same folder', suffixes);
    if (pairing.unpairedImages.length && !opts.allowUnlabeled) throw unpairedError(folder, 'images', pairing.unpairedImages, 'the same folder', suffixes);
    for (const { image, masks: ms } of pairing.pairs) {
      let id = image.stem;
      if (seen.has(id)) id = `${dir}/${image.stem}`;
      if (seen.has(id)) throw new DataError('AMBIGUOUS', `two images share the id ${JSON.stringify(id)}: ${seen.get(id)} and ${relative(root, image.path)}`, image.path);
      seen.set(id, relative(root, image.path));
      const rec: SampleRecord = { id, imagePath: image.path, extra: {}, dims, meta: dir ? { class: dir } : {} };
      if (ms.length) rec.maskPath = ms[0]!.path;
      if (ms.length > 1) rec.extraMaskPaths = ms.slice(1).map((m) => m.path);
      if (ms.length) samples.push(rec); else unlabeled.push({ ...rec, meta: { ...rec.meta, source: 'unpaired' } });
    }
  }
  return { samples, unlabeled, warnings };
}
