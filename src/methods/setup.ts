// Everything a run needs before its first step, in order: discover the data folders, make or reuse the split,
// probe the first training case, fix the preprocessing, decode and cache the training and validation cases,
// resolve the config's automatic fields (3D: the patch size from the cached shapes) and write config.json.
import type { Split } from '../data/index.ts';
import { type CaseCache, cacheCases, disposeCache } from './cache.ts';
import type { TrainConfig } from './config.ts';
import { type CaseRef, type TrainingData, discoverTrainingData, prepareSplit } from './data.ts';
import type { Preprocessing } from './preprocess.ts';
import { type ResolvedConfig, autoPatchSize, probeCase, resolveConfig, resolvePreprocessing, sizeMultiple } from './resolve.ts';
import type { RunDirectory } from './runDir.ts';

export interface RunData {
  config: ResolvedConfig;
  prep: Preprocessing;
  data: TrainingData;
  split: Split;
  train: CaseCache;
  /** null when the split has no validation cases. */
  val: CaseCache | null;
}

const refsOf = (data: TrainingData, ids: string[]): CaseRef[] => ids.map((id) => data.cases.get(id)!);

/**
 * Discovers, splits, caches and resolves; writes split.json and config.json into the run directory. With
 * `labeled` (semi-supervised methods: '10%' or a count) the split gets a labeled subset of the training ids,
 * and only those are cached as the labeled training cases (the rest stay in split.unlabeled for the method).
 */
export async function prepareRunData(input: TrainConfig, run: RunDirectory, o: { labeled?: string | number } = {}): Promise<RunData> {
  const data = await discoverTrainingData(input.data);
  const split = await prepareSplit(run.split, data, {
    seed: input.seed, valFraction: input.valFraction, testFraction: input.testFraction, given: input.split, labeled: o.labeled,
  });
  const trainIds = (split.labeled ?? split.train).slice(0, input.maxTrainCases ?? undefined);
  const valIds = split.val.slice(0, input.maxValCases ?? undefined);
  const prep = resolvePreprocessing(input, data, await probeCase(data.cases.get(trainIds[0]!)!, input.channels));
  const train = await cacheCases(refsOf(data, trainIds), prep);
  let val: CaseCache | null = null;
  try {
    val = valIds.length > 0 ? await cacheCases(refsOf(data, valIds), prep) : null;
    if (prep.dims === 3 && prep.size.length === 0) {
      prep.size = autoPatchSize(train.volumes!.map((v) => v.shape.slice(1)), sizeMultiple(input));
    }
    const config = resolveConfig(input, prep, trainIds.length);
    run.writeConfig(config);
    return { config, prep, data, split, train, val };
  } catch (err) {
    disposeCache(train);
    disposeCache(val);
    throw err;
  }
}
