// The training data of a run: one or more dataset folders (concatenated; all 2D or all 3D), their case records
// under unique ids, the label set, and the seeded train/val/test split saved in the run directory.
//
// Ids: with one folder they are the dataset's own (so split files match other tools); with several, each id is
// prefixed with its folder's dataset name ("kvasir/cju0qkwl35piu0993l0dewei2") to keep them unique.
import { resolve } from 'node:path';
import {
  type DatasetIndex, type SampleRecord, type Split, DataError, discoverDataset, loadSplit, saveSplit, splitOrCreate,
} from '../data/index.ts';
import { ConfigError } from './configChecks.ts';

export interface CaseRef {
  id: string;
  record: SampleRecord;
  index: DatasetIndex;
  /** Which --data folder the case came from (0-based): ESP-MedSAM's dataset / modality tag. */
  source: number;
}

export interface TrainingData {
  dims: 2 | 3;
  datasets: DatasetIndex[];
  /** Every labeled case by id, in folder then natural order. */
  cases: Map<string, CaseRef>;
  /** Label index → name over all folders (0 = background). */
  labels: Record<number, string>;
  /** max label + 1 (2 for binary). */
  numClasses: number;
}

/** Discovers every folder and checks they can be trained together. */
export async function discoverTrainingData(dirs: string[]): Promise<TrainingData> {
  const datasets: DatasetIndex[] = [];
  for (const dir of dirs) datasets.push(await discoverDataset(dir));
  const dims = datasets[0]!.dims;
  datasets.forEach((d, i) => {
    if (d.dims !== dims) throw new ConfigError(`all --data folders must hold data of one kind, but ${dirs[0]} is ${dims}D and ${dirs[i]} is ${d.dims}D`);
    if (d.samples.length === 0) throw new ConfigError(`${dirs[i]} has no labeled cases to train on`);
  });
  const cases = new Map<string, CaseRef>();
  const prefixed = datasets.length > 1;
  datasets.forEach((index, source) => {
    for (const record of index.samples) {
      const id = prefixed ? `${index.name}/${record.id}` : record.id;
      if (cases.has(id)) throw new ConfigError(`case id ${id} occurs twice: give the --data folders distinct dataset names`);
      cases.set(id, { id, record, index, source });
    }
  });
  const labels: Record<number, string> = {};
  for (const d of datasets) Object.assign(labels, d.labels);
  const numClasses = Math.max(1, ...Object.keys(labels).map(Number).filter(Number.isInteger)) + 1;
  return { dims, datasets, cases, labels, numClasses };
}

/** Leakage groups and official test ids over all folders, under the run's ids. */
function splitConstraints(data: TrainingData): { groups: Record<string, string>; test: string[] } {
  const groups: Record<string, string> = {};
  const test: string[] = [];
  for (const ref of data.cases.values()) {
    const own = ref.record.id;
    const group = ref.index.groups?.[own];
    if (group !== undefined) groups[ref.id] = `${ref.source}:${group}`;
    if (ref.index.officialSplit?.test.includes(own)) test.push(ref.id);
  }
  return { groups, test };
}

/**
 * The run's split: `given` (a --split file, checked against the ids and copied to `path`), else the one at
 * `path` (a resumed or re-run directory), else a new seeded split (leakage groups kept together, official test
 * ids pinned to test, and a labeled subset of train when `labeled` is given) saved at `path`.
 */
export async function prepareSplit(
  path: string, data: TrainingData, o: { seed: number; valFraction: number; testFraction: number; given: string | null; labeled?: string | number },
): Promise<Split> {
  const ids = [...data.cases.keys()];
  if (o.given !== null) {
    const split = await loadSplit(o.given, { ids });
    if (split.train.length === 0) throw new DataError('INVALID', `split file ${o.given} has no training ids`, o.given);
    if (resolve(o.given) !== resolve(path)) await saveSplit(path, split);
    return split;
  }
  const { groups, test } = splitConstraints(data);
  const fractions = { train: 1 - o.valFraction - o.testFraction, val: o.valFraction, test: o.testFraction };
  const { split } = await splitOrCreate(path, ids, { seed: o.seed, fractions, groups, fixed: { test }, ...(o.labeled === undefined ? {} : { labeled: o.labeled }) });
  if (split.train.length === 0) throw new ConfigError(`the split has no training cases (${ids.length} cases, valFraction ${o.valFraction}, testFraction ${o.testFraction})`);
  return split;
}
