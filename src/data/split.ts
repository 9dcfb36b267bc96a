// Seeded train/val/test splits and labeled/unlabeled subsets, saved to and reused from JSON.
//
// Determinism: ids (or their groups) are sorted, then shuffled by Fisher-Yates with mulberry32(seed); the same ids,
// seed and fractions always give the same split, whatever the input order. Groups (video sequences, near-duplicate
// pairs) are never cut: a group goes where the midpoint of its run in the shuffled order falls.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DataError, listFew, reason } from './errors.ts';
import { naturalCompare } from './stems.ts';

export interface Split {
  seed: number;
  train: string[];
  val: string[];
  test: string[];
  labeled?: string[];
  unlabeled?: string[];
  /** How the split was made (informational; checked by splitOrCreate). */
  fractions?: { train: number; val: number; test: number };
}

export interface SplitOptions {
  seed: number;
  /** Fractions of ids per part; they must sum to 1. Default { train: 0.8, val: 0.1, test: 0.1 }. */
  fractions?: { train: number; val?: number; test?: number };
  /** id → group: ids of one group land in the same part. */
  groups?: Record<string, string> | Map<string, string> | ((id: string) => string | undefined);
  /** Ids pinned to a part (e.g. an official test set); the rest are distributed to reach the fractions overall. */
  fixed?: { train?: string[]; val?: string[]; test?: string[] };
}

/** mulberry32: a small, fast 32-bit seeded PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates shuffle of a copy, seeded. */
export function seededShuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const rand = mulberry32(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const PARTS = ['train', 'val', 'test'] as const;
type Part = (typeof PARTS)[number];

function checkSeed(seed: unknown): number {
  if (typeof seed !== 'number' || !Number.isInteger(seed)) {
    throw new DataError('INVALID', `Expected an integer for seed but received ${String(seed)} of type ${typeof seed}`);
  }
  return seed;
}

function checkIds(ids: readonly string[]): void {
  const seen = new Set<string>();
  const dup = ids.filter((id) => (seen.has(id) ? true : (seen.add(id), false)));
  if (dup.length) throw new DataError('INVALID', `ids must be unique; repeated: ${listFew(dup)}`);
}

export function makeSplit(ids: readonly string[], opts: SplitOptions): Split {
  const seed = checkSeed(opts.seed);
  checkIds(ids);
  const f = { train: opts.fractions?.train ?? 0.8, val: opts.fractions?.val ?? (opts.fractions ? 0 : 0.1), test: opts.fractions?.test ?? (opts.fractions ? 0 : 0.1) };
  for (const p of PARTS) {
    if (!Number.isFinite(f[p]) || f[p] < 0 || f[p] > 1) throw new DataError('INVALID', `Expected a number between 0 and 1 for fractions.${p} but received ${String(f[p])}`);
  }
  if (Math.abs(f.train + f.val + f.test - 1) > 1e-6) {
    throw new DataError('INVALID', `fractions must sum to 1 but train ${f.train} + val ${f.val} + test ${f.test} = ${f.train + f.val + f.test}`);
  }
  const groupOf = groupFn(opts.groups);
  const known = new Set(ids);
  const out: Record<Part, string[]> = { train: [], val: [], test: [] };
  const pinned = new Map<string, Part>();
  for (const p of PARTS) {
    for (const id of opts.fixed?.[p] ?? []) {
      if (!known.has(id)) throw new DataError('INVALID', `fixed.${p} names an id that is not in the list: ${JSON.stringify(id)}`);
      if (pinned.has(id) && pinned.get(id) !== p) throw new DataError('INVALID', `id ${JSON.stringify(id)} is pinned to both ${pinned.get(id)} and ${p}`);
      pinned.set(id, p);
    }
  }
  // groups: pinned members pull their whole group along
  const groups = new Map<string, string[]>();
  for (const id of ids) {
    const g = groupOf(id) ?? `\0${id}`;
    groups.set(g, [...(groups.get(g) ?? []), id]);
  }
  const free: string[][] = [];
  for (const members of groups.values()) {
    const parts = new Set(members.map((m) => pinned.get(m)).filter((p): p is Part => !!p));
    if (parts.size > 1) throw new DataError('INVALID', `group of ${JSON.stringify(members[0])} has ids pinned to ${[...parts].join(' and ')}`);
    if (parts.size === 1) out[[...parts][0]!].push(...members);
    else free.push(members.sort(naturalCompare));
  }
  free.sort((a, b) => naturalCompare(a[0]!, b[0]!));
  const shuffled = seededShuffle(free, seed);
  const n = ids.length;
  const remaining = PARTS.map((p) => Math.max(0, f[p] * n - out[p].length));
  const total = remaining.reduce((a, b) => a + b, 0) || 1;
  const freeCount = shuffled.reduce((a, g) => a + g.length, 0);
  const bounds = [remaining[0]! / total * freeCount, (remaining[0]! + remaining[1]!) / total * freeCount];
  let cum = 0;
  for (const g of shuffled) {
    const mid = cum + g.length / 2;
    const part: Part = mid < bounds[0]! ? 'train' : mid < bounds[1]! ? 'val' : 'test';
    out[part].push(...g);
    cum += g.length;
  }
  return { seed, train: out.train.sort(naturalCompare), val: out.val.sort(naturalCompare), test: out.test.sort(naturalCompare), fractions: f };
}

function groupFn(g: SplitOptions['groups']): (id: string) => string | undefined {
  if (!g) return () => undefined;
  if (typeof g === 'function') return g;
  if (g instanceof Map) return (id) => g.get(id);
  return (id) => (Object.prototype.hasOwnProperty.call(g, id) ? g[id] : undefined);
}

/**
 * Picks a labeled subset of the training ids for semi-supervised training: amount '10%' (rounded, at least 1 when
 * the percentage is above 0) or a count. The rest are unlabeled.
 */
export function labeledSplit(trainIds: readonly string[], amount: string | number, seed: number): { labeled: string[]; unlabeled: string[] } {
  checkSeed(seed);
  checkIds(trainIds);
  const n = trainIds.length;
  let k: number;
  if (typeof amount === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(amount);
    if (!m) {
      if (/^\s*\d+\s*$/.test(amount)) return labeledSplit(trainIds, Number(amount), seed);
      throw new DataError('INVALID', `Expected a percentage like '10%' or a count for labeled but received ${JSON.stringify(amount)}`);
    }
    const pct = Number(m[1]);
    if (pct > 100) throw new DataError('INVALID', `Expected a percentage between 0% and 100% for labeled but received ${amount}`);
    k = pct === 0 ? 0 : Math.max(1, Math.round((pct / 100) * n));
  } else {
    if (!Number.isInteger(amount) || amount < 0) throw new DataError('INVALID', `Expected a non-negative integer count for labeled but received ${amount}`);
    if (amount > n) throw new DataError('INVALID', `cannot label ${amount} of ${n} training ids`);
    k = amount;
  }
  const order = seededShuffle([...trainIds].sort(naturalCompare), seed);
  return { labeled: order.slice(0, k).sort(naturalCompare), unlabeled: order.slice(k).sort(naturalCompare) };
}

/** Validates a split object: string arrays, no id in two parts, labeled/unlabeled within train, ids known. */
export function validateSplit(value: unknown, ctx: { source?: string; ids?: readonly string[] } = {}): Split {
  const where = ctx.source ? `split file ${ctx.source}` : 'split';
  const bad = (why: string): DataError => new DataError('INVALID', `${where}: ${why}`, ctx.source);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('expected a JSON object with seed, train, val, test');
  const v = value as Record<string, unknown>;
  if (typeof v.seed !== 'number' || !Number.isInteger(v.seed)) throw bad('"seed" must be an integer');
  const arr = (key: string, required: boolean): string[] | undefined => {
    const a = v[key];
    if (a === undefined && !required) return undefined;
    if (!Array.isArray(a) || a.some((x) => typeof x !== 'string')) throw bad(`"${key}" must be an array of id strings`);
    return a as string[];
  };
  const split: Split = { seed: v.seed, train: arr('train', true)!, val: arr('val', true)!, test: arr('test', true)! };
  const labeled = arr('labeled', false), unlabeled = arr('unlabeled', false);
  if (labeled) split.labeled = labeled;
  if (unlabeled) split.unlabeled = unlabeled;
  const fr = v.fractions as Split['fractions'];
  if (fr && typeof fr === 'object') split.fractions = fr;
  const where2 = new Map<string, string>();
  for (const p of PARTS) {
    for (const id of split[p]) {
      if (where2.has(id)) throw bad(`id ${JSON.stringify(id)} is in both ${where2.get(id)} and ${p}`);
      where2.set(id, p);
    }
  }
  const train = new Set(split.train);
  for (const key of ['labeled', 'unlabeled'] as const) {
    const outside = (split[key] ?? []).filter((id) => !train.has(id));
    if (outside.length) throw bad(`${key} ids must be training ids; not in train: ${listFew(outside)}`);
  }
  if (split.labeled && split.unlabeled) {
    const l = new Set(split.labeled);
    const both = split.unlabeled.filter((id) => l.has(id));
    if (both.length) throw bad(`ids both labeled and unlabeled: ${listFew(both)}`);
  }
  if (ctx.ids) {
    const known = new Set(ctx.ids);
    const unknown = [...where2.keys()].filter((id) => !known.has(id));
    if (unknown.length) throw bad(`${unknown.length} id(s) are not in the dataset: ${listFew(unknown)}`);
  }
  return split;
}

export async function saveSplit(path: string, split: Split): Promise<void> {
  validateSplit(split);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(split, null, 1)}\n`);
}

/** Loads and validates a split file; with `ids`, every id in it must belong to the dataset. */
export async function loadSplit(path: string, opts: { ids?: readonly string[] } = {}): Promise<Split> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new DataError('NOT_FOUND', `split file not found: ${path}`, path);
    throw new DataError('UNREADABLE', `cannot read split file ${path}: ${reason(err)}`, path);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DataError('INVALID', `split file ${path} is not valid JSON: ${reason(err)}`, path);
  }
  return validateSplit(value, { source: path, ids: opts.ids });
}

/**
 * Reuses the split saved at `path` if there is one (checking it fits the ids, and that seed and fractions match
 * what was asked), else makes one (plus a labeled subset when `labeled` is given) and saves it.
 */
export async function splitOrCreate(path: string, ids: readonly string[], opts: SplitOptions & { labeled?: string | number }): Promise<{ split: Split; created: boolean }> {
  let existing: Split | null = null;
  try {
    existing = await loadSplit(path, { ids });
  } catch (err) {
    if (!(err instanceof DataError && err.code === 'NOT_FOUND')) throw err;
  }
  if (existing) {
    if (existing.seed !== opts.seed) {
      throw new DataError('INVALID', `split file ${path} was made with seed ${existing.seed}, not ${opts.seed}; delete it or use its seed`, path);
    }
    if (opts.labeled !== undefined && !existing.labeled) {
      throw new DataError('INVALID', `split file ${path} has no labeled subset; delete it to make one with labeled ${opts.labeled}`, path);
    }
    return { split: existing, created: false };
  }
  const split = makeSplit(ids, opts);
  if (opts.labeled !== undefined) Object.assign(split, labeledSplit(split.train, opts.labeled, opts.seed));
  await saveSplit(path, split);
  return { split, created: true };
}
