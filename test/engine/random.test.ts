// Seeded randomness: the global generator and Generators reproduce PyTorch's streams exactly (same libtorch), and
// their state can be saved and restored.
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.ts';
import { type Tensor, Generator, F } from '../../src/engine/index.ts';
import { runTorch, type Wire } from '../helpers/torchRef.ts';

const PY = String.raw`
OUT = {}
torch.manual_seed(0); OUT['randn3'] = torch.randn(3)
torch.manual_seed(0); OUT['randn20'] = torch.randn(4, 5)
torch.manual_seed(0); OUT['randn64'] = torch.randn(5, dtype=torch.float64)
torch.manual_seed(1); OUT['rand'] = torch.rand(2, 3)
torch.manual_seed(1); OUT['rand64'] = torch.rand(20, dtype=torch.float64)
torch.manual_seed(2); OUT['randint'] = torch.randint(0, 10, (8,))
torch.manual_seed(2); OUT['randint32'] = torch.randint(-5, 5, (3, 3), dtype=torch.int32)
torch.manual_seed(3); OUT['randperm'] = torch.randperm(10)
torch.manual_seed(3); OUT['randperm_big'] = torch.randperm(300)
torch.manual_seed(4); OUT['bernoulli'] = torch.bernoulli(torch.full((40,), 0.3))
torch.manual_seed(5); OUT['dropout'] = F.dropout(torch.ones(40), 0.5, True)
torch.manual_seed(5); OUT['dropout2d'] = F.dropout2d(torch.ones(1, 8, 2, 2), 0.5, True)
torch.manual_seed(6); OUT['sequence'] = [torch.randn(2), torch.rand(3), torch.randint(0, 100, (2,)), torch.randn(17)]
torch.manual_seed(7); OUT['inplace'] = [torch.empty(5).uniform_(-1, 2), torch.empty(5).normal_(3, 0.5)]
torch.manual_seed(2**40 + 3); OUT['bigseed'] = torch.randn(3)
g = torch.Generator().manual_seed(7)
OUT['gen'] = [torch.randn(3, generator=g), torch.rand(2, generator=g), torch.randint(0, 9, (4,), generator=g), torch.randperm(6, generator=g)]
OUT['gen_bernoulli'] = torch.bernoulli(torch.full((20,), 0.5), generator=torch.Generator().manual_seed(8))
OUT['gen_state'] = torch.Generator().manual_seed(7).get_state()
g = torch.Generator().manual_seed(11)
torch.randn(5, generator=g)
OUT['mid_state'] = g.get_state()
OUT['after_mid_state'] = torch.randn(4, generator=g)
`;

type Ref = Record<string, Wire | Wire[]>;
let ref: Ref = {};
before(() => {
  ref = runTorch<Ref>(`${PY}\nOUTPUT = OUT`);
});

const wire = (k: string): Wire => ref[k] as Wire;
const wires = (k: string): Wire[] => ref[k] as Wire[];

function sameAs(t: Tensor, w: Wire, what: string): void {
  assert.deepEqual(t.shape, w.shape, `${what}: shape`);
  assert.equal(t.dtype, w.dtype, `${what}: dtype`);
  // Same libtorch, same kernels: bit-identical for every dtype.
  assert.deepEqual(t.toArray(), w.data, what);
}

function seeded<T>(seed: number | bigint, fn: () => T): T {
  E.manualSeed(seed);
  return fn();
}

describe('the global generator matches torch.manual_seed', () => {
  test('manualSeed(0); randn(3) equals torch.randn(3)', () => {
    sameAs(seeded(0, () => E.randn([3])), wire('randn3'), 'randn(3)');
    assert.deepEqual(seeded(0, () => E.randn([3])).toArray().map((v) => +v.toFixed(4)), [1.541, -0.2934, -2.1788]);
  });
  test('randn: 20 values (vectorised path) and float64', () => {
    sameAs(seeded(0, () => E.randn([4, 5])), wire('randn20'), 'randn(4, 5)');
    sameAs(seeded(0, () => E.randn([5], { dtype: 'float64' })), wire('randn64'), 'randn float64');
  });
  test('rand float32 and float64', () => {
    sameAs(seeded(1, () => E.rand([2, 3])), wire('rand'), 'rand');
    sameAs(seeded(1, () => E.rand([20], { dtype: 'float64' })), wire('rand64'), 'rand float64');
  });
  test('randint int64 and int32', () => {
    sameAs(seeded(2, () => E.randint(0, 10, [8])), wire('randint'), 'randint');
    sameAs(seeded(2, () => E.randint(-5, 5, [3, 3], { dtype: 'int32' })), wire('randint32'), 'randint int32');
  });
  test('randperm (small and large n)', () => {
    sameAs(seeded(3, () => E.randperm(10)), wire('randperm'), 'randperm(10)');
    sameAs(seeded(3, () => E.randperm(300)), wire('randperm_big'), 'randperm(300)');
  });
  test('bernoulli', () => {
    sameAs(seeded(4, () => E.bernoulli(E.full([40], 0.3))), wire('bernoulli'), 'bernoulli');
  });
  test('dropout and featureDropout masks', () => {
    sameAs(seeded(5, () => F.dropout(E.ones([40]), 0.5)), wire('dropout'), 'dropout');
    sameAs(seeded(5, () => F.featureDropout(E.ones([1, 8, 2, 2]), 0.5)), wire('dropout2d'), 'dropout2d');
  });
  test('a sequence of mixed draws continues the same stream', () => {
    const got = seeded(6, () => [E.randn([2]), E.rand([3]), E.randint(0, 100, [2]), E.randn([17])]);
    got.forEach((t, i) => sameAs(t, wires('sequence')[i]!, `draw ${i}`));
  });
  test('uniform_ and normal_ in place', () => {
    const got = seeded(7, () => [E.empty([5]).uniform_(-1, 2), E.empty([5]).normal_(3, 0.5)]);
    got.forEach((t, i) => sameAs(t, wires('inplace')[i]!, `in-place draw ${i}`));
  });
  test('seeds beyond 2^32 (bigint)', () => {
    sameAs(seeded(2n ** 40n + 3n, () => E.randn([3])), wire('bigseed'), 'bigint seed');
  });
});

describe('Generators', () => {
  test('a seeded Generator matches torch.Generator().manual_seed(7) draw for draw', () => {
    const g = new Generator(7);
    const got = [E.randn([3], { generator: g }), E.rand([2], { generator: g }), E.randint(0, 9, [4], { generator: g }), E.randperm(6, { generator: g })];
    got.forEach((t, i) => sameAs(t, wires('gen')[i]!, `generator draw ${i}`));
    sameAs(E.bernoulli(E.full([20], 0.5), { generator: new Generator(8) }), wire('gen_bernoulli'), 'bernoulli with generator');
    sameAs(new Generator().manualSeed(7).getState(), wire('gen_state'), 'state bytes equal torch.Generator.get_state()');
  });

  test('a state captured in PyTorch resumes the same stream here', () => {
    const g = new Generator(0);
    const w = wire('mid_state');
    g.setState(E.tensor(Uint8Array.from(w.data), w.shape));
    sameAs(E.randn([4], { generator: g }), wire('after_mid_state'), 'draws after set_state');
  });

  test('state save/restore reproduces a sequence', () => {
    const g = new Generator(123);
    E.randn([7], { generator: g }); // advance (odd count leaves a cached normal)
    const state = g.getState();
    assert.equal(state.dtype, 'uint8');
    assert.deepEqual(state.shape, [5056]);
    const first = [E.randn([5], { generator: g }).toArray(), E.rand([3], { generator: g }).toArray(), E.randperm(5, { generator: g }).toArray()];
    g.setState(state);
    const again = [E.randn([5], { generator: g }).toArray(), E.rand([3], { generator: g }).toArray(), E.randperm(5, { generator: g }).toArray()];
    assert.deepEqual(again, first);
    // the saved state is a snapshot: later draws do not change it
    const copy = Array.from(state.data() as Uint8Array);
    E.randn([10], { generator: g });
    assert.deepEqual(Array.from(state.data() as Uint8Array), copy);
  });

  test('two Generators with the same seed agree; different seeds differ; manualSeed re-seeds', () => {
    const a = new Generator(42), b = new Generator(42), c = new Generator(43);
    const ra = E.randn([6], { generator: a }).toArray();
    assert.deepEqual(E.randn([6], { generator: b }).toArray(), ra);
    assert.notDeepEqual(E.randn([6], { generator: c }).toArray(), ra);
    assert.notDeepEqual(E.randn([6], { generator: a }).toArray(), ra, 'the stream advances');
    a.manualSeed(42);
    assert.deepEqual(E.randn([6], { generator: a }).toArray(), ra);
    const d = new Generator(1);
    assert.equal(d.manualSeed(2), d, 'manualSeed returns this');
  });

  test('Generator draws leave the global stream alone', () => {
    E.manualSeed(99);
    const plain = E.randn([4]).toArray();
    E.manualSeed(99);
    const g = new Generator(5);
    E.randn([10], { generator: g });
    E.rand([3], { generator: g });
    assert.deepEqual(E.randn([4]).toArray(), plain);
  });
});

describe('global state get/set', () => {
  test('getRngState / setRngState replays the global stream', () => {
    E.manualSeed(2024);
    E.rand([3]);
    const s = E.getRngState();
    const a = [E.randn([4]).toArray(), F.dropout(E.ones([16]), 0.5).toArray()];
    E.setRngState(s);
    const b = [E.randn([4]).toArray(), F.dropout(E.ones([16]), 0.5).toArray()];
    assert.deepEqual(b, a);
  });

  test('Generator.global() and defaultGenerator() drive the same stream as manualSeed', () => {
    E.defaultGenerator().manualSeed(0);
    const a = E.randn([3]).toArray();
    Generator.global().manualSeed(0);
    assert.deepEqual(E.randn([3]).toArray(), a);
    E.manualSeed(0);
    assert.deepEqual(E.randn([3], { generator: Generator.global() }).toArray(), a);
  });

  test('draws are in range and well formed', () => {
    E.manualSeed(1);
    const r = E.randint(3, 7, [500]).toArray();
    assert.ok(r.every((v) => Number.isInteger(v) && v >= 3 && v < 7));
    assert.deepEqual(new Set(r).size, 4);
    const p = E.randperm(50).toArray();
    assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
    const u = E.rand([1000]).toArray();
    assert.ok(u.every((v) => v >= 0 && v < 1));
    const b = E.bernoulli(E.full([1000], 0.25)).toArray();
    assert.ok(b.every((v) => v === 0 || v === 1));
    const ones = b.filter((v) => v === 1).length;
    assert.ok(ones > 180 && ones < 320, `about 250 ones, got ${ones}`);
  });
});
