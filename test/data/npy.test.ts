// .npy / .npz: round trips for every supported dtype and odd shapes (0-d, empty), interop with NumPy in both
// directions (files np.save writes are read exactly; files we write are read by np.load exactly, dtype included),
// Fortran order, header versions 2.0/3.0, compressed npz, and the errors for damaged or unsupported files.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { type DType, type Tensor, arange, memory, tensor, tidy } from '../../src/engine/index.ts';
import { encodeNpy, npyHeader, parseNpyHeader, readNpy, readNpz, writeNpy } from '../../src/data/npy.ts';
import { DataError } from '../../src/data/errors.ts';
import { tempDir, hasPythonNumpy, PYTHON, REPO } from './helpers.ts';

const { dir, cleanup } = tempDir('samtutor-npy-');
after(cleanup);
const py = hasPythonNumpy();
const NO_NUMPY = `${PYTHON} cannot import numpy`;

const bytesOf = (t: Tensor): Buffer => {
  const d = t.data();
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
};

/** A tensor of dtype and shape with varied values (specials for floats, extremes for ints). */
function sample(dtype: DType, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tidy(() => {
    if (dtype === 'int64') {
      const v = BigInt64Array.from({ length: n }, (_, i) => (i % 3 === 0 ? -(2n ** 62n) + BigInt(i) : BigInt(i * 7919 - 40)));
      return tensor(v, shape);
    }
    const specials = [Number.NaN, Infinity, -Infinity, -0, 1e-7, 65504, -3.25];
    const base = Float64Array.from({ length: n }, (_, i) => (dtype.startsWith('float') && i < specials.length ? specials[i]! : (i * 37.5) % 251 - 100));
    if (dtype === 'bool') return tensor(base, shape, { dtype: 'float64' }).gt(0);
    const src = tensor(base, shape, { dtype: 'float64' });
    return dtype.startsWith('float') ? src.to(dtype) : src.round().to(dtype);
  });
}

const DTYPES: DType[] = ['float32', 'float64', 'float16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'];
const SHAPES: number[][] = [[], [0], [2, 0, 3], [7], [2, 3, 4], [1, 1, 1, 1, 5]];

test('round trip: every dtype and shape (0-d, empty, 1-d, n-d) keeps dtype, shape and bytes', () => {
  const live = memory().liveTensors;
  for (const dtype of DTYPES) {
    for (const shape of SHAPES) {
      const t = sample(dtype, shape);
      const path = join(dir, `rt_${dtype}_${shape.join('x') || 'scalar'}.npy`);
      writeNpy(path, t);
      for (const back of [readNpy(path), readNpy(readFileSync(path))]) {
        assert.equal(back.dtype, dtype, `${dtype} [${shape}]`);
        assert.deepEqual(back.shape, shape, `${dtype} [${shape}]`);
        assert.ok(bytesOf(back).equals(bytesOf(t)), `${dtype} [${shape}] bytes`);
        back.dispose();
      }
      t.dispose();
    }
  }
  assert.equal(memory().liveTensors, live, 'no tensors leak');
});

test('headers: 64-byte aligned data, version 1.0, numpy-style dict; version 2.0 only for huge headers', () => {
  for (const shape of [[], [3], [1, 256, 64, 64]]) {
    const h = npyHeader('<f4', shape);
    assert.equal(h.length % 64, 0);
    assert.equal(h[6], 1);
    const parsed = parseNpyHeader(h);
    assert.deepEqual(parsed.shape, shape);
    assert.equal(parsed.dataOffset, h.length);
    assert.equal(parsed.fortranOrder, false);
  }
  // byte-identical to np.save's header for the fixture embedding
  const fixture = readFileSync(join(REPO, '..', 'shared', 'fixtures', 'mobile-sam', 'truck_embedding.npy'));
  assert.ok(npyHeader('<f4', [1, 256, 64, 64]).equals(fixture.subarray(0, 128)));
  const huge = npyHeader('<f4', Array<number>(30000).fill(1));
  assert.equal(huge[6], 2);
  assert.equal(huge.length % 64, 0);
  assert.equal(parseNpyHeader(huge).shape.length, 30000);
});

test('a non-contiguous tensor is written in C order of its logical values', () => {
  const t = arange(0, 12, 1, { dtype: 'float32' }).reshape(3, 4);
  const tt = t.t();
  const back = readNpy(encodeNpy(tt));
  assert.deepEqual(back.shape, [4, 3]);
  assert.deepEqual(back.toArray(), [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
  for (const x of [t, tt, back]) x.dispose();
});

test('the fixture files: embedding (float32, 1x256x64x64) and amg_masks.npz (deflated) read as NumPy does', () => {
  const fx = join(REPO, '..', 'shared', 'fixtures', 'mobile-sam');
  const e = readNpy(join(fx, 'truck_embedding.npy'));
  assert.deepEqual(e.shape, [1, 256, 64, 64]);
  assert.equal(e.dtype, 'float32');
  // manifest.json: images[truck].embedding.at
  const flat = e.data() as Float32Array;
  assert.equal(flat[0], Math.fround(-1.0400283336639404));
  assert.equal(flat[255 * 4096 + 63 * 64 + 63], Math.fround(0.16414958238601685));
  const z = readNpz(join(fx, 'amg_masks.npz'));
  assert.deepEqual([...z.keys()], ['masks']);
  const m = z.get('masks')!;
  assert.deepEqual(m.shape, [1, 200, 300]);
  assert.equal(m.dtype, 'uint8');
  assert.equal(tidy(() => m.sum().item()), 37539);
  for (const t of [e, m]) t.dispose();
});

// ---- NumPy → samtutor ----

const PY_WRITE = String.raw`
import sys, os, json, numpy as np
from numpy.lib import format as fmt
d = sys.argv[1]
cases = {}
def save(name, a, version=None):
    a = np.asanyarray(a)
    with open(os.path.join(d, name + '.npy'), 'wb') as f:
        if version is None: np.save(f, a)
        else: fmt.write_array(f, a, version=version)
    # the logical values, C order, little-endian
    with open(os.path.join(d, name + '.bin'), 'wb') as f: f.write(np.ascontiguousarray(a).astype(a.dtype.newbyteorder('<')).tobytes())
    cases[name] = {'shape': list(a.shape), 'dtype': a.dtype.str}
rng = np.random.default_rng(0)
save('f4', rng.standard_normal((3, 5)).astype('<f4'))
save('f8', np.array([np.nan, np.inf, -np.inf, -0.0, 1e-300, 1.5]))
save('f2', rng.standard_normal((4, 2)).astype('<f2'))
save('i8', np.array([-(2**63), 2**63 - 1, 2**53 + 1, 0, -5], dtype='<i8'))
save('i4', np.arange(-6, 6, dtype='<i4').reshape(2, 3, 2))
save('i2', np.array([-32768, 32767, 1], dtype='<i2'))
save('i1', np.array([-128, 127, 0], dtype='i1'))
save('u1', np.arange(256, dtype='u1').reshape(16, 16))
save('b1', np.array([[True, False, True], [False, False, True]]))
save('scalar', np.float32(3.5))
save('empty', np.zeros((0, 4), dtype='<f4'))
save('empty3', np.zeros((2, 0, 3), dtype='<i8'))
save('fortran2', np.asfortranarray(rng.standard_normal((3, 4)).astype('<f4')))
save('fortran3', np.asfortranarray(np.arange(24, dtype='<i4').reshape(2, 3, 4)))
save('fortran_bool', np.asfortranarray(np.array([[True, False, True], [False, True, True]])))
save('v2', rng.standard_normal((2, 3)).astype('<f4'), version=(2, 0))
save('v3', np.arange(5, dtype='u1'), version=(3, 0))
np.save(os.path.join(d, 'big_endian.npy'), np.arange(3, dtype='>f4'))
np.save(os.path.join(d, 'big_endian_u1.npy'), np.arange(3, dtype='>u1'))
np.save(os.path.join(d, 'uint16.npy'), np.arange(3, dtype='<u2'))
np.save(os.path.join(d, 'complex.npy'), np.zeros(2, dtype='<c8'))
np.save(os.path.join(d, 'structured.npy'), np.zeros(2, dtype=[('a', '<f4'), ('b', '<i4')]))
np.savez(os.path.join(d, 'stored.npz'), first=np.arange(6, dtype='<f4').reshape(2, 3), second=np.array([True, False]))
np.savez_compressed(os.path.join(d, 'deflated.npz'), x=np.arange(1000, dtype='<i8') % 7, y=np.float64(2.5))
json.dump(cases, open(os.path.join(d, 'cases.json'), 'w'))
`;

test('files written by numpy (np.save, format versions 2.0/3.0, Fortran order) read exactly', (t) => {
  if (!py) return t.skip(NO_NUMPY);
  const d = join(dir, 'from_numpy');
  const r = spawnSync(PYTHON, ['-c', `import os; os.makedirs(${JSON.stringify(d)}, exist_ok=True)\n${PY_WRITE}`, d], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const cases = JSON.parse(readFileSync(join(d, 'cases.json'), 'utf8')) as Record<string, { shape: number[]; dtype: string }>;
  const expectDtype: Record<string, DType> = {
    '<f4': 'float32', '<f8': 'float64', '<f2': 'float16', '<i8': 'int64', '<i4': 'int32', '<i2': 'int16', '|i1': 'int8', '|u1': 'uint8', '|b1': 'bool',
  };
  assert.ok(Object.keys(cases).length >= 17);
  for (const [name, c] of Object.entries(cases)) {
    const a = readNpy(join(d, `${name}.npy`));
    assert.equal(a.dtype, expectDtype[c.dtype], name);
    assert.deepEqual(a.shape, c.shape, name);
    assert.ok(bytesOf(a).equals(readFileSync(join(d, `${name}.bin`))), `${name}: values differ`);
    a.dispose();
  }
  assert.deepEqual(parseNpyHeader(readFileSync(join(d, 'v2.npy'))).version, [2, 0]);
  assert.deepEqual(parseNpyHeader(readFileSync(join(d, 'v3.npy'))).version, [3, 0]);
  assert.equal(parseNpyHeader(readFileSync(join(d, 'fortran3.npy'))).fortranOrder, true);
  // single-byte types carry no byte order: '>u1' is fine
  const u = readNpy(join(d, 'big_endian_u1.npy'));
  assert.deepEqual(u.toArray(), [0, 1, 2]);
  u.dispose();

  assert.throws(() => readNpy(join(d, 'big_endian.npy')), (e: unknown) => e instanceof DataError && e.code === 'UNSUPPORTED' && /big-endian/.test(e.message));
  assert.throws(() => readNpy(join(d, 'uint16.npy')), /numpy dtype '<u2' is not supported/);
  assert.throws(() => readNpy(join(d, 'complex.npy')), /numpy dtype '<c8' is not supported/);
  assert.throws(() => readNpy(join(d, 'structured.npy')), /structured \(record\) arrays are not supported/);

  const stored = readNpz(join(d, 'stored.npz'));
  assert.deepEqual([...stored.keys()], ['first', 'second']);
  assert.deepEqual(stored.get('first')!.toArray(), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(stored.get('first')!.shape, [2, 3]);
  assert.equal(stored.get('second')!.dtype, 'bool');
  const deflated = readNpz(join(d, 'deflated.npz'));
  assert.deepEqual(deflated.get('x')!.toArray(), Array.from({ length: 1000 }, (_, i) => i % 7));
  assert.equal(deflated.get('x')!.dtype, 'int64');
  assert.deepEqual(deflated.get('y')!.shape, []);
  assert.equal(deflated.get('y')!.item(), 2.5);
  for (const m of [stored, deflated]) for (const v of m.values()) v.dispose();
});

// ---- samtutor → NumPy ----

test('files we write are read by np.load with the same dtype, shape and values', (t) => {
  if (!py) return t.skip(NO_NUMPY);
  const d = join(dir, 'to_numpy');
  const names: string[] = [];
  for (const dtype of DTYPES) {
    for (const shape of [[], [0, 2], [3, 1, 4]]) {
      const name = `${dtype}_${shape.join('x') || 'scalar'}`;
      const x = sample(dtype, shape);
      writeNpy(join(d, `${name}.npy`), x);
      writeFileSync(join(d, `${name}.bin`), bytesOf(x));
      x.dispose();
      names.push(name);
    }
  }
  const script = String.raw`
import sys, os, json, numpy as np
from numpy.lib import format as fmt
d = sys.argv[1]
out = {}
for name in sys.argv[2:]:
    p = os.path.join(d, name + '.npy')
    a = np.load(p, allow_pickle=False)
    with open(p, 'rb') as f:
        version = fmt.read_magic(f)
        shape, fortran, dtype = fmt._read_array_header(f, version)
        offset = f.tell()
    raw = open(os.path.join(d, name + '.bin'), 'rb').read()
    out[name] = {'dtype': a.dtype.str, 'shape': list(a.shape), 'same': a.tobytes() == raw, 'version': list(version),
                 'fortran': fortran, 'aligned': offset % 64 == 0}
print(json.dumps(out))
`;
  const r = spawnSync(PYTHON, ['-c', script, d, ...names], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as Record<string, { dtype: string; shape: number[]; same: boolean; version: number[]; fortran: boolean; aligned: boolean }>;
  const descr: Record<string, string> = {
    float32: '<f4', float64: '<f8', float16: '<f2', int64: '<i8', int32: '<i4', int16: '<i2', int8: '|i1', uint8: '|u1', bool: '|b1',
  };
  for (const name of names) {
    const g = got[name]!;
    const dtype = name.slice(0, name.indexOf('_'));
    assert.equal(g.dtype, descr[dtype], name);
    const shape = name.slice(name.indexOf('_') + 1);
    assert.deepEqual(g.shape, shape === 'scalar' ? [] : shape.split('x').map(Number), name);
    assert.ok(g.same, `${name}: numpy reads other values`);
    assert.deepEqual(g.version, [1, 0]);
    assert.equal(g.fortran, false);
    assert.ok(g.aligned, `${name}: data not 64-byte aligned`);
  }
});

// ---- errors ----

test('errors: not npy, truncated header or data, bad version or header, missing file, bfloat16', () => {
  const good = encodeNpy(tidy(() => arange(0, 6, 1, { dtype: 'float32' }).reshape(2, 3)));
  const isData = (code: string, re: RegExp) => (e: unknown): boolean => e instanceof DataError && e.code === code && re.test(e.message);

  assert.throws(() => readNpy(Buffer.from('\x89PNG\r\n\x1a\n....')), isData('UNREADABLE', /not a NumPy \.npy file/));
  assert.throws(() => readNpy(Buffer.alloc(0)), isData('UNREADABLE', /not a NumPy \.npy file/));
  assert.throws(() => readNpy(good.subarray(0, 9)), isData('UNREADABLE', /truncated \.npy file/));
  assert.throws(() => readNpy(good.subarray(0, 40)), isData('UNREADABLE', /truncated \.npy file \(the header says 118 bytes/));
  assert.throws(() => readNpy(good.subarray(0, good.length - 1)), isData('UNREADABLE', /truncated \.npy file \(shape \[2, 3\] of <f4 needs 24 data bytes but only 23/));

  const v9 = Buffer.from(good);
  v9[6] = 9;
  assert.throws(() => readNpy(v9), isData('UNSUPPORTED', /format version 9\.0 is not supported/));

  const withHeader = (dict: string): Buffer => {
    const body = `${dict}\n`;
    const h = Buffer.alloc(10 + body.length);
    h.write('\x93NUMPY', 0, 'latin1');
    h[6] = 1;
    h.writeUInt16LE(body.length, 8);
    h.write(body, 10, 'latin1');
    return h;
  };
  assert.throws(() => readNpy(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2,")), isData('UNREADABLE', /not a valid dict literal/));
  assert.throws(() => readNpy(withHeader("{'descr': '<f4', 'shape': (2,), }")), isData('UNREADABLE', /must be a dict with 'descr', 'fortran_order' and 'shape'/));
  assert.throws(() => readNpy(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }")), isData('UNREADABLE', /shape is not a tuple of non-negative integers/));
  assert.throws(() => readNpy(withHeader("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }")), isData('UNREADABLE', /fortran_order is not True or False/));
  // a hand-made Fortran-order header: the data is read as the transpose laid out row-major
  const f = readNpy(Buffer.concat([withHeader("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }"), Buffer.from(new Int32Array([0, 3, 1, 4, 2, 5]).buffer)]));
  assert.deepEqual(f.shape, [2, 3]);
  assert.deepEqual(f.toArray(), [0, 1, 2, 3, 4, 5]);
  f.dispose();

  assert.throws(() => readNpy(join(dir, 'missing.npy')), isData('NOT_FOUND', /npy file not found/));
  assert.throws(() => readNpy(dir), isData('UNREADABLE', /is a directory/));
  assert.throws(() => readNpz(join(dir, 'missing.npz')), isData('NOT_FOUND', /npz file not found/));
  const notZip = join(dir, 'not_a_zip.npz');
  writeFileSync(notZip, 'hello');
  assert.throws(() => readNpz(notZip), isData('UNREADABLE', /cannot read npz file .*end-of-central-directory/));

  const bf = tensor([1, 2], [2], { dtype: 'bfloat16' });
  assert.throws(() => writeNpy(join(dir, 'bf16.npy'), bf), isData('UNSUPPORTED', /NumPy has no bfloat16 type/));
  bf.dispose();
});
