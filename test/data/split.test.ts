import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync, readFileSync } from 'node:fs';
import { makeSplit, labeledSplit, saveSplit, loadSplit, splitOrCreate, mulberry32, seededShuffle, DataError } from '../../src/data/index.ts';
import { tempDir } from './helpers.ts';

const { dir, cleanup } = tempDir();
after(cleanup);
const ids = Array.from({ length: 100 }, (_, i) => `case_${i}`);
const isInvalid = (re: RegExp) => (e: unknown): boolean => e instanceof DataError && e.code === 'INVALID' && re.test(e.message) && !e.message.includes('\n');

test('mulberry32 is a fixed sequence; shuffles are seeded permutations', () => {
  const r = mulberry32(42);
  const a = [r(), r(), r()];
  const r2 = mulberry32(42);
  assert.deepEqual([r2(), r2(), r2()], a);
  assert.ok(a.every((x) => x >= 0 && x < 1));
  assert.deepEqual(mulberry32(1)().toFixed(10), mulberry32(1)().toFixed(10));
  const s = seededShuffle(ids, 7);
  assert.deepEqual([...s].sort(), [...ids].sort());
  assert.notDeepEqual(s, ids);
  assert.deepEqual(seededShuffle(ids, 7), s);
  assert.notDeepEqual(seededShuffle(ids, 8), s);
});

test('makeSplit: deterministic, disjoint, complete, sizes follow the fractions, input order does not matter', () => {
  const a = makeSplit(ids, { seed: 3, fractions: { train: 0.7, val: 0.15, test: 0.15 } });
  assert.deepEqual([a.train.length, a.val.length, a.test.length], [70, 15, 15]);
  assert.deepEqual([...a.train, ...a.val, ...a.test].sort(), [...ids].sort());
  assert.deepEqual(makeSplit([...ids].reverse(), { seed: 3, fractions: { train: 0.7, val: 0.15, test: 0.15 } }), a);
  const b = makeSplit(ids, { seed: 4, fractions: { train: 0.7, val: 0.15, test: 0.15 } });
  assert.notDeepEqual(b.test, a.test);
  const d = makeSplit(ids, { seed: 0 });
  assert.deepEqual([d.train.length, d.val.length, d.test.length], [80, 10, 10]);
  const two = makeSplit(ids, { seed: 0, fractions: { train: 0.75, test: 0.25 } });
  assert.deepEqual([two.train.length, two.val.length, two.test.length], [75, 0, 25]);
});

test('groups are never cut (video sequences, near-duplicates)', () => {
  // 30 sequences of 1..40 frames, like CVC-ClinicDB
  const frames: string[] = [];
  const groups: Record<string, string> = {};
  for (let s = 0; s < 30; s++) for (let f = 0; f < 1 + ((s * 7) % 40); f++) { frames.push(`${s}-${f}`); groups[`${s}-${f}`] = `seq${s}`; }
  for (const seed of [0, 1, 2, 3]) {
    const split = makeSplit(frames, { seed, fractions: { train: 0.7, val: 0.1, test: 0.2 }, groups });
    const partOf = new Map<string, string>();
    for (const part of ['train', 'val', 'test'] as const) {
      for (const id of split[part]) {
        const g = groups[id]!;
        assert.ok(!partOf.has(g) || partOf.get(g) === part, `group ${g} split across ${partOf.get(g)} and ${part}`);
        partOf.set(g, part);
      }
    }
    const frac = split.test.length / frames.length;
    assert.ok(frac > 0.08 && frac < 0.35, `test fraction ${frac}`);
  }
  // a Map and a function work too
  const pair = makeSplit(['a', 'b', 'c', 'd'], { seed: 5, fractions: { train: 0.5, test: 0.5 }, groups: (id) => (id === 'a' || id === 'b' ? 'ab' : undefined) });
  assert.ok(pair.train.includes('a') === pair.train.includes('b'));
});

test('fixed ids (an official test set) stay put; the rest fill the other parts', () => {
  const test20 = ids.slice(0, 50);
  const split = makeSplit(ids, { seed: 9, fractions: { train: 0.4, val: 0.1, test: 0.5 }, fixed: { test: test20 } });
  assert.deepEqual([...split.test].sort(), [...test20].sort());
  assert.deepEqual([split.train.length, split.val.length], [40, 10]);
  assert.throws(() => makeSplit(ids, { seed: 1, fixed: { test: ['nope'] } }), isInvalid(/fixed\.test names an id that is not in the list/));
});

test('labeledSplit: percentages and counts, seeded', () => {
  const train = ids.slice(0, 80);
  const ten = labeledSplit(train, '10%', 1);
  assert.equal(ten.labeled.length, 8);
  assert.equal(ten.unlabeled.length, 72);
  assert.deepEqual([...ten.labeled, ...ten.unlabeled].sort(), [...train].sort());
  assert.deepEqual(labeledSplit([...train].reverse(), '10%', 1), ten);
  assert.equal(labeledSplit(train, 5, 1).labeled.length, 5);
  assert.equal(labeledSplit(train, '5', 1).labeled.length, 5);
  assert.equal(labeledSplit(train.slice(0, 3), '10%', 1).labeled.length, 1); // at least one
  assert.equal(labeledSplit(train, '12.5%', 1).labeled.length, 10);
  assert.throws(() => labeledSplit(train, 'ten', 1), isInvalid(/percentage like '10%'/));
  assert.throws(() => labeledSplit(train, '150%', 1), isInvalid(/between 0% and 100%/));
  assert.throws(() => labeledSplit(train, 81, 1), isInvalid(/cannot label 81 of 80/));
});

test('save → load → reuse; splitOrCreate makes once and then reuses', async () => {
  const path = join(dir, 'split.json');
  const s = makeSplit(ids, { seed: 11 });
  Object.assign(s, labeledSplit(s.train, '10%', 11));
  await saveSplit(path, s);
  assert.deepEqual(await loadSplit(path, { ids }), s);
  const reuse = join(dir, 'reuse', 'split.json');
  const first = await splitOrCreate(reuse, ids, { seed: 5, labeled: '25%' });
  assert.equal(first.created, true);
  assert.equal(first.split.labeled!.length, 20);
  const again = await splitOrCreate(reuse, ids, { seed: 5, labeled: '25%' });
  assert.equal(again.created, false);
  assert.deepEqual(again.split, first.split);
  await assert.rejects(splitOrCreate(reuse, ids, { seed: 6 }), isInvalid(/made with seed 5, not 6/));
  await assert.rejects(splitOrCreate(reuse, ids.slice(0, 50), { seed: 5 }), isInvalid(/not in the dataset/));
  assert.match(readFileSync(reuse, 'utf8'), /"seed": 5/);
});

test('bad split files and arguments fail with one-line messages', async () => {
  const write = (name: string, v: unknown): string => { const p = join(dir, name); writeFileSync(p, typeof v === 'string' ? v : JSON.stringify(v)); return p; };
  await assert.rejects(loadSplit(join(dir, 'none.json')), (e: unknown) => e instanceof DataError && e.code === 'NOT_FOUND');
  await assert.rejects(loadSplit(write('bad.json', '{oops')), isInvalid(/not valid JSON/));
  await assert.rejects(loadSplit(write('noseed.json', { train: [], val: [], test: [] })), isInvalid(/"seed" must be an integer/));
  await assert.rejects(loadSplit(write('overlap.json', { seed: 1, train: ['a'], val: ['a'], test: [] })), isInvalid(/"a" is in both train and val/));
  await assert.rejects(loadSplit(write('lab.json', { seed: 1, train: ['a'], val: [], test: ['b'], labeled: ['b'] })), isInvalid(/labeled ids must be training ids/));
  await assert.rejects(loadSplit(write('types.json', { seed: 1, train: [1], val: [], test: [] })), isInvalid(/"train" must be an array of id strings/));
  assert.throws(() => makeSplit(ids, { seed: 1.5 }), isInvalid(/integer for seed/));
  assert.throws(() => makeSplit(ids, { seed: 1, fractions: { train: 0.5, val: 0.1, test: 0.1 } }), isInvalid(/must sum to 1/));
  assert.throws(() => makeSplit(['a', 'a'], { seed: 1 }), isInvalid(/repeated: "a"/));
});
