// Dataset discovery: looks at a folder, recognises its layout and returns one DatasetIndex of SampleRecords.
//   imagesTr/ (+ labelsTr/, dataset.json)      → MSD or nnU-Net (nnunet.ts)
//   images/ + masks/ (+ fov/, instances/, ...) → images+masks (folders.ts)
//   image files with mask-suffixed files beside them, at the root or in class sub-folders → mixed (folders.ts)
// meta.json (if present) adds label names, encoding, classes, leakage groups and an official split.
import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { DataError, listFew } from './errors.ts';
import type { DatasetIndex, DiscoverOptions, Layout, SampleRecord } from './dataset.ts';
import { IMAGE_DIRS, MASK_DIRS, discoverFolders, discoverMixed, listDataFiles } from './folders.ts';
import { discoverNnunet } from './nnunet.ts';
import { readDatasetMeta } from './metaJson.ts';
import { naturalCompare } from './stems.ts';
import { readImageInfo } from './image.ts';
import { readNiftiInfo } from './nifti.ts';
import { affineDistance } from './geometry.ts';

export async function discoverDataset(rootIn: string, opts: DiscoverOptions = {}): Promise<DatasetIndex> {
  const root = resolve(rootIn);
  let st;
  try {
    st = await stat(root);
  } catch {
    throw new DataError('NOT_FOUND', `dataset folder not found: ${rootIn}`, rootIn);
  }
  if (!st.isDirectory()) throw new DataError('INVALID', `Expected a dataset folder but ${rootIn} is a file`, rootIn);
  const entries = (await readdir(root, { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
  if (entries.length === 0) throw new DataError('EMPTY_FOLDER', `dataset folder is empty: ${rootIn}`, rootIn);
  const dirs = entries.filter((e) => e.isDirectory()).map((e) => e.name);
  const findDir = (wanted: string | undefined, candidates: string[]): string | undefined =>
    wanted !== undefined ? dirs.find((d) => d === wanted) : candidates.map((c) => dirs.find((d) => d.toLowerCase() === c)).find((d) => d !== undefined);
  const meta = opts.useMeta === false ? null : await readDatasetMeta(root);

  let layout: Layout;
  let found: { samples: SampleRecord[]; unlabeled: SampleRecord[]; warnings: string[]; labels?: Record<number, string>; dims?: 2 | 3; name?: string };
  const imagesDir = findDir(opts.imagesDir, IMAGE_DIRS);
  const masksDir = findDir(opts.masksDir, MASK_DIRS);
  if (dirs.includes('imagesTr')) {
    const r = await discoverNnunet(root, opts);
    layout = r.layout;
    found = r;
  } else if (imagesDir && (masksDir || opts.allowUnlabeled)) {
    layout = 'images+masks';
    const others = dirs.filter((d) => d !== imagesDir && d !== masksDir);
    found = masksDir
      ? await discoverFolders(root, imagesDir, masksDir, others, opts)
      : await imagesOnly(join(root, imagesDir));
  } else if (opts.imagesDir !== undefined || opts.masksDir !== undefined) {
    const missing = [opts.imagesDir, opts.masksDir].filter((d) => d !== undefined && !dirs.includes(d));
    throw new DataError('NOT_FOUND', `${rootIn}: folder ${listFew(missing as string[])} not found (sub-folders: ${listFew(dirs)})`, rootIn);
  } else {
    const top = await listDataFiles(root);
    layout = 'mixed';
    if (top.files.length) {
      found = await discoverMixed(root, [], opts);
    } else {
      const classDirs: string[] = [];
      for (const d of dirs) if ((await listDataFiles(join(root, d))).files.length) classDirs.push(d);
      if (!classDirs.length || (imagesDir && !masksDir)) {
        const seen = entries.map((e) => (e.isDirectory() ? `${e.name}/` : e.name));
        const hint = imagesDir ? ` (found ${imagesDir}/ but no masks/ folder; pass masksDir or allowUnlabeled)` : '';
        throw new DataError('UNKNOWN_LAYOUT', `unknown dataset layout in ${rootIn}${hint}: expected images/ + masks/, imagesTr/ + labelsTr/ (+ dataset.json), or image files with mask-suffixed files beside them; found ${listFew(seen, 8)}`, rootIn);
      }
      found = await discoverMixed(root, classDirs, opts);
    }
  }
  if (!found.samples.length && !found.unlabeled.length) throw new DataError('EMPTY_FOLDER', `no image/mask pairs found in ${rootIn}`, rootIn);

  const dims = found.dims ?? (found.samples[0] ?? found.unlabeled[0])!.dims;
  const index: DatasetIndex = {
    name: meta?.name ?? found.name ?? basename(root),
    root,
    layout,
    dims,
    samples: found.samples.sort((a, b) => naturalCompare(a.id, b.id)),
    unlabeled: found.unlabeled.sort((a, b) => naturalCompare(a.id, b.id)),
    labels: { ...(meta?.labels ?? {}), ...(found.labels ?? {}) },
    encoding: opts.encoding ?? meta?.encoding ?? (dims === 3 || layout === 'msd' || layout === 'nnunet' ? 'labels' : 'auto'),
    warnings: found.warnings,
  };
  if (Object.keys(index.labels).length === 0) index.labels = { 0: 'background', 1: 'foreground' };
  if (meta) applyMeta(index, meta);
  if (opts.check) await checkDataset(index);
  return index;
}

async function imagesOnly(dir: string): Promise<{ samples: SampleRecord[]; unlabeled: SampleRecord[]; warnings: string[] }> {
  const { files } = await listDataFiles(dir);
  if (!files.length) throw new DataError('EMPTY_FOLDER', `no image files in ${dir}`, dir);
  const unlabeled = files.map((f): SampleRecord => ({
    id: f.stem, imagePath: f.path, extra: {}, dims: f.ext.startsWith('.nii') ? 3 : 2, meta: { source: 'unpaired' },
  }));
  return { samples: [], unlabeled, warnings: [`no masks folder: ${files.length} image(s) kept as unlabeled`] };
}

function applyMeta(index: DatasetIndex, meta: NonNullable<Awaited<ReturnType<typeof readDatasetMeta>>>): void {
  const byId = new Map(index.samples.map((s) => [s.id, s]));
  if (meta.classes) {
    for (const s of [...index.samples, ...index.unlabeled]) if (meta.classes[s.id]) s.meta.class = meta.classes[s.id];
  }
  if (meta.groups) {
    const groups: Record<string, string> = {};
    for (const [id, g] of Object.entries(meta.groups)) {
      const s = byId.get(id);
      if (!s) continue;
      s.meta.group = g;
      groups[id] = g;
    }
    if (Object.keys(groups).length) index.groups = groups;
    const unknown = Object.keys(meta.groups).filter((id) => !byId.has(id));
    if (unknown.length) index.warnings.push(`meta.json names ${unknown.length} id(s) in groups that are not in the dataset: ${listFew(unknown)}`);
  }
  if (meta.officialSplit) {
    const { train, test } = meta.officialSplit;
    const unknown = [...train, ...test].filter((id) => !byId.has(id));
    if (unknown.length) {
      index.warnings.push(`meta.json official split names ${unknown.length} unknown id(s): ${listFew(unknown)}; ignored`);
    } else {
      index.officialSplit = { train: [...train], test: [...test] };
      for (const id of train) byId.get(id)!.meta.officialSplit = 'train';
      for (const id of test) byId.get(id)!.meta.officialSplit = 'test';
    }
  }
  if (meta.count !== undefined && meta.count !== index.samples.length) {
    index.warnings.push(`meta.json says ${meta.count} pairs but ${index.samples.length} were found`);
  }
}

/** Runs fn over items with at most `limit` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Reads every file header (no pixels) and checks that masks and extra maps have their image's size (and, for
 * volumes, affine). Throws the first problem as a DataError, or with `all: true` returns every problem.
 */
export async function checkDataset(index: DatasetIndex, opts: { all?: boolean; concurrency?: number } = {}): Promise<DataError[]> {
  const problems: DataError[] = [];
  await mapLimit([...index.samples, ...index.unlabeled], opts.concurrency ?? 8, async (s) => {
    try {
      await checkSample(s);
    } catch (err) {
      if (!(err instanceof DataError) || !opts.all) throw err;
      problems.push(err);
    }
  });
  return problems;
}

const rel = (p: string): string => `${basename(resolve(p, '..'))}/${basename(p)}`;

async function checkSample(s: SampleRecord): Promise<void> {
  const others = [s.maskPath, ...(s.extraMaskPaths ?? []), ...Object.values(s.extra), ...(s.channelPaths ?? []).slice(1)].filter((p): p is string => !!p);
  if (s.dims === 2) {
    const img = await readImageInfo(s.imagePath);
    for (const p of others) {
      const m = await readImageInfo(p);
      if (m.width !== img.width || m.height !== img.height) {
        throw new DataError('SIZE_MISMATCH', `size mismatch for ${s.id}: ${rel(p)} is ${m.width}x${m.height} but image ${rel(s.imagePath)} is ${img.width}x${img.height}`, p);
      }
    }
  } else {
    const img = await readNiftiInfo(s.imagePath);
    for (const p of others) {
      const m = await readNiftiInfo(p);
      if (m.geometry.shape.some((d, i) => d !== img.geometry.shape[i])) {
        throw new DataError('SIZE_MISMATCH', `size mismatch for ${s.id}: ${rel(p)} is ${m.geometry.shape.join('x')} but image ${rel(s.imagePath)} is ${img.geometry.shape.join('x')} (D x H x W)`, p);
      }
      if (affineDistance(m.geometry.affine, img.geometry.affine) > 1e-3) {
        throw new DataError('GEOMETRY_MISMATCH', `geometry mismatch for ${s.id}: ${rel(p)} and ${rel(s.imagePath)} have different affines`, p);
      }
    }
  }
}
