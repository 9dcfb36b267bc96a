// Optimizers and LR schedules against torch 1.13 (run as /usr/bin/python3 in a subprocess), state-dict round trips
// both ways (samtutor -> torch and torch -> samtutor), and load errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor, tensor, dispose, memory, zeros } from '../../src/engine/index.ts';
import {
  Adam, AdamW, SGD, ExponentialLR, StepLR, PolyLR, CosineWithWarmup, LambdaLR, type Optimizer, type OptimizerStateDict,
} from '../../src/engine/optim/index.ts';
import { PYTHON as PY } from '../helpers/torchRef.ts';

const REF = String.raw`
import json, sys, math, torch
torch.set_num_threads(1)
def enc(v):
    if isinstance(v, torch.Tensor): return {'__tensor__': v.reshape(-1).tolist(), 'shape': list(v.shape)}
    if isinstance(v, dict): return {str(k): enc(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)): return [enc(x) for x in v]
    return v
def dec(v):
    if isinstance(v, dict) and '__tensor__' in v: return torch.tensor(v['__tensor__'], dtype=torch.float32).reshape(v['shape'])
    if isinstance(v, dict): return {(int(k) if k.isdigit() else k): dec(x) for k, x in v.items()}
    if isinstance(v, list): return [dec(x) for x in v]
    return v
def optim(c):
    ps = [torch.nn.Parameter(torch.tensor(p['data'], dtype=torch.float32).reshape(p['shape'])) for p in c['params']]
    groups = [dict(g, params=[ps[i] for i in g['params']]) for g in c['groups']]
    o = getattr(torch.optim, c['opt'])(groups, **c['defaults'])
    if 'load' in c: o.load_state_dict(dec(c['load']))
    hist = []
    for gs in c['grads']:
        for p, g in zip(ps, gs):
            p.grad = None if g is None else torch.tensor(g, dtype=torch.float32).reshape(p.shape)
        o.step()
        hist.append([p.detach().reshape(-1).tolist() for p in ps])
    sd = o.state_dict()
    return {'hist': hist, 'state_dict': enc(sd), 'group_keys': [list(g.keys()) for g in sd['param_groups']],
            'state_keys': {str(k): list(v.keys()) for k, v in sd['state'].items()}}
def sched(c):
    o = torch.optim.SGD([dict(params=[torch.nn.Parameter(torch.zeros(1))], lr=lr) for lr in c['lrs']], lr=1.0)
    k, kw = c['sched'], c['kwargs']
    if k == 'Cosine':
        W, T, m = kw['warmup_steps'], kw['total_steps'], kw['min_lr']
        lams = [lambda s, b=lr: (s + 1) / W if s < W else (m + (b - m) * (1 + math.cos(math.pi * min(1.0, (s - W) / (T - W)))) / 2) / b for lr in c['lrs']]
        s = torch.optim.lr_scheduler.LambdaLR(o, lams)
    elif k == 'Poly':
        s = torch.optim.lr_scheduler.LambdaLR(o, lambda e: (1 - min(e, kw['max_steps']) / kw['max_steps']) ** kw['exponent'])
    elif k == 'LambdaLR':
        s = torch.optim.lr_scheduler.LambdaLR(o, lambda e: 0.95 ** e)
    else:
        s = getattr(torch.optim.lr_scheduler, k)(o, **kw)
    lrs = [s.get_last_lr()]
    for _ in range(c['steps']):
        o.step(); s.step(); lrs.append(s.get_last_lr())
    return {'lrs': lrs, 'state_dict': enc(s.state_dict())}
cases = json.load(sys.stdin)
print(json.dumps([optim(c) if c['kind'] == 'optim' else sched(c) for c in cases]))
`;

// ---- a torch subprocess, or a reason to skip ----
const torchMissing = ((): string | null => {
  try {
    execFileSync(PY, ['-c', 'import torch'], { stdio: 'pipe' });
    return null;
  } catch (e) {
    return `${PY} cannot import torch (${(e as Error).message.split('\n')[0]}); skipping comparisons with PyTorch`;
  }
})();
const refDir = mkdtempSync(join(tmpdir(), 'samtutor-optim-'));
const refScript = join(refDir, 'ref.py');
writeFileSync(refScript, REF);
after(() => rmSync(refDir, { recursive: true, force: true }));
type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
function runTorch(cases: Json[]): Json[] {
  return JSON.parse(execFileSync(PY, [refScript], { input: JSON.stringify(cases), maxBuffer: 1 << 28 }).toString());
}

// ---- deterministic data: float32-exact values so JSON carries them unchanged ----
let seed = 12345;
const rnd = (): number => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return Math.fround((seed / 2147483648) * 2 - 1);
};
const SHAPES = [[3, 4], [5], [2, 3, 2]];
const size = (s: number[]): number => s.reduce((a, b) => a * b, 1);
const INIT = SHAPES.map((shape) => ({ shape, data: Array.from({ length: size(shape) }, rnd) }));
// 6 steps of gradients; the second parameter has none at step 2 (it must be skipped, as torch does).
const GRADS: (number[] | null)[][] = Array.from({ length: 6 }, (_, s) =>
  SHAPES.map((shape, i) => (s === 2 && i === 1 ? null : Array.from({ length: size(shape) }, () => rnd() * 3))));

const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const pyKw = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).map(([k, v]) => [snake(k), v]));

interface Case { opt: 'Adam' | 'AdamW' | 'SGD'; defaults: Record<string, unknown>; groups: Record<string, unknown>[] }
const ONE_GROUP = [{ params: [0, 1, 2] }];
const CASES: Record<string, Case> = {
  'Adam': { opt: 'Adam', defaults: { lr: 0.01 }, groups: ONE_GROUP },
  'Adam amsgrad + weight decay + maximize': { opt: 'Adam', defaults: { lr: 0.01, amsgrad: true, weightDecay: 0.1, maximize: true }, groups: ONE_GROUP },
  'AdamW': { opt: 'AdamW', defaults: { lr: 0.01, betas: [0.8, 0.99], eps: 1e-6 }, groups: ONE_GROUP },
  'AdamW amsgrad': { opt: 'AdamW', defaults: { lr: 0.02, amsgrad: true, weightDecay: 0.05 }, groups: ONE_GROUP },
  'SGD momentum + dampening': { opt: 'SGD', defaults: { lr: 0.1, momentum: 0.9, dampening: 0.1 }, groups: ONE_GROUP },
  'SGD nesterov + weight decay': { opt: 'SGD', defaults: { lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.01 }, groups: ONE_GROUP },
  'SGD plain, maximize': { opt: 'SGD', defaults: { lr: 0.1, maximize: true }, groups: ONE_GROUP },
  'Adam, 2 groups with different lr': { opt: 'Adam', defaults: { lr: 0.01 }, groups: [{ params: [0, 2], lr: 0.001 }, { params: [1], weightDecay: 0.2 }] },
};

function makeParams(values = INIT): Tensor[] {
  return values.map((p) => tensor(p.data, p.shape, { requiresGrad: true }));
}
function makeOptim(c: Case, params: Tensor[]): Optimizer<object, unknown> {
  const groups = c.groups.map((g) => ({ ...g, params: (g.params as number[]).map((i) => params[i]!) }));
  const Cls = { Adam, AdamW, SGD }[c.opt];
  return new Cls(groups, c.defaults as { lr: number }) as unknown as Optimizer<object, unknown>;
}
function runSteps(opt: Optimizer<object, unknown>, params: Tensor[], grads: (number[] | null)[][]): number[][][] {
  return grads.map((gs) => {
    params.forEach((p, i) => {
      const g = gs[i];
      if (g === null || g === undefined) { p.grad = null; return; }
      const t = tensor(g, p.shape);
      p.grad = t;
      t.dispose();
    });
    opt.step();
    return params.map((p) => Array.from(p.toFloat32Array()));
  });
}
const torchCase = (c: Case, extra: Record<string, unknown> = {}): Json => ({
  kind: 'optim', opt: c.opt, defaults: pyKw(c.defaults), groups: c.groups.map(pyKw), params: INIT, grads: GRADS, ...extra,
});

function maxAbsDiff(a: number[][][] | number[][], b: number[][][] | number[][]): number {
  const fa = (a as unknown[]).flat(2) as number[];
  const fb = (b as unknown[]).flat(2) as number[];
  assert.equal(fa.length, fb.length);
  return fa.reduce((m, x, i) => Math.max(m, Math.abs(x - fb[i]!)), 0);
}

// JSON <-> state dict with tensors, in the encoding the reference script uses.
function encode(v: unknown): Json {
  if (v instanceof Tensor) return { __tensor__: Array.from(v.toFloat32Array()), shape: v.shape };
  if (Array.isArray(v)) return v.map(encode);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]));
  return v;
}
function decode(v: Json): Json {
  if (v && typeof v === 'object' && '__tensor__' in v) return tensor(v.__tensor__, v.shape);
  if (Array.isArray(v)) return v.map(decode);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decode(x)]));
  return v;
}

let ref: Json[] = [];
const names = Object.keys(CASES);
before(() => {
  if (torchMissing) return;
  ref = runTorch([
    ...names.map((n) => torchCase(CASES[n]!)),
    ...names.map((n) => torchCase(CASES[n]!, { grads: GRADS.slice(0, 3) })), // state after 3 steps, for torch -> samtutor
    { kind: 'sched', sched: 'ExponentialLR', kwargs: { gamma: 0.9 }, lrs: [0.1, 0.03], steps: 30 },
    { kind: 'sched', sched: 'StepLR', kwargs: { step_size: 4, gamma: 0.5 }, lrs: [0.1, 0.03], steps: 30 },
    { kind: 'sched', sched: 'LambdaLR', kwargs: {}, lrs: [0.1, 0.03], steps: 30 },
    { kind: 'sched', sched: 'Poly', kwargs: { max_steps: 20, exponent: 0.9 }, lrs: [0.01], steps: 25 },
    { kind: 'sched', sched: 'Cosine', kwargs: { warmup_steps: 5, total_steps: 20, min_lr: 1e-4 }, lrs: [0.1, 0.03], steps: 25 },
  ]);
});

for (const [k, name] of names.entries()) {
  test(`${name} matches torch over 6 steps`, (t) => {
    if (torchMissing) return t.skip(torchMissing);
    const params = makeParams();
    const opt = makeOptim(CASES[name]!, params);
    const live = memory().liveTensors;
    const hist = runSteps(opt, params, GRADS.slice(0, 1));
    const afterFirst = memory().liveTensors; // the first step creates the state
    hist.push(...runSteps(opt, params, GRADS.slice(1)));
    assert.equal(memory().liveTensors, afterFirst, 'step() leaked tensors');
    assert.ok(afterFirst >= live);
    assert.ok(maxAbsDiff(hist, ref[k].hist) <= 1e-6, `max abs diff ${maxAbsDiff(hist, ref[k].hist)}`);
    // state_dict: the same keys, in torch's order, and the same values
    const sd = opt.stateDict();
    assert.deepEqual(sd.param_groups.map((g) => Object.keys(g).sort()), ref[k].group_keys.map((g: string[]) => [...g].sort()));
    if (k === 0) assert.deepEqual(Object.keys(sd.param_groups[0]!), ref[k].group_keys[0], 'torch key order');
    assert.deepEqual(Object.fromEntries(Object.entries(sd.state).map(([i, s]) => [i, Object.keys(s)])), ref[k].state_keys);
    const step = sd.state[0]!.step;
    if (step instanceof Tensor) assert.deepEqual([step.shape, step.dtype, step.item()], [[], 'float32', 6]);
    const a = encode(sd);
    const b = ref[k].state_dict;
    assert.deepEqual(Object.keys(a.state).sort(), Object.keys(b.state).sort());
    for (const i of Object.keys(b.state)) {
      for (const key of Object.keys(b.state[i])) {
        const [x, y] = [a.state[i][key], b.state[i][key]];
        if (y === null) assert.equal(x, null);
        else assert.ok(maxAbsDiff([x.__tensor__], [y.__tensor__]) <= 1e-6, `state ${i}.${key}`);
      }
    }
    assert.deepEqual(a.param_groups, b.param_groups);
    dispose(sd);
    opt.dispose();
    dispose(params);
  });
}

test('state dict round trip: 3 steps + load into a new optimizer + 2 steps == 5 steps', () => {
  for (const name of names) {
    const c = CASES[name]!;
    const straightParams = makeParams();
    const straight = makeOptim(c, straightParams);
    const want = runSteps(straight, straightParams, GRADS.slice(0, 5)).at(-1)!;
    const params = makeParams();
    const first = makeOptim(c, params);
    runSteps(first, params, GRADS.slice(0, 3));
    const sd = first.stateDict();
    first.dispose();
    const second = makeOptim(c, params);
    second.loadStateDict(sd);
    dispose(sd); // loading copies: the state dict's tensors can go
    const got = runSteps(second, params, GRADS.slice(3, 5)).at(-1)!;
    assert.equal(maxAbsDiff(got, want), 0, name);
    dispose([straightParams, params]);
    straight.dispose();
    second.dispose();
  }
});

test('resume across frameworks: torch state dict -> samtutor, and samtutor state dict -> torch', (t) => {
  if (torchMissing) return t.skip(torchMissing);
  const back: Json[] = [];
  for (const [k, name] of names.entries()) {
    const c = CASES[name]!;
    // torch ran 3 steps; samtutor loads its state dict and runs steps 4 and 5.
    const torch3 = ref[names.length + k];
    const params = makeParams(SHAPES.map((shape, i) => ({ shape, data: torch3.hist[2][i] })));
    const opt = makeOptim(c, params);
    const sd = decode(torch3.state_dict) as OptimizerStateDict;
    opt.loadStateDict(sd);
    dispose(sd);
    const got = runSteps(opt, params, GRADS.slice(3, 5)).at(-1)!;
    assert.ok(maxAbsDiff(got, ref[k].hist[4]) <= 1e-6, `torch -> samtutor: ${name}`);
    opt.dispose();
    dispose(params);
    // samtutor ran 3 steps; torch loads its state dict and runs steps 4 and 5.
    const ours = makeParams();
    const o2 = makeOptim(c, ours);
    const hist = runSteps(o2, ours, GRADS.slice(0, 3));
    const sd2 = o2.stateDict();
    back.push(torchCase(c, { params: SHAPES.map((shape, i) => ({ shape, data: hist[2]![i] })), grads: GRADS.slice(3, 5), load: encode(sd2) }));
    dispose(sd2);
    o2.dispose();
    dispose(ours);
  }
  const res = runTorch(back);
  names.forEach((name, k) => assert.ok(maxAbsDiff(res[k].hist[1], ref[k].hist[4]) <= 1e-6, `samtutor -> torch: ${name}`));
});

test('LR schedules match torch', (t) => {
  if (torchMissing) return t.skip(torchMissing);
  const base = names.length * 2;
  const groups = (lrs: number[]) => ({ paramGroups: lrs.map((lr) => ({ lr })) as { lr: number; initialLr?: number }[] });
  const run = (s: { step(): void; getLastLr(): number[] }, n: number): number[][] => {
    const out = [s.getLastLr()];
    for (let i = 0; i < n; i++) { s.step(); out.push(s.getLastLr()); }
    return out;
  };
  const near = (a: number[][], b: number[][], rel: number, what: string): void =>
    a.flat().forEach((x, i) => assert.ok(Math.abs(x - b.flat()[i]!) <= rel * Math.abs(b.flat()[i]!) + 1e-300, `${what}[${i}]: ${x} vs ${b.flat()[i]}`));
  const exp = new ExponentialLR(groups([0.1, 0.03]), 0.9);
  assert.deepEqual(run(exp, 30), ref[base].lrs, 'ExponentialLR (exact)');
  assert.deepEqual(exp.stateDict(), ref[base].state_dict);
  const stepLr = new StepLR(groups([0.1, 0.03]), 4, 0.5);
  assert.deepEqual(run(stepLr, 30), ref[base + 1].lrs, 'StepLR (exact)');
  assert.deepEqual(stepLr.stateDict(), ref[base + 1].state_dict);
  const lam = new LambdaLR(groups([0.1, 0.03]), (e) => 0.95 ** e);
  near(run(lam, 30), ref[base + 2].lrs, 1e-14, 'LambdaLR');
  assert.deepEqual(Object.keys(lam.stateDict()), Object.keys(ref[base + 2].state_dict));
  near(run(new PolyLR(groups([0.01]), 20), 25), ref[base + 3].lrs, 1e-14, 'PolyLR');
  const cos = new CosineWithWarmup(groups([0.1, 0.03]), { warmupSteps: 5, totalSteps: 20, minLr: 1e-4 });
  const cosLrs = run(cos, 25);
  near(cosLrs, ref[base + 4].lrs, 1e-12, 'CosineWithWarmup');
  near([[cosLrs[0]![0]!, cosLrs[4]![0]!, cosLrs[5]![0]!, cosLrs[20]![0]!, cosLrs[25]![0]!]], [[0.02, 0.1, 0.1, 1e-4, 1e-4]], 1e-15, 'cosine shape');
});

test('LR schedule state dict resumes the schedule; resuming needs initialLr', () => {
  const mk = () => ({ paramGroups: [{ lr: 0.1 }, { lr: 0.2 }] as { lr: number; initialLr?: number }[] });
  const a = mk();
  const s1 = new StepLR(a, 3, 0.5);
  for (let i = 0; i < 7; i++) s1.step();
  const b = mk();
  b.paramGroups.forEach((g, i) => (g.lr = a.paramGroups[i]!.lr));
  const s2 = new StepLR(b, 99, 0.9);
  s2.loadStateDict(JSON.parse(JSON.stringify(s1.stateDict())));
  for (let i = 0; i < 5; i++) { s1.step(); s2.step(); }
  assert.deepEqual(s2.getLastLr(), s1.getLastLr());
  assert.deepEqual(b.paramGroups.map((g) => g.lr), a.paramGroups.map((g) => g.lr));
  assert.throws(() => new StepLR({ paramGroups: [{ lr: 0.1 }] }, 3, 0.5, 4), /initial_lr/);
  assert.throws(() => s2.loadStateDict({ ...s1.stateDict(), base_lrs: [0.1] }), /base_lrs must be 2 number/);
});

test('loadStateDict rejects mismatched state dicts with clear messages and keeps its state', () => {
  const params = makeParams();
  const opt = new Adam([{ params: [params[0]!, params[1]!] }, { params: [params[2]!] }], { lr: 0.01 });
  runSteps(opt, params, GRADS.slice(0, 2));
  const good = opt.stateDict();
  const oneGroup = new Adam(params, { lr: 0.01 });
  assert.throws(() => oneGroup.loadStateDict(good), /state dict has 2 parameter group\(s\) but this optimizer has 1/);
  const swapped = new Adam([{ params: [params[0]!] }, { params: [params[1]!, params[2]!] }], { lr: 0.01 });
  assert.throws(() => swapped.loadStateDict(good), /parameter group 0 has 2 params in the state dict but 1 here/);
  const other = makeParams(SHAPES.map((shape) => ({ shape: [...shape].reverse(), data: Array(size(shape)).fill(0) })));
  const shaped = new Adam([{ params: [other[0]!, other[1]!] }, { params: [other[2]!] }], { lr: 0.01 });
  assert.throws(() => shaped.loadStateDict(good), /state\[0\] \(group 0\)\.exp_avg has shape \[3,4\] but the parameter has shape \[4,3\]/);
  const fused = { ...good, param_groups: good.param_groups.map((g) => ({ ...g, capturable: true })) };
  assert.throws(() => opt.loadStateDict(fused), /capturable=true, which samtutor does not support/);
  const amsgrad = { ...good, param_groups: good.param_groups.map((g) => ({ ...g, amsgrad: true })) };
  const live = memory().liveTensors;
  assert.throws(() => opt.loadStateDict(amsgrad), /has no max_exp_avg_sq \(the group has amsgrad on\)/);
  assert.equal(memory().liveTensors, live, 'a failed load leaked tensors');
  assert.throws(() => opt.loadStateDict({ state: {}, param_groups: 'x' } as never), /expected \{ state, param_groups \}/);
  // The failed loads changed nothing: the optimizer continues exactly like an untouched one.
  const fresh = makeParams();
  const ref2 = new Adam([{ params: [fresh[0]!, fresh[1]!] }, { params: [fresh[2]!] }], { lr: 0.01 });
  const want = runSteps(ref2, fresh, GRADS.slice(0, 3)).at(-1)!;
  assert.equal(maxAbsDiff(runSteps(opt, params, GRADS.slice(2, 3)).at(-1)!, want), 0);
  for (const o of [opt, oneGroup, swapped, shaped, ref2]) o.dispose();
  dispose([good, params, other, fresh]);
});

test('constructor checks, zeroGrad, and hyperparameter errors', () => {
  const p = zeros([2], { requiresGrad: true });
  const q = p.mul(2);
  assert.throws(() => new Adam([q]), /non-leaf/);
  assert.throws(() => new Adam([p, p]), /more than one parameter group/);
  assert.throws(() => new Adam([]), /empty parameter list/);
  assert.throws(() => new Adam([p], { betas: [1, 0.9] }), /Invalid beta parameter at index 0/);
  assert.throws(() => new SGD([p], { lr: 0.1, nesterov: true }), /Nesterov momentum requires a momentum/);
  const opt = new SGD([p], { lr: 0.1 });
  const g = tensor([1, 2]);
  p.grad = g;
  opt.zeroGrad(false);
  const z = p.grad!;
  assert.deepEqual(z.toArray(), [0, 0]);
  opt.zeroGrad();
  assert.equal(p.grad, null);
  dispose([p, q, g, z]);
  opt.dispose();
});
