// Test helper: runs a PyTorch script in /usr/bin/python3 with tensors passed both ways as raw bytes (a JSON
// manifest + one .bin file in a temporary directory), so comparisons are bit-exact in transfer.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { Tensor, tensor, isDType, type DType } from '../../src/engine/index.ts';
import { PYTHON } from '../helpers/torchRef.ts';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const torchAvailable: boolean = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

/** Skips the test (returns true) when PyTorch is not importable. */
export function skipWithoutTorch(t: TestContext): boolean {
  if (torchAvailable) return false;
  t.skip(`${PYTHON} cannot import torch`);
  return true;
}

interface Entry { shape: number[]; dtype: DType; offset: number; nbytes: number }

export function saveTensors(path: string, tensors: Map<string, Tensor> | Record<string, Tensor>): void {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const manifest: Record<string, Entry> = {};
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [k, t] of entries) {
    const d = t.data();
    const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    manifest[k] = { shape: t.shape, dtype: t.dtype, offset, nbytes: bytes.byteLength };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  writeFileSync(`${path}.json`, JSON.stringify(manifest));
  writeFileSync(`${path}.bin`, Buffer.concat(chunks));
}

const ARRAYS: Partial<Record<DType, new (b: ArrayBuffer) => ArrayBufferView>> = {
  float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array, uint8: Uint8Array, bool: Uint8Array,
};

/** Tensors written by saveTensors or the python side's save(); the caller owns (disposes) them. */
export function loadTensors(path: string): Map<string, Tensor> {
  const manifest = JSON.parse(readFileSync(`${path}.json`, 'utf8')) as Record<string, Entry>;
  const raw = readFileSync(`${path}.bin`);
  const out = new Map<string, Tensor>();
  for (const [k, e] of Object.entries(manifest)) {
    if (!isDType(e.dtype) || !ARRAYS[e.dtype]) throw new Error(`loadTensors: unsupported dtype ${e.dtype}`);
    const buf = raw.buffer.slice(raw.byteOffset + e.offset, raw.byteOffset + e.offset + e.nbytes) as ArrayBuffer;
    const arr = new (ARRAYS[e.dtype]!)(buf);
    out.set(k, tensor(arr as Float32Array, e.shape, { dtype: e.dtype }));
  }
  return out;
}

const PRELUDE = String.raw`
import json, sys, math, torch
import torch.nn as nn
import torch.nn.functional as F
DT = {'float32': torch.float32, 'float64': torch.float64, 'int64': torch.int64, 'int32': torch.int32, 'uint8': torch.uint8, 'bool': torch.bool}
NAME = {v: k for k, v in DT.items()}
def load(path):
    man = json.load(open(path + '.json'))
    raw = open(path + '.bin', 'rb').read()
    out = {}
    for k, e in man.items():
        dt = DT[e['dtype']]
        if e['nbytes'] == 0:
            out[k] = torch.empty(e['shape'], dtype=dt)
        else:
            out[k] = torch.frombuffer(bytearray(raw[e['offset']:e['offset'] + e['nbytes']]), dtype=dt).reshape(e['shape']).clone()
    return out
def save(path, d):
    man, chunks, off = {}, [], 0
    for k, t in d.items():
        t = t.detach().contiguous().cpu()
        b = t.numpy().tobytes() if t.numel() else b''
        man[k] = {'shape': list(t.shape), 'dtype': NAME[t.dtype], 'offset': off, 'nbytes': len(b)}
        chunks.append(b); off += len(b)
    json.dump(man, open(path + '.json', 'w'))
    open(path + '.bin', 'wb').write(b''.join(chunks))
DIR = sys.argv[1]
IN = load(DIR + '/in')
META = json.load(open(DIR + '/meta.json'))
OUT = {}
RESULT = None
`;
const EPILOGUE = String.raw`
save(DIR + '/out', OUT)
json.dump(RESULT, open(DIR + '/result.json', 'w'))
`;

export interface TorchRun<R> {
  /** Tensors the script put in OUT (owned by the caller). */
  tensors: Map<string, Tensor>;
  /** The JSON the script put in RESULT. */
  result: R;
}

/**
 * Runs `script` in python with torch: it reads IN (dict of tensors) and META (the json given), and fills OUT (dict
 * of tensors) and RESULT (anything JSON). bench/engine is on sys.path (for reference_unet).
 */
export function runTorch<R = unknown>(script: string, opts: { tensors?: Map<string, Tensor> | Record<string, Tensor>; meta?: unknown } = {}): TorchRun<R> {
  const dir = mkdtempSync(join(tmpdir(), 'samtutor-torch-'));
  try {
    saveTensors(join(dir, 'in'), opts.tensors ?? {});
    writeFileSync(join(dir, 'meta.json'), JSON.stringify(opts.meta ?? null));
    const code = `${PRELUDE}\n${script}\n${EPILOGUE}`;
    const env = { ...process.env, PYTHONPATH: join(REPO, 'bench', 'engine'), OMP_NUM_THREADS: '1' };
    const r = spawnSync(PYTHON, ['-c', code, dir], { cwd: REPO, env, encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`python failed (${r.status}):\n${r.stderr}`);
    return { tensors: loadTensors(join(dir, 'out')), result: JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as R };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Elementwise |a - b| <= atol + rtol·|b| (after float64 conversion), with the worst offender in the message. */
export function assertClose(actual: Tensor, expected: Tensor, o: { atol?: number; rtol?: number; msg?: string } = {}): void {
  const atol = o.atol ?? 1e-5, rtol = o.rtol ?? 1e-5;
  assert.deepEqual(actual.shape, expected.shape, `${o.msg ?? ''} shape`);
  const a = actual.toArray(), b = expected.toArray();
  let worst = -1, worstI = -1;
  for (let i = 0; i < a.length; i++) {
    const excess = Math.abs(a[i]! - b[i]!) - (atol + rtol * Math.abs(b[i]!));
    if (!(excess <= 0) && (worstI < 0 || excess > worst || Number.isNaN(excess))) { worst = excess; worstI = i; }
  }
  if (worstI >= 0) {
    assert.fail(`${o.msg ?? 'tensors differ'}: at flat index ${worstI} got ${a[worstI]} expected ${b[worstI]} (atol ${atol}, rtol ${rtol})`);
  }
}

export const disposeAll = (m: Map<string, Tensor>): void => { for (const t of m.values()) t.dispose(); };

export { PYTHON };
