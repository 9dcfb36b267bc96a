// An optional meta.json beside a dataset's folders (the convention of ../shared/data): label names, mask encoding,
// class per image, video sequences, near-duplicate pairs and an official split. Every field is optional and read
// defensively; a folder without meta.json gets defaults.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError, reason } from './errors.ts';
import type { MaskEncoding } from './encoding.ts';

export interface DatasetMeta {
  name?: string;
  dims?: 2 | 3;
  count?: number;
  labels?: Record<number, string>;
  encoding?: MaskEncoding;
  /** id → class name (BUSI). */
  classes?: Record<string, string>;
  /** id → group name, from video sequence ranges (CVC) and near-duplicate lists (Kvasir). */
  groups?: Record<string, string>;
  /** Official split lists (DRIVE). */
  officialSplit?: { train: string[]; test: string[] };
  raw: Record<string, unknown>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new DataError('NOT_FOUND', `file not found: ${path}`, path);
    throw new DataError('UNREADABLE', `cannot read ${path}: ${reason(err)}`, path);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new DataError('INVALID', `${path} is not valid JSON: ${reason(err)}`, path);
  }
}

/** Maps a free-text encoding description to an encoding. */
export function encodingFromText(text: string): MaskEncoding | undefined {
  const t = text.toLowerCase();
  if (t.includes('jpeg') || t.includes('threshold')) return 'threshold';
  if (t.includes('0/255')) return '0/255';
  if (t.includes('0/1')) return '0/1';
  if (t.includes('label') || t.includes('integer')) return 'labels';
  return undefined;
}

export async function readDatasetMeta(root: string): Promise<DatasetMeta | null> {
  const path = join(root, 'meta.json');
  let raw: unknown;
  try {
    raw = await readJson(path);
  } catch (err) {
    if (err instanceof DataError && err.code === 'NOT_FOUND') return null;
    throw err;
  }
  if (!isObj(raw)) throw new DataError('INVALID', `${path} must hold a JSON object`, path);
  return parseMeta(raw);
}

export function parseMeta(raw: Record<string, unknown>): DatasetMeta {
  const meta: DatasetMeta = { raw };
  if (typeof raw.name === 'string') meta.name = raw.name;
  if (raw.dims === 2 || raw.dims === 3) meta.dims = raw.dims;
  if (typeof raw.count === 'number') meta.count = raw.count;
  const labels = isObj(raw.labels) ? raw.labels : {};
  const encText = typeof raw.encoding === 'string' ? raw.encoding : typeof labels.encoding === 'string' ? labels.encoding : undefined;
  if (encText) meta.encoding = encodingFromText(encText);
  const names: Record<number, string> = {};
  for (const [k, v] of Object.entries(labels)) if (/^\d+$/.test(k) && typeof v === 'string') names[Number(k)] = v;
  // binary sets sometimes name the stored value ("255": "lung"): after decoding it is label 1
  if (meta.encoding !== 'labels' && names[255] !== undefined && names[1] === undefined) {
    names[1] = names[255]!;
    delete names[255];
  }
  if (Object.keys(names).length) meta.labels = names;
  if (isObj(raw.classes)) {
    meta.classes = Object.fromEntries(Object.entries(raw.classes).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
  }
  const groups: Record<string, string> = {};
  const seq = isObj(raw.sequences) && isObj(raw.sequences.ranges) ? raw.sequences.ranges : null;
  if (seq) {
    for (const [name, range] of Object.entries(seq)) {
      if (!Array.isArray(range) || range.length !== 2) continue;
      const [a, b] = range as [number, number];
      for (let i = a; i <= b; i++) groups[String(i)] = `sequence-${name}`;
    }
  }
  const notes = isObj(raw.notes) ? raw.notes : {};
  if (typeof notes.near_duplicates === 'string') {
    for (const m of notes.near_duplicates.matchAll(/\[([^\]]+)\]/g)) {
      const ids = m[1]!.split(',').map((s) => s.trim().replace(/^['"]|['"]$/g, '')).filter(Boolean);
      if (ids.length < 2) continue;
      const group = groups[ids[0]!] ?? `duplicates-${ids[0]}`;
      for (const id of ids) groups[id] = group;
    }
  }
  if (Object.keys(groups).length) meta.groups = groups;
  const split = isObj(raw.split) ? raw.split : {};
  const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  if (strs(split.train).length && strs(split.test).length) meta.officialSplit = { train: strs(split.train), test: strs(split.test) };
  return meta;
}
