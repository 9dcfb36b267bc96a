// Interop with real PyTorch (/usr/bin/python3, torch 1.13): files samtutor writes are read back by torch.load
// (and by a tiny json+struct+torch.frombuffer safetensors reader), and files torch.save writes are read by
// samtutor. Both sides reduce what they loaded to the same canonical JSON "dump" (types, int vs float, dict vs
// OrderedDict, tuple vs list, tensor dtype/shape/stride/offset/values, which tensors share a storage), and the
// dumps must be equal. Skipped at run time, with the reason, only when python3 cannot import torch.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor, arange, dispose, tensor } from '../../src/engine/index.ts';
import {
  OrderedDict, PyDict, PyFloat, isPyObject, isTuple, loadCheckpoint, loadSafetensors, loadStateDict, pyFloatKeys, pyObject,
  saveCheckpoint, saveSafetensors, tuple, unpickle,
} from '../../src/engine/serialization/index.ts';
import { PYTHON } from '../helpers/torchRef.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = resolve(repoRoot, '../shared/fixtures/checkpoints');
const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
const noTorch = probe.status === 0 ? null : `${PYTHON} cannot import torch: ${(probe.stderr || String(probe.error)).trim().split('\n').at(-1)}`;
const dir = mkdtempSync(join(tmpdir(), 'samtutor-torch-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** Skips (returns true) when torch is unavailable, printing why. */
function skipped(t: TestContext): boolean {
  if (!noTorch) return false;
  console.log(`skipping: ${noTorch}`);
  t.skip(noTorch);
  return true;
}

const PY_SCRIPT = String.raw`
import sys, json, struct, collections, argparse, pickle, base64, zipfile, torch, numpy
def fl(x):
    return x if x == x and abs(x) != float('inf') else ('nan' if x != x else ('inf' if x > 0 else '-inf'))
class Dumper:
    def __init__(self): self.ptrs = []
    def sid(self, t):
        if t.numel() == 0: return None
        p = t.storage().data_ptr()
        if p not in self.ptrs: self.ptrs.append(p)
        return self.ptrs.index(p)
    def items(self, d): return [[self.dump(k), self.dump(x)] for k, x in d.items()]
    def dump(self, v):
        if isinstance(v, torch.Tensor):
            t = v.detach()
            vals = [fl(x) for x in t.double().flatten().tolist()] if t.is_floating_point() else [str(int(x)) for x in t.flatten().tolist()]
            return {'tensor': str(t.dtype)[6:], 'shape': list(t.shape), 'stride': list(t.stride()), 'offset': t.storage_offset(),
                    'requires_grad': v.requires_grad, 'storage': self.sid(t), 'values': vals}
        if v is None: return None
        if isinstance(v, numpy.generic): return {'object': 'numpy.core.multiarray.scalar'}
        if isinstance(v, torch.dtype): return {'object': 'torch.' + str(v)[6:]}
        if isinstance(v, bool): return {'bool': v}
        if isinstance(v, int): return {'int': str(v)}
        if isinstance(v, float): return {'float': fl(v)}
        if isinstance(v, str): return {'str': v}
        if isinstance(v, (bytes, bytearray)): return {'bytes': list(v)}
        if isinstance(v, collections.OrderedDict): return {'OrderedDict': self.items(v), 'attrs': self.dump(dict(vars(v))) if vars(v) else None}
        if isinstance(v, dict): return {'dict': self.items(v)}
        if isinstance(v, tuple): return {'tuple': [self.dump(x) for x in v]}
        if isinstance(v, list): return {'list': [self.dump(x) for x in v]}
        if isinstance(v, (set, frozenset)): return {'set': sorted((self.dump(x) for x in v), key=lambda d: json.dumps(d, separators=(',', ':')))}
        if isinstance(v, argparse.Namespace): return {'object': 'argparse.Namespace', 'state': self.dump(dict(vars(v)))}
        return {'object': type(v).__module__ + '.' + type(v).__qualname__}
def dump(v): return Dumper().dump(v)
DT = {'F64': torch.float64, 'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16, 'I64': torch.int64,
      'I32': torch.int32, 'I16': torch.int16, 'I8': torch.int8, 'U8': torch.uint8, 'BOOL': torch.bool}
def st_read(path):
    raw = open(path, 'rb').read()
    (n,) = struct.unpack('<Q', raw[:8])
    assert (8 + n) % 8 == 0, 'header not padded to 8 bytes'
    hdr = json.loads(raw[8:8 + n].decode('utf8'))
    meta = hdr.pop('__metadata__', {})
    data, out, cursor = raw[8 + n:], {}, 0
    for name, info in sorted(hdr.items(), key=lambda kv: kv[1]['data_offsets'][0]):
        b, e = info['data_offsets']
        assert b == cursor, 'gap or overlap before ' + name
        cursor = e
        dt = DT[info['dtype']]
        out[name] = torch.empty(info['shape'], dtype=dt) if e == b else torch.frombuffer(bytearray(data[b:e]), dtype=dt).reshape(info['shape'])
    assert cursor == len(data), 'trailing bytes'
    return {'metadata': meta, 'tensors': out}
def st_write(path, tensors, meta):
    hdr, blobs, off = {'__metadata__': meta}, [], 0
    for k, t in tensors.items():
        b = t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        hdr[k] = {'dtype': [c for c, d in DT.items() if d == t.dtype][0], 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b); off += len(b)
    h = json.dumps(hdr).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    open(path, 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
def model(seed):
    torch.manual_seed(seed)
    m = torch.nn.Sequential(collections.OrderedDict(conv=torch.nn.Conv2d(3, 4, 3), bn=torch.nn.BatchNorm2d(4), flat=torch.nn.Flatten(), fc=torch.nn.Linear(144, 5)))
    m(torch.randn(2, 3, 8, 8)).sum().backward()
    return m
def odd():
    return {'ns': argparse.Namespace(lr=0.1, name='vit_b'), 'np': numpy.float64(1.5), 'big': 2 ** 70, 'neg': -2 ** 40, 'f': 2.0,
            'inf': float('inf'), 3: 'int key', (1, 'a'): 'tuple key', 'bytes': b'\x00\x01\xff', 'ba': bytearray(b'xy'),
            'set': {1, 2}, 'fs': frozenset({4}), 'nested': [1, (2.5, None), {'a': True, 'b': []}], 'dtype': torch.float32,
            'param': torch.nn.Parameter(torch.ones(2)), 'unicode': 'héllo ✓', 'shared': [[7], [7]]}
cmd, args = sys.argv[1], sys.argv[2:]
if cmd == 'dump':
    print(json.dumps([dump(torch.load(f, map_location='cpu')) for f in args]))
elif cmd == 'st_read':
    print(json.dumps([dump(st_read(f)) for f in args]))
elif cmd == 'zipcheck':
    print(json.dumps([zipfile.ZipFile(f).testzip() for f in args]))
elif cmd == 'deflate':
    with zipfile.ZipFile(args[0]) as src, zipfile.ZipFile(args[1], 'w', zipfile.ZIP_DEFLATED) as dst:
        for i in src.infolist(): dst.writestr(i.filename, src.read(i.filename))
elif cmd == 'write':
    d, out = args[0], {}
    m = model(0)
    for p in (2, 4, 5):
        torch.save(m.state_dict(), f'{d}/sd_p{p}.pth', pickle_protocol=p); out[f'sd_p{p}'] = dump(m.state_dict())
        torch.save(odd(), f'{d}/odd_p{p}.pth', pickle_protocol=p); out[f'odd_p{p}'] = dump(odd())
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9); opt.step()
    ck = {'model': collections.OrderedDict(('module.' + k, v) for k, v in m.state_dict().items()), 'epoch': 7, 'optimizer': opt.state_dict()}
    torch.save(ck, f'{d}/ddp.pth'); out['ddp'] = dump(ck)
    plain = {'a': [1, 2.0, 'x', None, True, (1,), -5, 2 ** 40], 'b': {'k': 1.5}}
    out['pickles'] = [[base64.b64encode(pickle.dumps(plain, protocol=p)).decode(), dump(plain)] for p in range(6)]
    torch.manual_seed(1)
    st = collections.OrderedDict(w=torch.randn(3, 4), h=torch.randn(5).half(), b=torch.randn(2, 2).bfloat16(), i=torch.tensor([-2 ** 40, 5]),
                                 m=torch.tensor([True, False, True]), e=torch.empty(0, 3), s=torch.tensor(2.5), u=torch.arange(4, dtype=torch.uint8))
    st_write(f'{d}/py.safetensors', st, {'format': 'pt', 'source': 'python'}); out['st'] = dump({'metadata': {'format': 'pt', 'source': 'python'}, 'tensors': dict(st)})
    print(json.dumps(out))
`;
const scriptPath = join(dir, 'interop.py');
writeFileSync(scriptPath, PY_SCRIPT);

function py(...args: string[]): unknown {
  const r = spawnSync(PYTHON, [scriptPath, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`python ${args[0]} failed: ${r.stderr}`);
  return r.stdout.trim() ? JSON.parse(r.stdout) : null;
}

/** The JS side of the dump; `asWritten` dumps a Map of tensors as the OrderedDict saveCheckpoint writes. */
function dumper(asWritten = false) {
  const reps: Tensor[] = [];
  const fl = (x: number): number | string => (Number.isNaN(x) ? 'nan' : x === Infinity ? 'inf' : x === -Infinity ? '-inf' : x);
  const sid = (t: Tensor): number | null => {
    if (t.numel === 0) return null;
    let i = reps.findIndex((r) => r.sharesStorageWith(t));
    if (i < 0) i = reps.push(t) - 1;
    return i;
  };
  const items = (m: Map<unknown, unknown>) => [...m].map(([k, v]) => [dump(k), dump(v, m, k)]);
  function dump(v: unknown, parent?: object, key?: unknown): unknown {
    if (v instanceof Tensor) {
      const floating = ['float32', 'float64', 'float16', 'bfloat16'].includes(v.dtype);
      const values = floating
        ? Array.from(v.dtype === 'float64' ? (v.data() as Float64Array) : v.toFloat32Array(), fl)
        : Array.from(v.data() as Iterable<number | bigint>, (x) => String(x));
      return { tensor: v.dtype, shape: v.shape, stride: v.strides, offset: v.storageOffset, requires_grad: v.requiresGrad, storage: sid(v), values };
    }
    if (v === null || v === undefined) return null;
    if (typeof v === 'boolean') return { bool: v };
    if (typeof v === 'bigint') return { int: String(v) };
    if (typeof v === 'number') {
      const isFloat = !Number.isInteger(v) || Object.is(v, -0) || (parent !== undefined && pyFloatKeys.get(parent)?.has(key));
      return isFloat ? { float: fl(v) } : { int: String(v) };
    }
    if (typeof v === 'string') return { str: v };
    if (v instanceof PyFloat) return { float: fl(v.value) };
    if (v instanceof Uint8Array) return { bytes: Array.from(v) };
    if (v instanceof OrderedDict || (asWritten && v instanceof Map && !(v instanceof PyDict) && v.size > 0 && [...v.values()].every((x) => x instanceof Tensor))) {
      const attrs = v instanceof OrderedDict && v.attrs?.size ? dump(v.attrs) : null;
      return { OrderedDict: items(v as Map<unknown, unknown>), attrs };
    }
    if (v instanceof Map) return { dict: items(v) };
    if (Array.isArray(v)) return isTuple(v) ? { tuple: v.map((x, i) => dump(x, v, i)) } : { list: v.map((x, i) => dump(x, v, i)) };
    if (v instanceof Set) return { set: [...v].map((x) => dump(x)).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)) };
    if (isPyObject(v)) return v.__class__ === 'argparse.Namespace' ? { object: v.__class__, state: dump(v.state) } : { object: v.__class__ };
    if (typeof v === 'object') return { dict: Object.entries(v).map(([k, x]) => [dump(k), dump(x, v, k)]) };
    throw new Error(`cannot dump ${typeof v}`);
  }
  return (v: unknown) => dump(v);
}
const jsDump = (v: unknown, asWritten = false): unknown => dumper(asWritten)(v);

/** Every dtype, 0-dim and empty tensors, offset views, a transposed view, tied weights and a parameter. */
function dtypeZoo(): Map<string, unknown> {
  const base = arange(0, 20, 1, { dtype: 'float32' });
  const m = new Map<string, unknown>([
    ['float32', tensor([1.5, -2.25, 3e-8, 1e30], [2, 2])],
    ['float64', tensor(Float64Array.from([Math.PI, -1e-300, 0.1]))],
    ['float16', tensor(Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001]), [4], { dtype: 'float16' })],
    ['bfloat16', tensor(Uint16Array.from([0x3f80, 0xc0a0, 0x7f7f]), [3], { dtype: 'bfloat16' })],
    ['int64', tensor(BigInt64Array.from([-(2n ** 62n), 0n, 2n ** 40n + 1n, 9007199254740993n]))],
    ['int32', tensor(Int32Array.from([-70000, 5, 2 ** 31 - 1]))],
    ['int16', tensor(Int16Array.from([-32768, 1, 32767]))],
    ['int8', tensor(Int8Array.from([-128, -1, 0, 127]))],
    ['uint8', tensor(Uint8Array.from([0, 128, 255]))],
    ['bool', tensor(Uint8Array.from([1, 0, 1]), [3]).bool()],
    ['scalar', tensor(2.5, [])],
    ['empty', tensor(new Float32Array(0), [0, 3])],
    ['view_a', base.asStrided([2, 3], [3, 1], 2)],
    ['view_b', base.asStrided([5, 2], [2, 1], 10)],
    ['transposed', base.asStrided([4, 3], [1, 4], 0)],
  ]);
  base.dispose();
  const tied = tensor([1, 2, 3, 4], [2, 2]);
  m.set('encoder.weight', tied);
  m.set('decoder.weight', tied);
  m.set('param', tensor([0.5, 0.25], [2], { requiresGrad: true }));
  return m;
}

test('torch.load reads what saveCheckpoint writes: every dtype, views, shared storage (also ZIP64)', (t) => {
  if (skipped(t)) return;
  const zoo = dtypeZoo();
  const a = join(dir, 'zoo.pth');
  const b = join(dir, 'zoo64.pth');
  saveCheckpoint(a, zoo);
  saveCheckpoint(b, zoo, { forceZip64: true });
  const expected = jsDump(zoo, true);
  assert.deepEqual(py('dump', a, b), [expected, expected]);
  assert.deepEqual(py('zipcheck', a, b), [null, null], 'python zipfile verifies every CRC');
  for (const p of [a, b]) {
    const back = loadCheckpoint(p);
    assert.deepEqual(jsDump(back), expected, `${p} reads back in samtutor`);
    dispose(back);
  }
  dispose(zoo);
});

test('torch.load reads a nested checkpoint with Python values saveCheckpoint writes', (t) => {
  if (skipped(t)) return;
  const w = tensor([1, 2, 3]);
  const value = {
    model: new Map([['fc.weight', w], ['fc.bias', tensor([0.5])]]),
    epoch: 3, lr: new PyFloat(1), betas: tuple([0.9, 0.999]), history: [1.5, 2, -0], name: 'sam', flag: true, none: null,
    big: 2n ** 70n, state: new Map<unknown, unknown>([[0, { step: tensor(2, []), buf: w }], [1, 'x']]),
    args: pyObject('argparse.Namespace', [], new Map<string, unknown>([['lr', 0.1], ['arch', 'vit_b']]), 'newobj'),
    bytes: Uint8Array.from([0, 1, 255]), set: new Set([1, 2]), dtype: pyObject('torch.float32'), deep: [[[[new Map([['k', [1]]])]]]],
  };
  const p = join(dir, 'nested.pth');
  saveCheckpoint(p, value);
  const [fromTorch] = py('dump', p) as unknown[];
  assert.deepEqual(fromTorch, jsDump(value, true));
  dispose(value);
});

test('fixtures re-saved by samtutor load in torch identically to the originals', (t) => {
  if (skipped(t)) return;
  const names = ['plain.pth', 'dtypes.pth', 'nested_model.pth', 'nested_state_dict_module_prefix.pth', 'views_shared_storage.pth'];
  const copies = names.map((n) => {
    const v = loadCheckpoint(resolve(FIXTURES, n));
    const out = join(dir, `copy_${n}`);
    saveCheckpoint(out, v);
    dispose(v);
    return out;
  });
  const originals = py('dump', ...names.map((n) => resolve(FIXTURES, n))) as unknown[];
  const resaved = py('dump', ...copies) as unknown[];
  names.forEach((n, i) => assert.deepEqual(resaved[i], originals[i], `${n}: types, _metadata, int keys, floats, sharing`));
});

test('samtutor reads what torch.save writes (protocols 2, 4, 5; Python objects; DataParallel checkpoints)', (t) => {
  if (skipped(t)) return;
  const expected = py('write', dir) as Record<string, unknown>;
  for (const p of [2, 4, 5]) {
    for (const kind of ['sd', 'odd']) {
      const v = loadCheckpoint(join(dir, `${kind}_p${p}.pth`));
      assert.deepEqual(jsDump(v), expected[`${kind}_p${p}`], `${kind} protocol ${p}`);
      if (kind === 'odd') {
        const m = v as Map<unknown, unknown>;
        assert.equal((m.get('param') as Tensor).requiresGrad, true);
        assert.equal(m.get('big'), 2n ** 70n);
        assert.ok(pyFloatKeys.get(m)?.has('f') && m.get('f') === 2, 'f = 2.0 stays a float');
        assert.ok(isPyObject(m.get('np')) && (m.get('np') as { args: unknown[] }).args[1] instanceof Uint8Array);
      }
      dispose(v);
    }
  }
  const ddp = loadCheckpoint(join(dir, 'ddp.pth'));
  assert.deepEqual(jsDump(ddp), expected.ddp);
  const sd = loadStateDict(join(dir, 'ddp.pth'));
  const model = (ddp as Map<string, Map<string, Tensor>>).get('model')!;
  assert.deepEqual([...sd.keys()], [...model.keys()].map((k) => k.slice('module.'.length)));
  assert.deepEqual(jsDump(sd.get('bn.running_var')), jsDump(model.get('module.bn.running_var')));
  assert.equal(sd.get('bn.num_batches_tracked')!.item(), 1);
  dispose([ddp, sd]);
  for (const [b64, dump] of expected.pickles as [string, unknown][]) {
    assert.deepEqual(jsDump(unpickle(Buffer.from(b64, 'base64'))), dump, 'plain pickles of protocols 0-5');
  }
  const st = loadSafetensors(join(dir, 'py.safetensors'));
  assert.deepEqual(jsDump(new Map<string, unknown>([['metadata', new Map(Object.entries(st.metadata))], ['tensors', st.tensors]])), expected.st);
  dispose(st.tensors);
});

test('deflated archives are read too', (t) => {
  if (skipped(t)) return;
  const out = join(dir, 'deflated.pth');
  py('deflate', resolve(FIXTURES, 'plain.pth'), out);
  const [orig] = py('dump', resolve(FIXTURES, 'plain.pth')) as unknown[];
  const v = loadCheckpoint(out);
  assert.deepEqual(jsDump(v), orig);
  dispose(v);
});

test('a tiny Python safetensors reader parses what saveSafetensors writes; ours matches it on the fixture', (t) => {
  if (skipped(t)) return;
  const zoo = dtypeZoo();
  const tensors = new Map<string, Tensor>();
  for (const [k, v] of zoo) if (k !== 'param' && k !== 'decoder.weight') tensors.set(k, (v as Tensor).clone('contiguous')); // safetensors has no views
  const p = join(dir, 'zoo.safetensors');
  saveSafetensors(p, tensors, { format: 'pt', note: 'ünïcode' });
  const fixture = resolve(FIXTURES, 'plain.safetensors');
  const [ours, fix] = py('st_read', p, fixture) as unknown[];
  const mine = loadSafetensors(p);
  const shape = (m: Map<string, Tensor>, md: Record<string, string>) => new Map<string, unknown>([['metadata', new Map(Object.entries(md))], ['tensors', m]]);
  assert.deepEqual(ours, jsDump(shape(tensors, { format: 'pt', note: 'ünïcode' })));
  assert.deepEqual(jsDump(shape(mine.tensors, mine.metadata)), ours);
  const f = loadSafetensors(fixture);
  assert.deepEqual(jsDump(shape(f.tensors, f.metadata)), fix);
  dispose([zoo, tensors, mine.tensors, f.tensors]);
});
