// U-Net students against bench/engine/reference_unet.py: state_dict layout, seeded init, forward outputs,
// gradients and running statistics; plus shapes, backward coverage, dual heads, configs and handle hygiene.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Tensor, manualSeed, randn, noGrad, tidy, memory } from '../../../src/engine/index.ts';
import {
  UNet, DualHeadUNet, buildUNet, unetConfig, SMALL_UNET_2D, SMALL_DUAL_HEAD_UNET_2D, type UNetConfigInput, type UNetBase,
} from '../../../src/models/unet/index.ts';
import { PYTHON, REPO, runTorch, torchAvailable, skipWithoutTorch, assertClose, disposeAll } from '../../nn/torch_ref.ts';

interface RefCase { name: string; config: UNetConfigInput; input: number[] }
const REF_CASES: RefCase[] = [
  { name: 'small2d', config: SMALL_UNET_2D, input: [2, 3, 32, 32] },
  { name: 'inst3d_interp_odd', config: { spatialDims: 3, inChannels: 1, outChannels: 2, widths: [4, 8, 16], norm: 'instance', upsample: 'interpolate' }, input: [1, 1, 13, 10, 8] },
  { name: 'group2d_interp_3convs', config: { spatialDims: 2, inChannels: 2, outChannels: 1, widths: [8, 16, 32], norm: 'group', groups: 4, upsample: 'interpolate', convsPerLevel: 3 }, input: [2, 2, 19, 23] },
  { name: 'none2d_1conv', config: { spatialDims: 2, inChannels: 1, outChannels: 3, widths: [6, 12], norm: 'none', convsPerLevel: 1 }, input: [1, 1, 9, 9] },
  { name: 'dual3d_batch', config: { arch: 'dual-head-unet', spatialDims: 3, inChannels: 1, outChannels: 1, widths: [4, 8], norm: 'batch' }, input: [2, 1, 8, 8, 6] },
  { name: 'dual2d_small', config: SMALL_DUAL_HEAD_UNET_2D, input: [2, 3, 16, 16] },
];

const outputsOf = (m: UNetBase, x: Tensor): Map<string, Tensor> => {
  const y = m.forward(x) as Tensor | { fg: Tensor; bg: Tensor };
  return y instanceof Tensor ? new Map([['y', y]]) : new Map([['fg', y.fg], ['bg', y.bg]]);
};

interface Prepared {
  models: Map<string, UNetBase>;
  initial: Map<string, Tensor>;
  inputs: Map<string, Tensor>;
  reference: Map<string, Tensor>;
}
let prepared: Prepared | null = null;

before(() => {
  if (!torchAvailable) return;
  const models = new Map<string, UNetBase>();
  const initial = new Map<string, Tensor>();
  const inputs = new Map<string, Tensor>();
  const sent = new Map<string, Tensor>();
  REF_CASES.forEach((c, seed) => {
    manualSeed(seed);
    const m = buildUNet(c.config);
    models.set(c.name, m);
    for (const [k, v] of m.stateDict()) initial.set(`${c.name}/${k}`, v.clone());
    // Move away from the (seed-identical) init so loading really is what makes the reference agree.
    noGrad(() => {
      for (const [k, p] of m.namedParameters()) {
        if (k.endsWith('norm.weight')) p.uniform_(0.5, 1.5);
        else if (p.ndim === 1) p.uniform_(-0.3, 0.3);
        else p.mul_(1.5);
      }
    });
    for (const [k, v] of m.stateDict()) sent.set(`${c.name}/state/${k}`, v);
    for (const i of [0, 1]) {
      const x = randn(c.input);
      inputs.set(`${c.name}/x${i}`, x);
      sent.set(`${c.name}/x${i}`, x);
    }
  });
  const { tensors } = runTorch(`
from reference_unet import build_unet
torch.set_num_threads(1)
for seed, case in enumerate(META):
    name = case['name']
    torch.manual_seed(seed)
    ref = build_unet(case['config'])
    for k, v in ref.state_dict().items():
        OUT[f'{name}/init/{k}'] = v.clone()
    pre = name + '/state/'
    ref.load_state_dict({k[len(pre):]: v for k, v in IN.items() if k.startswith(pre)})
    ref.train()
    y = ref(IN[name + '/x0'])
    ys = y if isinstance(y, dict) else {'y': y}
    sum((v * v).mean() for v in ys.values()).backward()
    for k, v in ys.items():
        OUT[f'{name}/train/{k}'] = v
    for k, p in ref.named_parameters():
        OUT[f'{name}/grad/{k}'] = p.grad
    ref.eval()
    with torch.no_grad():
        y = ref(IN[name + '/x1'])
    for k, v in (y if isinstance(y, dict) else {'y': y}).items():
        OUT[f'{name}/eval/{k}'] = v
    for k, v in ref.state_dict().items():
        OUT[f'{name}/final/{k}'] = v
`, { tensors: sent, meta: REF_CASES.map((c) => ({ name: c.name, config: c.config })) });
  prepared = { models, initial, inputs, reference: tensors };
});

after(() => {
  if (!prepared) return;
  for (const m of prepared.models.values()) m.dispose();
  disposeAll(prepared.initial);
  disposeAll(prepared.inputs);
  disposeAll(prepared.reference);
});

const refPart = (p: Prepared, prefix: string): Map<string, Tensor> =>
  new Map([...p.reference].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));

for (const c of REF_CASES) {
  test(`${c.name}: state_dict keys, shapes and seeded init equal the PyTorch reference`, (t) => {
    if (!prepared) return t.skip('/usr/bin/python3 cannot import torch');
    const ref = refPart(prepared, `${c.name}/init/`);
    const mine = new Map([...prepared.initial].filter(([k]) => k.startsWith(`${c.name}/`)).map(([k, v]) => [k.slice(c.name.length + 1), v]));
    assert.deepEqual([...mine.keys()], [...ref.keys()], 'same keys in the same order');
    for (const [k, v] of mine) {
      const r = ref.get(k)!;
      assert.deepEqual(v.shape, r.shape, k);
      assert.equal(v.dtype, r.dtype, k);
      assert.deepEqual(v.toArray(), r.toArray(), `${k}: manualSeed(s) init differs from torch.manual_seed(s)`);
    }
  });

  test(`${c.name}: train-step outputs, gradients, running stats and eval outputs equal the reference after loading our weights`, (t) => {
    if (!prepared) return t.skip('/usr/bin/python3 cannot import torch');
    const m = prepared.models.get(c.name)!;
    const tol = { atol: 1e-4, rtol: 1e-4 };
    m.train();
    tidy(() => {
      const outs = outputsOf(m, prepared!.inputs.get(`${c.name}/x0`)!);
      let loss: Tensor | null = null;
      for (const [k, y] of outs) {
        assertClose(y, prepared!.reference.get(`${c.name}/train/${k}`)!, { ...tol, msg: `${c.name} train output ${k}` });
        const l = y.mul(y).mean();
        loss = loss ? loss.add(l) : l;
      }
      loss!.backward();
      for (const [k, p] of m.namedParameters()) {
        assertClose(p.grad!, prepared!.reference.get(`${c.name}/grad/${k}`)!, { atol: 1e-5, rtol: 1e-3, msg: `${c.name} grad ${k}` });
      }
    });
    m.zeroGrad();
    m.eval();
    tidy(() => {
      const outs = outputsOf(m, prepared!.inputs.get(`${c.name}/x1`)!);
      for (const [k, y] of outs) assertClose(y, prepared!.reference.get(`${c.name}/eval/${k}`)!, { ...tol, msg: `${c.name} eval output ${k}` });
    });
    const final = refPart(prepared, `${c.name}/final/`);
    for (const [k, v] of m.stateDict()) {
      if (v.dtype === 'int64') assert.deepEqual(v.toArray(), final.get(k)!.toArray(), k);
      else assertClose(v, final.get(k)!, { ...tol, msg: `${c.name} state ${k}` });
    }
  });
}

test('SMALL_UNET_2D parameter count equals reference_unet.py --count', (t) => {
  if (skipWithoutTorch(t)) return;
  const m = new UNet(SMALL_UNET_2D);
  const r = spawnSync(PYTHON, [join(REPO, 'bench', 'engine', 'reference_unet.py'), '--count'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(m.numParameters(), Number(r.stdout.trim()));
  assert.equal(m.numParameters(), 482737);
  m.dispose();
});

test('2D and 3D forward shapes (odd sizes too) and every parameter gets a gradient', () => {
  manualSeed(0);
  const cases: [UNetConfigInput, number[]][] = [
    [SMALL_UNET_2D, [2, 3, 32, 48]],
    [{ ...SMALL_UNET_2D, widths: [8, 16, 32] }, [1, 3, 21, 30]],
    [{ spatialDims: 3, inChannels: 2, outChannels: 3, widths: [4, 8, 16], norm: 'group', groups: 4 }, [1, 2, 16, 12, 9]],
    [{ spatialDims: 3, inChannels: 1, outChannels: 1, widths: [4, 8], norm: 'instance', upsample: 'interpolate', dropout: 0.2 }, [2, 1, 8, 8, 8]],
  ];
  for (const [config, shape] of cases) {
    const m = buildUNet(config) as UNet;
    tidy(() => {
      const y = m.forward(randn(shape));
      assert.deepEqual(y.shape, [shape[0], config.outChannels, ...shape.slice(2)]);
      y.pow(2).mean().backward();
      for (const [k, p] of m.namedParameters()) {
        const g = p.grad;
        assert.ok(g, `${k} has no grad`);
        assert.ok(g.isfinite().all().item(), `${k} grad not finite`);
        if (p.ndim > 1) assert.ok(g.abs().sum().item() > 0, `${k} grad is all zero`);
      }
    });
    m.dispose();
  }
});

test('DualHeadUNet returns fg and bg logits from fg_head / bg_head on a shared decoder', () => {
  manualSeed(1);
  const m = new DualHeadUNet({ ...SMALL_UNET_2D, outChannels: 2 });
  const names = [...m.stateDict().keys()];
  assert.deepEqual(names.slice(-4), ['fg_head.weight', 'fg_head.bias', 'bg_head.weight', 'bg_head.bias']);
  assert.ok(!names.some((k) => k.startsWith('head.')));
  assert.equal(m.config.arch, 'dual-head-unet');
  const single = new UNet({ ...SMALL_UNET_2D, outChannels: 2 });
  assert.equal(m.numParameters(), single.numParameters() + 16 * 2 + 2);
  tidy(() => {
    const { fg, bg } = m.forward(randn([2, 3, 16, 16]));
    assert.deepEqual(fg.shape, [2, 2, 16, 16]);
    assert.deepEqual(bg.shape, [2, 2, 16, 16]);
    assert.ok(fg.sub(bg).abs().max().item() > 0, 'heads differ');
    fg.sum().add(bg.mean()).backward();
    for (const k of ['fg_head.weight', 'bg_head.weight', 'encoder.0.convs.0.conv.weight']) assert.ok(m.getParameter(k).grad, k);
  });
  m.dispose();
  single.dispose();
});

test('forward + backward inside tidy leaves the live-tensor count unchanged', () => {
  const m = new UNet(SMALL_UNET_2D);
  const x = randn([2, 3, 32, 32]);
  const live = memory().liveTensors;
  for (let i = 0; i < 2; i++) tidy(() => m.forward(x).mean().backward());
  assert.equal(memory().liveTensors, live);
  m.zeroGrad();
  x.dispose();
  m.dispose();
});

test('configs: defaults, frozen, validated, JSON round trip rebuilds the same layout', () => {
  const c = unetConfig({ spatialDims: 2, inChannels: 1, outChannels: 1, widths: [8, 16] });
  assert.deepEqual(c, { arch: 'unet', spatialDims: 2, inChannels: 1, outChannels: 1, widths: [8, 16], norm: 'batch', groups: 8, dropout: 0, upsample: 'transpose', convsPerLevel: 2 });
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.widths) && Object.isFrozen(SMALL_UNET_2D));
  assert.throws(() => unetConfig({ ...c, widths: [] }), /widths/);
  assert.throws(() => unetConfig({ ...c, norm: 'layer' as 'batch' }), /norm/);
  assert.throws(() => unetConfig({ ...c, spatialDims: 1 as 2 }), /spatialDims/);
  assert.throws(() => unetConfig({ ...c, norm: 'group', groups: 3, widths: [8, 16] }), /not divisible/);
  assert.throws(() => unetConfig({ ...c, widht: [1] } as UNetConfigInput), /unknown U-Net config key "widht"/);
  const a = buildUNet(SMALL_DUAL_HEAD_UNET_2D);
  const b = buildUNet(JSON.parse(JSON.stringify(a.config)) as UNetConfigInput);
  assert.ok(b instanceof DualHeadUNet);
  assert.deepEqual([...b.stateDict()].map(([k, v]) => [k, v.shape]), [...a.stateDict()].map(([k, v]) => [k, v.shape]));
  const m = new UNet(c);
  assert.throws(() => m.forward(randn([1, 3, 8, 8])), /expected input \[N, 1, H, W\]/);
  for (const x of [a, b, m]) x.dispose();
});

test('dropout is active in training and off in eval', () => {
  manualSeed(2);
  const m = new UNet({ spatialDims: 2, inChannels: 1, outChannels: 1, widths: [4, 8], dropout: 0.5 });
  assert.ok(m.getSubmodule('encoder.0.drop'));
  const x = randn([1, 1, 8, 8]);
  m.eval();
  tidy(() => assert.deepEqual(m.forward(x).toArray(), m.forward(x).toArray()));
  m.train();
  tidy(() => assert.notDeepEqual(m.forward(x).toArray(), m.forward(x).toArray()));
  x.dispose();
  m.dispose();
});
