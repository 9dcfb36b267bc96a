// Checkpoint readers against the shared fixture zoo: every file in ../shared/fixtures/checkpoints is checked
// against its .expect.json (entries by key path, dtype, shape, float64 sum, first values, views and storage
// sharing, plain Python values), and every broken file must be rejected with the expected reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor, dispose, native } from '../../src/engine/index.ts';
import {
  OrderedDict, ZipReader, isTuple, loadCheckpoint, loadSafetensors, loadStateDict, pyFloatKeys, saveCheckpoint,
} from '../../src/engine/serialization/index.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = resolve(repoRoot, '../shared/fixtures/checkpoints');
const fixture = (name: string): string => resolve(FIXTURES, name);

interface Entry {
  path: string; kind: string; dtype?: string; shape?: number[]; numel?: number; sum?: number; first_values?: number[];
  storage_offset?: number; stride?: number[]; shares_storage_with?: string; contiguous?: boolean;
  keys?: string[]; key_types?: string[]; python_type?: string; length?: number; value?: unknown;
  data_offsets?: [number, number];
}
interface Expect {
  file: string; valid: boolean; legacy?: boolean; suggested_rejection?: string; expected_error?: string;
  top_level_type?: string; top_level_keys?: string[]; entries?: Entry[]; metadata?: Record<string, string>;
  header_length?: number; num_tensors?: number; zip_entries?: { name: string; size: number }[];
}

/** Children of a loaded container as [key, value] (dict keys as loaded, list indices as numbers). */
const childrenOf = (v: unknown): [unknown, unknown][] =>
  v instanceof Map ? [...v] : Array.isArray(v) ? v.map((x, i) => [i, x]) : [];

/** Every value below `root` by key path (keys joined with '/'; containers listed before their contents). */
function flatten(root: unknown, prefix = '', out = new Map<string, { value: unknown; parent: object; key: unknown }>()) {
  for (const [k, v] of childrenOf(root)) {
    const p = prefix ? `${prefix}/${String(k)}` : String(k);
    out.set(p, { value: v, parent: root as object, key: k });
    if (v instanceof Map || Array.isArray(v)) flatten(v, p, out);
  }
  return out;
}

/** Elements as float64 numbers (int64 via BigInt, exact below 2^53; f16/bf16 converted exactly). */
function elements(t: Tensor): number[] {
  if (t.dtype === 'float16' || t.dtype === 'bfloat16') return Array.from(t.toFloat32Array());
  if (t.dtype === 'int64') return Array.from(t.data() as BigInt64Array, Number);
  return Array.from(t.data() as Exclude<ReturnType<Tensor['data']>, BigInt64Array>);
}

function checkTensor(e: Entry, t: unknown, all: Map<string, { value: unknown }>): void {
  assert.ok(t instanceof Tensor, `${e.path}: expected a tensor`);
  assert.equal(t.dtype, e.dtype, `${e.path}: dtype`);
  assert.deepEqual(t.shape, e.shape, `${e.path}: shape`);
  assert.equal(t.numel, e.numel, `${e.path}: numel`);
  const xs = elements(t);
  const sum = xs.reduce((a, b) => a + b, 0);
  const scale = xs.reduce((a, b) => a + Math.abs(b), 0);
  assert.ok(Math.abs(sum - e.sum!) <= 1e-6 * Math.abs(e.sum!) + 1e-12 * scale, `${e.path}: sum ${sum} vs ${e.sum}`);
  assert.deepEqual(xs.slice(0, 4), e.first_values, `${e.path}: first values`);
  if (e.storage_offset !== undefined) assert.equal(t.storageOffset, e.storage_offset, `${e.path}: storage offset`);
  if (e.stride !== undefined) assert.deepEqual(t.strides, e.stride, `${e.path}: stride`);
  if (e.contiguous !== undefined) assert.equal(t.isContiguous(), e.contiguous, `${e.path}: contiguous`);
  if (e.shares_storage_with !== undefined) {
    const other = all.get(e.shares_storage_with)?.value;
    assert.ok(other instanceof Tensor && t.sharesStorageWith(other), `${e.path} shares storage with ${e.shares_storage_with}`);
  }
}

function checkEntry(e: Entry, found: { value: unknown; parent: object; key: unknown } | undefined, all: Map<string, { value: unknown; parent: object; key: unknown }>): void {
  assert.ok(found, `missing entry ${e.path}`);
  const v = found.value;
  const isFloatKey = pyFloatKeys.get(found.parent)?.has(found.key) ?? false;
  switch (e.kind) {
    case 'tensor': checkTensor(e, v, all); break;
    case 'dict': {
      assert.ok(v instanceof Map, `${e.path}: expected a dict`);
      assert.deepEqual([...v.keys()].map(String), e.keys, `${e.path}: keys`);
      const types = [...new Set([...v.keys()].map((k) => (typeof k === 'number' ? 'int' : typeof k === 'string' ? 'str' : typeof k)))];
      assert.deepEqual(types, e.key_types, `${e.path}: key types`);
      assert.equal(v instanceof OrderedDict, e.python_type === 'collections.OrderedDict', `${e.path}: OrderedDict vs dict`);
      break;
    }
    case 'list': case 'tuple':
      assert.ok(Array.isArray(v), `${e.path}: expected a ${e.kind}`);
      assert.equal(isTuple(v), e.kind === 'tuple', `${e.path}: tuple vs list`);
      assert.equal(v.length, e.length, `${e.path}: length`);
      break;
    case 'int': assert.ok(Number.isInteger(v) && !isFloatKey, `${e.path}: expected an int`); assert.equal(v, e.value); break;
    case 'float': assert.equal(typeof v, 'number', `${e.path}: expected a float`); assert.equal(v, e.value); break;
    case 'bool': assert.equal(v, e.value, `${e.path}: bool`); break;
    case 'none': assert.equal(v, null, `${e.path}: None`); break;
    case 'str': assert.equal(v, e.value, `${e.path}: str`); break;
    default: assert.fail(`${e.path}: unknown expected kind ${e.kind}`);
  }
}

const expectFiles = readdirSync(FIXTURES).filter((f) => f.endsWith('.expect.json')).sort();

test('every checkpoint fixture has an expect file', () => {
  const data = readdirSync(FIXTURES).filter((f) => !f.endsWith('.expect.json') && f !== 'README.md');
  assert.ok(data.length >= 10);
  for (const f of data) assert.ok(expectFiles.includes(`${f}.expect.json`), `${f} has no .expect.json`);
});

for (const name of expectFiles) {
  const exp = JSON.parse(readFileSync(resolve(FIXTURES, name), 'utf8')) as Expect;
  const file = fixture(exp.file);
  if (exp.valid && !exp.legacy) {
    test(`${exp.file}: entries match ${name}`, () => {
      const before = native.liveTensors();
      const loaded = exp.file.endsWith('.safetensors') ? loadSafetensors(file) : null;
      const root: unknown = loaded ? loaded.tensors : loadCheckpoint(file);
      try {
        const all = flatten(root);
        assert.deepEqual([...all.keys()], exp.entries!.map((e) => e.path), 'entry paths in file order');
        for (const e of exp.entries!) checkEntry(e, all.get(e.path), all);
        const tensors = [...all.values()].filter((x) => x.value instanceof Tensor);
        assert.equal(tensors.length, exp.num_tensors);
        if (exp.top_level_keys) assert.deepEqual([...(root as Map<unknown, unknown>).keys()], exp.top_level_keys);
        if (exp.top_level_type) assert.equal(root instanceof OrderedDict, exp.top_level_type === 'OrderedDict');
        if (loaded) {
          assert.deepEqual(loaded.metadata, exp.metadata);
          assert.equal(readFileSync(file).readBigUInt64LE(0), BigInt(exp.header_length!));
          let offset = 0;
          for (const e of exp.entries!) {
            const t = all.get(e.path)!.value as Tensor;
            const nbytes = (t.data() as ArrayBufferView).byteLength;
            assert.deepEqual([offset, offset + nbytes], e.data_offsets, `${e.path}: data offsets`);
            offset += nbytes;
          }
        }
      } finally {
        dispose(root);
      }
      assert.equal(native.liveTensors(), before, 'no tensor handles leak (flat storages are freed)');
    });
  } else {
    const reason = exp.legacy ? exp.suggested_rejection! : exp.expected_error!.split(' (')[0]!;
    test(`${exp.file}: rejected (${reason.slice(0, 40)}...)`, () => {
      const before = native.liveTensors();
      const startsWithReason = (err: unknown): boolean => {
        assert.ok(err instanceof Error && err.message.startsWith(reason), `expected "${reason}..." but got: ${String(err)}`);
        assert.ok(!err.message.includes('\n'), 'one-line message');
        return true;
      };
      assert.throws(() => loadCheckpoint(file), startsWithReason);
      assert.throws(() => loadStateDict(file), startsWithReason);
      assert.equal(native.liveTensors(), before);
    });
  }
}

test('views_shared_storage.pth: views alias one storage, unrelated tensors do not', () => {
  const sd = loadCheckpoint(fixture('views_shared_storage.pth')) as Map<string, Tensor>;
  try {
    const a = sd.get('view_a')!;
    const b = sd.get('view_b')!;
    assert.ok(a.sharesStorageWith(b));
    assert.ok(!a.sharesStorageWith(sd.get('transposed')!));
    assert.ok(!a.sharesStorageWith(sd.get('encoder.weight')!));
    assert.equal(sd.get('encoder.weight'), sd.get('decoder.weight'), 'tied weights come back as the same tensor');
    b.fill_(7); // writes through the shared storage: view_a's elements 8 and 9 overlap nothing, so only b changes
    assert.deepEqual(b.toArray().slice(0, 2), [7, 7]);
    assert.ok(!a.toArray().includes(7));
  } finally {
    dispose(sd);
  }
});

test('nested_model.pth: OrderedDict _metadata, int keys, tuples and params', () => {
  const ckpt = loadCheckpoint(fixture('nested_model.pth')) as Map<string, unknown>;
  try {
    const model = ckpt.get('model') as OrderedDict<string, Tensor>;
    assert.ok(model instanceof OrderedDict);
    const meta = model.attrs?.get('_metadata') as OrderedDict<string, Map<string, number>>;
    assert.ok(meta instanceof OrderedDict, 'state dict _metadata is kept in attrs');
    assert.equal(meta.get('bn')?.get('version'), 2);
    const state = (ckpt.get('optimizer') as Map<string, unknown>).get('state') as Map<number, Map<string, Tensor>>;
    assert.deepEqual([...state.keys()], [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(state.get(0)!.get('step')!.item(), 2);
    assert.equal(ckpt.get('epoch'), 3);
  } finally {
    dispose(ckpt);
  }
});

test('loadStateDict unwraps model / state_dict and strips the DataParallel prefix', () => {
  const before = native.liveTensors();
  const plainKeys = (JSON.parse(readFileSync(resolve(FIXTURES, 'plain.pth.expect.json'), 'utf8')) as Expect).top_level_keys!;
  for (const f of ['plain.pth', 'nested_model.pth', 'nested_state_dict_module_prefix.pth', 'plain.safetensors']) {
    const sd = loadStateDict(fixture(f));
    assert.deepEqual([...sd.keys()], plainKeys, f);
    assert.equal(sd.get('bn.num_batches_tracked')!.dtype, 'int64');
    assert.deepEqual(sd.get('conv.weight')!.shape, [4, 3, 3, 3]);
    dispose(sd);
  }
  assert.equal(native.liveTensors(), before, 'optimizer tensors outside the state dict are disposed');
  const kept = loadStateDict(fixture('nested_state_dict_module_prefix.pth'), { stripPrefix: false });
  assert.ok([...kept.keys()].every((k) => k.startsWith('module.')));
  dispose(kept);
  const byKey = loadStateDict(fixture('nested_model.pth'), { key: 'optimizer/state/0' });
  assert.deepEqual([...byKey.keys()], ['step', 'exp_avg', 'exp_avg_sq']);
  dispose(byKey);
  const custom = loadStateDict(fixture('plain.pth'), { stripPrefix: 'bn.' });
  assert.deepEqual([...custom.keys()].slice(2, 4), ['weight', 'bias']);
  dispose(custom);
  assert.throws(() => loadStateDict(fixture('nested_model.pth'), { key: 'ema' }), /no key 'ema' \(of 'ema'\) in .*available keys: model, epoch, optimizer/);
  assert.throws(() => loadStateDict(fixture('nested_model.pth'), { key: 'epoch' }), /key 'epoch' .* holds a number, not a dict of tensors/);
  assert.equal(native.liveTensors(), before);
});

test('re-saved fixtures have the same storages as torch wrote (one per shared group, same keys and sizes)', () => {
  const out = mkdtempSync(join(tmpdir(), 'samtutor-resave-'));
  try {
    for (const name of expectFiles) {
      const exp = JSON.parse(readFileSync(resolve(FIXTURES, name), 'utf8')) as Expect;
      if (!exp.valid || exp.legacy || !exp.file.endsWith('.pth')) continue;
      const value = loadCheckpoint(fixture(exp.file));
      const path = join(out, exp.file);
      saveCheckpoint(path, value);
      dispose(value);
      const fd = openSync(path, 'r');
      const ours = ZipReader.fromFd(fd, path).entries.map((e) => ({ name: e.name, size: e.size }));
      closeSync(fd);
      const storages = (l: { name: string; size: number }[]) => l.filter((e) => /\/data\/\d+$/.test(e.name));
      assert.deepEqual(storages(ours), storages(exp.zip_entries!.map((e) => ({ name: e.name, size: e.size }))), `${exp.file}: storage entries`);
      assert.deepEqual(ours.map((e) => e.name.replace(/\/.*/, '')), ours.map(() => exp.file.replace(/\.pth$/, '')), 'stem folder');
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
