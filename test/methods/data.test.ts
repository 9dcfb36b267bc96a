// The run's data: several --data folders, the seeded split saved in the run directory and reused, a given split
// file, and the preprocessed case cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { memory, tidy } from '../../src/engine/index.ts';
import {
  RunDirectory, buildConfig, cacheCases, disposeCache, discoverTrainingData, epochOrder, makeBatch, prepareSplit,
} from '../../src/methods/index.ts';
import { prepareRunData } from '../../src/methods/setup.ts';
import { Generator } from '../../src/engine/index.ts';
import { makeDataset2d, makeDataset3d, quickConfig, tempDir, useOneThread } from './helpers.ts';

useOneThread();

test('split: made once with the seed, saved as split.json and reused; a --split file is copied in', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  await makeDataset2d(join(dir, 'a'), 10);
  const data = await discoverTrainingData([join(dir, 'a')]);
  const path = join(dir, 'split.json');
  const first = await prepareSplit(path, data, { seed: 3, valFraction: 0.2, testFraction: 0.1, given: null });
  assert.deepEqual([first.train.length, first.val.length, first.test.length], [7, 2, 1]);
  // A second call with other fractions still returns the saved split (a run keeps its split).
  const again = await prepareSplit(path, data, { seed: 3, valFraction: 0.5, testFraction: 0, given: null });
  assert.deepEqual(again, first);
  await assert.rejects(prepareSplit(path, data, { seed: 4, valFraction: 0.2, testFraction: 0.1, given: null }), /made with seed 3, not 4/);
  const given = join(dir, 'given.json');
  writeFileSync(given, JSON.stringify({ seed: 9, train: ['case00', 'case01'], val: ['case02'], test: [] }));
  const other = join(dir, 'other', 'split.json');
  const copied = await prepareSplit(other, data, { seed: 0, valFraction: 0.1, testFraction: 0.1, given });
  assert.deepEqual(copied.train, ['case00', 'case01']);
  assert.deepEqual(JSON.parse(readFileSync(other, 'utf8')).val, ['case02']);
  writeFileSync(given, JSON.stringify({ seed: 9, train: ['nope'], val: [], test: [] }));
  await assert.rejects(prepareSplit(other, data, { seed: 0, valFraction: 0.1, testFraction: 0.1, given }), /not in the dataset: "nope"/);
});

test('several --data folders: ids prefixed by dataset name, sources tagged; 2D and 3D cannot mix', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  await makeDataset2d(join(dir, 'one'), 3);
  await makeDataset2d(join(dir, 'two'), 2, 24, 24, 5);
  await makeDataset3d(join(dir, 'vol'), 1);
  const data = await discoverTrainingData([join(dir, 'one'), join(dir, 'two')]);
  assert.deepEqual([...data.cases.keys()], ['one/case00', 'one/case01', 'one/case02', 'two/case00', 'two/case01']);
  assert.deepEqual([...data.cases.values()].map((c) => c.source), [0, 0, 0, 1, 1]);
  await assert.rejects(discoverTrainingData([join(dir, 'one'), join(dir, 'vol')]), /all --data folders must hold data of one kind, but .* is 2D and .* is 3D/);
});

test('prepareRunData: cached 2D cases at model size (uint8), batches by index_select, nothing leaks', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  await makeDataset2d(join(dir, 'd'), 6);
  const before = memory().liveTensors;
  const run = RunDirectory.create(join(dir, 'run'));
  const rd = await prepareRunData(buildConfig(quickConfig(), { method: 'supervised', data: [join(dir, 'd')] }), run);
  assert.ok(existsSync(run.split) && existsSync(run.config));
  assert.deepEqual(rd.train.images!.shape, [rd.train.ids.length, 3, 32, 32]);
  assert.equal(rd.train.images!.dtype, 'uint8');
  assert.deepEqual(rd.train.masks!.shape, [rd.train.ids.length, 32, 32]);
  assert.ok(tidy(() => rd.train.masks!.max().item()) === 1, 'masks are label maps (0/1), not 0/255');
  tidy(() => {
    const b = makeBatch(rd.train, [2, 0], { patchSize: rd.prep.size, foregroundProb: 0.33, generator: new Generator(0), augment: null });
    assert.deepEqual(b.image.shape, [2, 3, 32, 32]);
    assert.equal(b.image.dtype, 'float32');
    assert.ok(b.image.max().item() <= 1 && b.image.min().item() >= 0);
    assert.deepEqual(b.ids, [rd.train.ids[2], rd.train.ids[0]]);
  });
  disposeCache(rd.train);
  disposeCache(rd.val);
  assert.equal(memory().liveTensors, before);
});

test('semi-supervised split: a labeled subset is saved in split.json and only it is cached for training', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  await makeDataset2d(join(dir, 'd'), 8);
  const run = RunDirectory.create(join(dir, 'run'));
  const rd = await prepareRunData(buildConfig(quickConfig(), { method: 'supervised', data: [join(dir, 'd')] }), run, { labeled: 2 });
  assert.equal(rd.split.labeled!.length, 2);
  assert.equal(rd.split.unlabeled!.length, rd.split.train.length - 2);
  assert.deepEqual(rd.train.ids, rd.split.labeled);
  assert.deepEqual(JSON.parse(readFileSync(run.split, 'utf8')).labeled, rd.split.labeled);
  disposeCache(rd.train);
  disposeCache(rd.val);
});

test('3D cache and patches: volumes z-scored per case, patches of the patch size with foreground oversampling', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  await makeDataset3d(join(dir, 'v'), 3);
  const run = RunDirectory.create(join(dir, 'run'));
  const rd = await prepareRunData(buildConfig(quickConfig({ size: null, patchSize: [8, 8, 8], valFraction: 0 }), { method: 'supervised', data: [join(dir, 'v')] }), run);
  const v = rd.train.volumes![0]!;
  tidy(() => {
    assert.ok(Math.abs(v.mean().item()) < 1e-4 && Math.abs(v.std(undefined, { correction: 0 }).item() - 1) < 1e-3, 'zero mean, unit std');
    const b = makeBatch(rd.train, [0, 1, 2], { patchSize: [8, 8, 8], foregroundProb: 1, generator: new Generator(0), augment: null });
    assert.deepEqual(b.image.shape, [3, 1, 8, 8, 8]);
    assert.deepEqual(b.mask.shape, [3, 8, 8, 8]);
    assert.ok(b.mask.sum([1, 2, 3]).toArray().every((n) => n > 0), 'foregroundProb 1: every patch holds foreground');
  });
  assert.equal(rd.val, null, 'valFraction 0: no validation cache');
  disposeCache(rd.train);
});

test('epochOrder: consecutive permutations, reproducible from the generator state', () => {
  const a = epochOrder(5, 12, new Generator(1));
  const b = epochOrder(5, 12, new Generator(1));
  assert.deepEqual(a, b);
  assert.equal(a.length, 12);
  assert.deepEqual([...a.slice(0, 5)].sort(), [0, 1, 2, 3, 4], 'the first five are one permutation');
  assert.deepEqual([...a.slice(5, 10)].sort(), [0, 1, 2, 3, 4]);
});

test('cacheCases rejects labels above the declared classes', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  await makeDataset2d(join(dir, 'd'), 2);
  const data = await discoverTrainingData([join(dir, 'd')]);
  const refs = [...data.cases.values()];
  const prep = { dims: 2 as const, channels: 3, size: [16, 16], resize: 'stretch' as const, normalization: 'unit' as const, storage: 'uint8' as const, labels: { 0: 'bg' }, numClasses: 1, outChannels: 1, overlap: 0.5 };
  await assert.rejects(cacheCases(refs, prep), /has label 1 but the dataset declares 0 as its highest label/);
});
