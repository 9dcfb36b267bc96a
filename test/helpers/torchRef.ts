// Runs a PyTorch snippet in /usr/bin/python3 (same libtorch as the engine) and returns its results as JSON.
// One process per call (importing torch costs ~1.5 s): batch the work.
import { spawnSync } from 'node:child_process';
import { type Tensor, tensor, type DType } from '../../src/engine/index.ts';

/** The reference interpreter for every test: Debian's python3 with python3-torch (SAMTUTOR_PYTHON overrides). */
export const PYTHON = process.env.SAMTUTOR_PYTHON ?? '/usr/bin/python3';

/** max |a[i] - b[i]| over two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`maxAbsDiff: lengths ${a.length} and ${b.length} differ`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A tensor as it crosses the process boundary: row-major values (bool as 0/1). */
export interface Wire {
  shape: number[];
  dtype: string;
  data: number[];
}

const PRELUDE = String.raw`
import json, sys, math
import torch
import torch.nn.functional as F
torch.set_num_threads(1)

def T(w):
    dt = getattr(torch, w['dtype'])
    return torch.tensor(w['data'], dtype=torch.float64).to(dt).reshape(w['shape']) if dt.is_floating_point \
        else torch.tensor(w['data'], dtype=torch.int64).to(dt).reshape(w['shape'])

def W(v):
    if isinstance(v, torch.Tensor):
        v = v.detach()
        dt = str(v.dtype).replace('torch.', '')
        flat = v.reshape(-1)
        data = flat.to(torch.int64).tolist() if dt in ('bool', 'uint8', 'int8', 'int16', 'int32', 'int64') else flat.double().tolist()
        data = [None if isinstance(x, float) and math.isnan(x) else x for x in data]
        return {'shape': list(v.shape), 'dtype': dt, 'data': data}
    if isinstance(v, (list, tuple)):
        return [W(x) for x in v]
    if isinstance(v, dict):
        return {k: W(x) for k, x in v.items()}
    return v

INPUT = json.loads(sys.stdin.read())
`;

/**
 * Runs `code` after a prelude that defines torch, F, INPUT (the JSON-decoded `input`), T(wire) -> tensor and
 * W(value) -> wire. The code must assign OUTPUT; it is returned decoded.
 */
export function runTorch<T = unknown>(code: string, input: unknown = null): T {
  const script = `${PRELUDE}\n${code}\nsys.stdout.write(json.dumps(W(OUTPUT)))\n`;
  const res = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 256 << 20 });
  if (res.error) throw new Error(`cannot run ${PYTHON}: ${res.error.message}`);
  if (res.status !== 0) throw new Error(`python reference failed (exit ${res.status}):\n${res.stderr}`);
  return JSON.parse(res.stdout) as T;
}

/** An engine tensor as a Wire (for sending inputs to Python). */
export function toWire(t: Tensor): Wire {
  return { shape: t.shape, dtype: t.dtype, data: t.toArray() };
}

/** A Wire as an engine tensor. */
export function fromWire(w: Wire): Tensor {
  const data = w.dtype === 'int64' ? BigInt64Array.from(w.data.map((x) => BigInt(x))) : Float64Array.from(w.data);
  return tensor(data, w.shape, { dtype: w.dtype as DType });
}

/** Max |a - b| and a description of the first element outside atol + rtol |b| (null when all are inside). */
export function compareValues(actual: ArrayLike<number>, expected: ArrayLike<number | null>, atol: number, rtol: number):
  { maxErr: number; firstBad: string | null } {
  let maxErr = 0;
  let firstBad: string | null = null;
  if (actual.length !== expected.length) return { maxErr: Infinity, firstBad: `length ${actual.length} vs ${expected.length}` };
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!, e = expected[i];
    if (e === null || Number.isNaN(e)) {
      if (!Number.isNaN(a) && firstBad === null) firstBad = `[${i}]: ${a} vs NaN`;
      continue;
    }
    const err = Math.abs(a - e);
    if (err > maxErr || Number.isNaN(err)) maxErr = Number.isNaN(err) ? Infinity : err;
    if (!(err <= atol + rtol * Math.abs(e)) && firstBad === null) firstBad = `[${i}]: ${a} vs ${e} (|diff| ${err})`;
  }
  return { maxErr, firstBad };
}
