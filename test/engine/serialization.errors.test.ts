// Error paths and format details of the checkpoint layer that need no Python: clear one-line errors for missing,
// foreign, damaged and malformed files; pickle round trips of every value kind; atomic writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor, arange, dispose, native, tensor } from '../../src/engine/index.ts';
import {
  OrderedDict, PyDict, PyFloat, ZipWriter, isPyObject, isTuple, loadCheckpoint, loadSafetensors, loadStateDict, pickle,
  pyFloatKeys, pyObject, saveCheckpoint, saveSafetensors, tuple, unpickle, writeFileAtomic,
} from '../../src/engine/serialization/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'samtutor-ser-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const tmp = (name: string): string => join(dir, `${n++}-${name}`);

/** A zip written with our writer: entries by name. */
function writeZip(path: string, entries: Record<string, Uint8Array | string>): string {
  const fd = openSync(path, 'w');
  const zip = new ZipWriter(fd);
  for (const [k, v] of Object.entries(entries)) zip.add(k, typeof v === 'string' ? Buffer.from(v) : v);
  zip.finish();
  closeSync(fd);
  return path;
}
const oneLine = (re: RegExp) => (err: unknown): boolean => {
  assert.ok(err instanceof Error, String(err));
  assert.match(err.message, re);
  assert.ok(!err.message.includes('\n'), `one-line message: ${err.message}`);
  return true;
};

test('missing files, directories and empty files get clear errors', () => {
  const missing = join(dir, 'no', 'such.pth');
  assert.throws(() => loadCheckpoint(missing), oneLine(/^checkpoint not found: .*no\/such\.pth \(no such file\)$/));
  assert.throws(() => loadStateDict(missing), oneLine(/^checkpoint not found/));
  assert.throws(() => loadSafetensors(missing), oneLine(/^safetensors file not found/));
  const d = tmp('dir.pth');
  mkdirSync(d);
  assert.throws(() => loadCheckpoint(d), oneLine(/^checkpoint path is a directory, not a file/));
  const empty = tmp('empty.pth');
  writeFileSync(empty, '');
  assert.throws(() => loadCheckpoint(empty), oneLine(/^not a PyTorch checkpoint: the file is empty/));
});

test('foreign files are named by what they look like', () => {
  const cases: [Uint8Array | string, RegExp][] = [
    [Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), /the gzip signature 1F 8B, neither a zip local-file header \(50 4B 03 04\)/],
    [Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]), /the JPEG signature FF D8 FF/],
    ['version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 2564550879\n', /a Git LFS pointer, not the checkpoint itself \(run git lfs pull\)/],
    ['hello world, this is text', /the file starts with bytes 68 65 6C 6C 6F 20 77 6F, neither/],
    [pickle(new Map([['a', 1]])), /a bare Python pickle \(protocol 2\), not a torch\.save zip archive/],
  ];
  for (const [bytes, re] of cases) {
    const p = tmp('foreign.pth');
    writeFileSync(p, bytes);
    assert.throws(() => loadCheckpoint(p), oneLine(re));
  }
  const st = tmp('weights.safetensors');
  saveSafetensors(st, new Map([['w', tensor([1, 2])]]));
  assert.throws(() => loadCheckpoint(st), oneLine(/is a safetensors file; use loadSafetensors or loadStateDict/));
});

test('malformed archives: no data.pkl, bad opcodes, truncated pickles, missing storages', () => {
  assert.throws(() => loadCheckpoint(writeZip(tmp('x.pth'), { 'x/readme.txt': 'hi' })),
    oneLine(/^not a torch\.save checkpoint: the zip archive has no <folder>\/data\.pkl entry \(entries: x\/readme\.txt\)/));
  const ext1 = writeZip(tmp('ext.pth'), { 'e/data.pkl': Uint8Array.from([0x80, 2, 0x82, 1, 0x2e]), 'e/version': '3\n' });
  assert.throws(() => loadCheckpoint(ext1), oneLine(/^unsupported pickle opcode EXT1 \(0x82\) at byte 3 of e\/data\.pkl in /));
  const unknown = writeZip(tmp('unk.pth'), { 'u/data.pkl': Uint8Array.from([0x80, 2, 0xfe, 0x2e]) });
  assert.throws(() => loadCheckpoint(unknown), oneLine(/^unknown pickle opcode 0xfe \(not a pickle, or corrupt data\) at byte 3/));
  const cut = pickle(new Map([['a', 'some text']]));
  const trunc = writeZip(tmp('cut.pth'), { 't/data.pkl': cut.subarray(0, cut.length - 6) });
  assert.throws(() => loadCheckpoint(trunc), oneLine(/^pickle data is truncated \(opcode BINUNICODE needs \d+ more bytes\)/));
  // A valid checkpoint whose storage entry was dropped.
  const good = tmp('good.pth');
  saveCheckpoint(good, new Map([['w', tensor([1, 2, 3])]]), { archiveName: 'g' });
  const pkl = readZipEntry(good, 'g/data.pkl');
  const noStorage = writeZip(tmp('nostore.pth'), { 'g/data.pkl': pkl, 'g/version': '3\n' });
  const before = native.liveTensors();
  assert.throws(() => loadCheckpoint(noStorage), oneLine(/^storage g\/data\/0 is missing from the archive/));
  assert.equal(native.liveTensors(), before);
});

/** An entry's bytes via our own reader (python-free), for building damaged archives. */
function readZipEntry(path: string, name: string): Uint8Array {
  const raw = readFileSync(path);
  const at = raw.indexOf(Buffer.from(name));
  const extra = raw.readUInt16LE(at - 2);
  const start = at + name.length + extra;
  const size = raw.readUInt32LE(at - 12);
  return raw.subarray(start, start + size);
}

test('a damaged storage fails its CRC check, names the entry, and leaks nothing; verifyCrc:false skips it', () => {
  const p = tmp('crc.pth');
  const a = arange(0, 64, 1, { dtype: 'float32' });
  saveCheckpoint(p, new Map([['a', a], ['b', tensor([5, 6])]]), { archiveName: 'crc' });
  const bytes = readFileSync(p);
  const data1 = bytes.indexOf(Buffer.from('crc/data/1')) + 'crc/data/1'.length;
  bytes[data1 + bytes.readUInt16LE(data1 - 'crc/data/1'.length - 2)] ^= 0x40; // first byte of storage 1 (b)
  writeFileSync(p, bytes);
  const before = native.liveTensors();
  assert.throws(() => loadCheckpoint(p), oneLine(/^CRC-32 mismatch in zip entry crc\/data\/1 \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\)/));
  assert.equal(native.liveTensors(), before, 'tensor a, already rebuilt, is disposed on failure');
  const sd = loadCheckpoint(p, { verifyCrc: false }) as Map<string, Tensor>;
  assert.notEqual(sd.get('b')!.toArray()[0], 5);
  assert.deepEqual(sd.get('a')!.toArray(), a.toArray());
  dispose(sd);
  a.dispose();
});

test('safetensors headers are validated', () => {
  const header = (json: string, data = 0): Buffer => {
    const h = Buffer.from(json);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    return Buffer.concat([len, h, Buffer.alloc(data)]);
  };
  const cases: [Buffer, RegExp][] = [
    [Buffer.from([1, 2, 3]), /it has 3 bytes, fewer than the 8-byte header length/],
    [Buffer.concat([Buffer.from([0xff, 0xff, 0, 0, 0, 0, 0, 0]), Buffer.from('{}')]), /the header length says 65535 bytes but only 2 follow it/],
    [Buffer.concat([Buffer.from([0, 0, 0, 0, 1, 0, 0, 0]), Buffer.from('{}')]), /the header length 4294967296 exceeds the 100000000-byte limit/],
    [header('{"a": '), /the header is not valid JSON/],
    [header('{"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}', 2), /tensor a has unsupported dtype "F8_E4M3" \(supported: F64, F32/],
    [header('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 4), /tensor a's data_offsets \[0, 8\] lie outside the 4-byte data section/],
    [header('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', 8), /tensor a's data_offsets span 8 bytes but dtype F32 and shape \[3\] need 12/],
    [header('{"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}', 4), /the data section has a gap of 2 bytes before tensor a/],
    [header('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}', 5), /the data section has 3 bytes after the last tensor/],
    [header('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}', 3), /tensor b overlaps the previous tensor/],
    [header('{"__metadata__":{"epoch":3}}'), /__metadata__\.epoch is a number, but metadata values must be strings/],
    [header('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}'), /tensor a has an invalid shape \[-1\]/],
  ];
  for (const [bytes, re] of cases) {
    const p = tmp('bad.safetensors');
    writeFileSync(p, bytes);
    assert.throws(() => loadSafetensors(p), oneLine(new RegExp(`^invalid safetensors file: ${re.source}`)));
  }
});

test('pickle round trip of every value kind, with Python int/float distinctions', () => {
  const ints = [0, 1, 255, 256, 65535, 65536, -1, -256, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER];
  const bigs = [2n ** 53n, 2n ** 63n, -(2n ** 63n), 2n ** 64n, -(2n ** 200n)];
  const od = new OrderedDict<string, unknown>([['x', 1]]);
  od.attrs = new PyDict([['_metadata', new PyDict([['', new PyDict([['version', 1]])]])]]);
  const shared = [1, 2];
  const value = new Map<unknown, unknown>([
    ['ints', ints], ['bigs', bigs], ['floats', [0.5, -1e-300, new PyFloat(2), -0, Infinity, -Infinity]],
    ['str', 'héllo ✓ \n "quoted"'], [7, 'int key'], [tuple([1, 'a']), 'tuple key'], ['tuple', tuple([tuple([]), tuple([1, 2, 3, 4])])],
    ['bytes', Uint8Array.from([0, 127, 128, 255])], ['empty bytes', new Uint8Array(0)], ['set', new Set([3, 1])],
    ['od', od], ['obj', { a: null, b: true, c: false, d: undefined }], ['shared', [shared, shared]],
    ['ns', pyObject('argparse.Namespace', [], new Map([['lr', 0.1]]), 'newobj')], ['global', pyObject('torch.float32')],
    ['long list', Array.from({ length: 2500 }, (_, i) => i)],
  ]);
  const back = unpickle(pickle(value)) as Map<unknown, unknown>;
  assert.deepEqual(back.get('ints'), ints);
  assert.deepEqual(back.get('bigs'), bigs);
  const floats = back.get('floats') as number[];
  assert.deepEqual(floats, [0.5, -1e-300, 2, -0, Infinity, -Infinity]);
  assert.ok(pyFloatKeys.get(floats)?.has(2) && pyFloatKeys.get(floats)?.has(3), 'integral floats are remembered');
  assert.ok(!pyFloatKeys.get(back.get('ints') as object), 'ints are not floats');
  assert.equal(back.get('str'), 'héllo ✓ \n "quoted"');
  assert.equal(back.get(7), 'int key');
  const tupleKey = [...back.keys()].find((k) => isTuple(k));
  assert.deepEqual(tupleKey, [1, 'a']);
  assert.ok(isTuple(back.get('tuple')) && isTuple((back.get('tuple') as unknown[])[1]));
  assert.deepEqual(back.get('bytes'), Uint8Array.from([0, 127, 128, 255]));
  assert.deepEqual(back.get('empty bytes'), new Uint8Array(0));
  assert.deepEqual(back.get('set'), new Set([3, 1]));
  const od2 = back.get('od') as OrderedDict;
  assert.ok(od2 instanceof OrderedDict);
  assert.deepEqual(od2.attrs, od.attrs);
  assert.deepEqual(back.get('obj'), new PyDict<string, unknown>([['a', null], ['b', true], ['c', false], ['d', null]]));
  const sh = back.get('shared') as unknown[][];
  assert.equal(sh[0], sh[1], 'shared references stay shared (memo)');
  const ns = back.get('ns');
  assert.ok(isPyObject(ns) && ns.__class__ === 'argparse.Namespace');
  assert.deepEqual(ns.state, new PyDict([['lr', 0.1]]));
  assert.equal((back.get('global') as { __class__: string }).__class__, 'torch.float32');
  assert.equal((back.get('long list') as number[]).length, 2500);
  // Re-pickling what was read gives the same bytes (floats stay floats, OrderedDict stays OrderedDict).
  assert.deepEqual(pickle(back), pickle(value));
  assert.throws(() => pickle(new Map([['f', () => 1]])), /cannot pickle a function at f/);
  assert.throws(() => pickle({ a: [new Date(0)] }), /cannot pickle a Date at a\/0/);
});

test('writes are atomic: a failed save leaves the previous file and no temporary files', () => {
  const sub = tmp('atomic');
  mkdirSync(sub);
  const p = join(sub, 'model.pth');
  const w = tensor([1, 2, 3]);
  saveCheckpoint(p, new Map([['w', w]]));
  const original = readFileSync(p);
  assert.throws(() => saveCheckpoint(p, new Map<string, unknown>([['w', w], ['bad', Symbol('x')]])), /cannot pickle a symbol at bad/);
  assert.throws(() => writeFileAtomic(p, (fd) => { writeFileSync(fd, 'partial'); throw new Error('disk full'); }), /disk full/);
  assert.deepEqual(readFileSync(p), original);
  assert.deepEqual(readdirSync(sub), ['model.pth']);
  saveCheckpoint(p, new Map([['w', w], ['v', w]]));
  const sd = loadCheckpoint(p) as Map<string, Tensor>;
  assert.equal(sd.get('w'), sd.get('v'), 'the same tensor under two keys is one storage and one object');
  dispose(sd);
  w.dispose();
});

test('our archives follow PyTorch layout: stem folder, 64-byte aligned records, sorted storage names', () => {
  const p = tmp('layout.pth');
  const ts = Array.from({ length: 12 }, (_, i) => tensor([i]));
  saveCheckpoint(p, new Map(ts.map((t, i) => [`t${i}`, t])));
  const raw = readFileSync(p);
  const names: string[] = [];
  for (let at = 0; raw.readUInt32LE(at) === 0x04034b50;) {
    const nameLen = raw.readUInt16LE(at + 26);
    const extraLen = raw.readUInt16LE(at + 28);
    names.push(raw.toString('utf8', at + 30, at + 30 + nameLen));
    const dataStart = at + 30 + nameLen + extraLen;
    assert.equal(dataStart % 64, 0, `${names.at(-1)} data is 64-byte aligned`);
    assert.equal(raw.toString('latin1', dataStart - extraLen, dataStart - extraLen + 2), 'FB');
    at = dataStart + raw.readUInt32LE(at + 22);
  }
  const stem = names[0]!.split('/')[0]!;
  assert.match(stem, /^\d+-layout$/);
  const rest = names.map((x) => x.slice(stem.length + 1));
  assert.deepEqual(rest, ['data.pkl', 'byteorder', 'data/0', 'data/1', 'data/10', 'data/11', ...[2, 3, 4, 5, 6, 7, 8, 9].map((i) => `data/${i}`), 'version']);
  dispose(ts);
});
