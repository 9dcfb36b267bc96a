// Medical Segmentation Decathlon and nnU-Net layouts: imagesTr/ + labelsTr/ (+ imagesTs/) with dataset.json.
//  - MSD (and nnU-Net v1): dataset.json has "training": [{"image": "./imagesTr/x.nii.gz", "label": "./labelsTr/x.nii.gz"}]
//    and "labels": {"0": "background", ...}; multi-modal images are 4-D files (or v1 x_0000.nii.gz channel files).
//  - nnU-Net v2: dataset.json has "channel_names", "labels": {"background": 0, ...} and "file_ending"; images are
//    imagesTr/CASE_XXXX<ending> (one file per channel), labels labelsTr/CASE<ending>; .png endings are 2D.
import { existsSync } from 'node:fs';
import { join, basename } from 'node:path';
import { DataError, listFew } from './errors.ts';
import { readJson } from './metaJson.ts';
import { listDataFiles } from './folders.ts';
import { naturalCompare, splitName } from './stems.ts';
import type { DiscoverOptions, Layout, SampleRecord } from './dataset.ts';

export interface NnunetResult {
  layout: Layout;
  name?: string;
  dims: 2 | 3;
  samples: SampleRecord[];
  unlabeled: SampleRecord[];
  labels: Record<number, string>;
  warnings: string[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const dimsOfEnding = (ending: string): 2 | 3 => (/\.nii(\.gz)?$/i.test(ending) ? 3 : 2);
const pad4 = (i: number): string => String(i).padStart(4, '0');

function labelNames(raw: unknown, path: string): Record<number, string> {
  const out: Record<number, string> = {};
  if (!isObj(raw)) return out;
  for (const [k, v] of Object.entries(raw)) {
    if (/^\d+$/.test(k) && typeof v === 'string') out[Number(k)] = v; // MSD: "1": "Anterior"
    else if (typeof v === 'number' && Number.isInteger(v)) out[v] = k; // v2: "anterior": 1
    else if (Array.isArray(v)) for (const x of v) if (typeof x === 'number') out[x] ??= k; // v2 regions
    else throw new DataError('INVALID', `${path}: cannot read label ${JSON.stringify(k)}: ${JSON.stringify(v)}`, path);
  }
  return out;
}

export async function discoverNnunet(root: string, opts: DiscoverOptions): Promise<NnunetResult> {
  const jsonPath = join(root, 'dataset.json');
  const json = existsSync(jsonPath) ? await readJson(jsonPath) : null;
  if (json !== null && !isObj(json)) throw new DataError('INVALID', `${jsonPath} must hold a JSON object`, jsonPath);
  const warnings: string[] = [];
  const v2 = json !== null && ('channel_names' in json || 'file_ending' in json);
  const res = json && !v2 && Array.isArray(json.training) ? await msd(root, json, jsonPath, warnings) : await v2Layout(root, json, warnings, opts);
  const listed = json?.numTraining;
  if (typeof listed === 'number' && listed !== res.samples.length) {
    warnings.push(`dataset.json says numTraining ${listed} but ${res.samples.length} labeled cases were found`);
  }
  const labels = json ? labelNames(json.labels, jsonPath) : {};
  if (existsSync(join(root, 'imagesTs'))) {
    const ts = await listDataFiles(join(root, 'imagesTs'));
    const byCase = new Map<string, string[]>();
    for (const f of ts.files) {
      const c = res.layout === 'nnunet' ? f.stem.replace(/_\d{4}$/, '') : f.stem;
      byCase.set(c, [...(byCase.get(c) ?? []), f.path]);
    }
    for (const [id, paths] of byCase) {
      const rec: SampleRecord = { id, imagePath: paths[0]!, extra: {}, dims: res.dims, meta: { source: 'imagesTs' } };
      if (paths.length > 1) rec.channelPaths = paths;
      res.unlabeled.push(rec);
    }
  }
  return { ...res, name: typeof json?.name === 'string' ? json.name : undefined, labels, warnings };
}

async function msd(root: string, json: Record<string, unknown>, jsonPath: string, warnings: string[]): Promise<Omit<NnunetResult, 'labels' | 'warnings'>> {
  const entries = json.training as unknown[];
  const samples: SampleRecord[] = [];
  const missing: string[] = [];
  const resolve = (p: string): string => join(root, p.replace(/^\.\//, ''));
  for (const [i, e] of entries.entries()) {
    if (!isObj(e) || typeof e.image !== 'string' || typeof e.label !== 'string') {
      throw new DataError('INVALID', `${jsonPath}: training[${i}] needs "image" and "label" strings`, jsonPath);
    }
    const image = resolve(e.image), label = resolve(e.label);
    const split = splitName(basename(image));
    if (!split) throw new DataError('INVALID', `${jsonPath}: training[${i}].image ${e.image} is not an image or volume file`, jsonPath);
    let channelPaths: string[] | undefined;
    if (!existsSync(image)) { // nnU-Net v1 keeps MSD's list but stores x_0000.nii.gz, x_0001.nii.gz, ...
      const base = image.slice(0, image.length - split.ext.length);
      const chans: string[] = [];
      while (existsSync(`${base}_${pad4(chans.length)}${split.ext}`)) chans.push(`${base}_${pad4(chans.length)}${split.ext}`);
      if (chans.length) channelPaths = chans; else missing.push(e.image);
    }
    if (!existsSync(label)) missing.push(e.label);
    const rec: SampleRecord = { id: split.stem, imagePath: channelPaths?.[0] ?? image, maskPath: label, extra: {}, dims: dimsOfEnding(split.ext), meta: {} };
    if (channelPaths && channelPaths.length > 1) rec.channelPaths = channelPaths;
    samples.push(rec);
  }
  if (missing.length) throw new DataError('NOT_FOUND', `${jsonPath} lists ${missing.length} file(s) that do not exist: ${listFew(missing)}`, jsonPath);
  if (!samples.length) throw new DataError('EMPTY_FOLDER', `${jsonPath} lists no training cases`, jsonPath);
  const ids = new Set(samples.map((s) => s.id));
  if (ids.size !== samples.length) throw new DataError('AMBIGUOUS', `${jsonPath} lists the same case more than once`, jsonPath);
  const onDisk = (await listDataFiles(join(root, 'imagesTr'))).files.filter((f) => !ids.has(f.stem) && !ids.has(f.stem.replace(/_\d{4}$/, '')));
  if (onDisk.length) warnings.push(`imagesTr/: ${onDisk.length} file(s) not listed in dataset.json: ${listFew(onDisk.map((f) => f.name))}`);
  const dims = samples[0]!.dims;
  return { layout: 'msd', dims, samples: samples.sort((a, b) => naturalCompare(a.id, b.id)), unlabeled: [] };
}

async function v2Layout(root: string, json: Record<string, unknown> | null, warnings: string[], opts: DiscoverOptions): Promise<Omit<NnunetResult, 'labels' | 'warnings'>> {
  const imgs = await listDataFiles(join(root, 'imagesTr'));
  const labs = existsSync(join(root, 'labelsTr')) ? await listDataFiles(join(root, 'labelsTr')) : { files: [], ignored: [] };
  if (!imgs.files.length) throw new DataError('EMPTY_FOLDER', `no image files in ${join(root, 'imagesTr')}`, join(root, 'imagesTr'));
  const ending = typeof json?.file_ending === 'string' ? json.file_ending.toLowerCase() : (labs.files[0] ?? imgs.files[0]!).ext;
  const nChannels = isObj(json?.channel_names) ? Object.keys(json.channel_names).length : isObj(json?.modality) ? Object.keys(json.modality).length : 0;
  const imagesByCase = new Map<string, Map<number, string>>();
  const stray: string[] = [];
  for (const f of imgs.files) {
    const m = /^(.*)_(\d{4})$/.exec(f.stem);
    if (!m || f.ext !== ending) { stray.push(f.name); continue; }
    const chans = imagesByCase.get(m[1]!) ?? new Map<number, string>();
    chans.set(Number(m[2]), f.path);
    imagesByCase.set(m[1]!, chans);
  }
  if (stray.length) throw new DataError('INVALID', `${join(root, 'imagesTr')}: ${stray.length} file(s) are not named CASE_XXXX${ending} as nnU-Net requires: ${listFew(stray)}`, root);
  const channels = nChannels || Math.max(...[...imagesByCase.values()].map((c) => c.size));
  const samples: SampleRecord[] = [];
  const unlabeled: SampleRecord[] = [];
  const labelCases = new Set<string>();
  const missingChannels: string[] = [];
  const record = (id: string, maskPath?: string): SampleRecord | null => {
    const chans = imagesByCase.get(id);
    const paths = Array.from({ length: channels }, (_, c) => chans?.get(c));
    if (paths.some((p) => !p)) { missingChannels.push(`${id}_${pad4(paths.findIndex((p) => !p))}${ending}`); return null; }
    const rec: SampleRecord = { id, imagePath: paths[0]!, extra: {}, dims: dimsOfEnding(ending), meta: {} };
    if (channels > 1) rec.channelPaths = paths as string[];
    if (maskPath) rec.maskPath = maskPath;
    return rec;
  };
  for (const f of labs.files) {
    if (f.ext !== ending) continue;
    labelCases.add(f.stem);
    const rec = record(f.stem, f.path);
    if (rec) samples.push(rec);
  }
  if (missingChannels.length) throw new DataError('UNPAIRED', `${root}: ${missingChannels.length} label(s) lack image channel files in imagesTr/: ${listFew(missingChannels)}`, root);
  const noLabel = [...imagesByCase.keys()].filter((id) => !labelCases.has(id));
  if (noLabel.length && !opts.allowUnlabeled) {
    throw new DataError('UNPAIRED', `${root}: ${noLabel.length} case(s) in imagesTr/ have no label in labelsTr/: ${listFew(noLabel)} (pass allowUnlabeled to keep them as unlabeled)`, root);
  }
  for (const id of noLabel) {
    const rec = record(id);
    if (rec) unlabeled.push({ ...rec, meta: { source: 'unpaired' } });
  }
  if (!samples.length && !unlabeled.length) throw new DataError('EMPTY_FOLDER', `no labeled cases in ${root}`, root);
  if (!json) warnings.push(`no dataset.json in ${root}: inferred ending ${ending} and ${channels} channel(s)`);
  return { layout: 'nnunet', dims: dimsOfEnding(ending), samples: samples.sort((a, b) => naturalCompare(a.id, b.id)), unlabeled };
}
