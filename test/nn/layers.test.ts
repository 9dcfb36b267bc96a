// Each layer against torch.nn given the same weights and inputs: outputs, input and parameter gradients, and the
// state after the steps (BatchNorm running statistics). All cases run in one python process.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, manualSeed, randn, randint, rand, noGrad, tidy, memory } from '../../src/engine/index.ts';
import {
  Module, Linear, Conv1d, Conv2d, Conv3d, ConvTranspose2d, ConvTranspose3d, LayerNorm, LayerNorm2d, BatchNorm1d,
  BatchNorm2d, BatchNorm3d, GroupNorm, InstanceNorm2d, InstanceNorm3d, Embedding, MLP, MLPBlock, GELU, LeakyReLU,
  SiLU, Upsample, MaxPool2d, MaxPool3d, AvgPool3d, Dropout, Dropout2d, Dropout3d, Sequential, ReLU,
} from '../../src/nn/index.ts';
import { runTorch, torchAvailable, assertClose, disposeAll } from './torch_ref.ts';

type Mode = 'train' | 'eval';
interface Case {
  name: string;
  make: () => Module;
  py: string;
  inputs: number[][];
  modes: Mode[];
  grad: boolean;
  /** int64 index inputs in [0, n) instead of randn. */
  indices?: number;
  tol?: number;
}

const SAM_PY = String.raw`
class LayerNorm2d(nn.Module):
    def __init__(self, num_channels, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps
    def forward(self, x):
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        x = self.weight[:, None, None] * x + self.bias[:, None, None]
        return x
class MLP(nn.Module):
    def __init__(self, input_dim, hidden_dim, output_dim, num_layers, sigmoid_output=False):
        super().__init__()
        self.num_layers = num_layers
        h = [hidden_dim] * (num_layers - 1)
        self.layers = nn.ModuleList(nn.Linear(n, k) for n, k in zip([input_dim] + h, h + [output_dim]))
        self.sigmoid_output = sigmoid_output
    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = F.relu(layer(x)) if i < self.num_layers - 1 else layer(x)
        if self.sigmoid_output:
            x = F.sigmoid(x)
        return x
class MLPBlock(nn.Module):
    def __init__(self, embedding_dim, mlp_dim, act=nn.GELU):
        super().__init__()
        self.lin1 = nn.Linear(embedding_dim, mlp_dim)
        self.lin2 = nn.Linear(mlp_dim, embedding_dim)
        self.act = act()
    def forward(self, x):
        return self.lin2(self.act(self.lin1(x)))
`;

const T3: Mode[] = ['train', 'train', 'train'];
const CASES: Case[] = [
  { name: 'linear', make: () => new Linear(5, 3), py: 'nn.Linear(5, 3)', inputs: [[2, 4, 5]], modes: ['train'], grad: true },
  { name: 'linear_nobias', make: () => new Linear(5, 3, { bias: false }), py: 'nn.Linear(5, 3, bias=False)', inputs: [[6, 5]], modes: ['train'], grad: true },
  { name: 'conv1d_same', make: () => new Conv1d(3, 4, 4, { padding: 'same', dilation: 2 }), py: "nn.Conv1d(3, 4, 4, padding='same', dilation=2)", inputs: [[2, 3, 11]], modes: ['train'], grad: true },
  { name: 'conv2d', make: () => new Conv2d(3, 4, 3, { stride: 2, padding: 1 }), py: 'nn.Conv2d(3, 4, 3, stride=2, padding=1)', inputs: [[2, 3, 9, 8]], modes: ['train'], grad: true },
  { name: 'conv2d_groups_reflect', make: () => new Conv2d(4, 6, 3, { groups: 2, dilation: 2, padding: 2, paddingMode: 'reflect', bias: false }), py: "nn.Conv2d(4, 6, 3, groups=2, dilation=2, padding=2, padding_mode='reflect', bias=False)", inputs: [[1, 4, 7, 7]], modes: ['train'], grad: true },
  { name: 'conv3d', make: () => new Conv3d(2, 3, 3, { padding: 1 }), py: 'nn.Conv3d(2, 3, 3, padding=1)', inputs: [[2, 2, 5, 6, 4]], modes: ['train'], grad: true },
  { name: 'convt2d', make: () => new ConvTranspose2d(4, 3, 3, { stride: 2, padding: 1, outputPadding: 1 }), py: 'nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)', inputs: [[2, 4, 5, 6]], modes: ['train'], grad: true },
  { name: 'convt3d', make: () => new ConvTranspose3d(2, 2, 2, { stride: 2 }), py: 'nn.ConvTranspose3d(2, 2, 2, stride=2)', inputs: [[1, 2, 3, 4, 2]], modes: ['train'], grad: true },
  { name: 'layernorm', make: () => new LayerNorm([4, 5]), py: 'nn.LayerNorm([4, 5])', inputs: [[3, 4, 5]], modes: ['train'], grad: true },
  { name: 'layernorm2d', make: () => new LayerNorm2d(6), py: 'LayerNorm2d(6)', inputs: [[2, 6, 5, 4]], modes: ['train'], grad: true },
  { name: 'batchnorm2d', make: () => new BatchNorm2d(4), py: 'nn.BatchNorm2d(4)', inputs: [[3, 4, 5, 5], [3, 4, 5, 5], [3, 4, 5, 5], [2, 4, 5, 5]], modes: [...T3, 'eval'], grad: true },
  { name: 'batchnorm2d_cumulative', make: () => new BatchNorm2d(3, { momentum: null }), py: 'nn.BatchNorm2d(3, momentum=None)', inputs: [[2, 3, 4, 4], [2, 3, 4, 4], [2, 3, 4, 4], [1, 3, 4, 4]], modes: [...T3, 'eval'], grad: false },
  { name: 'batchnorm1d', make: () => new BatchNorm1d(5, { affine: false }), py: 'nn.BatchNorm1d(5, affine=False)', inputs: [[8, 5], [8, 5], [4, 5]], modes: ['train', 'train', 'eval'], grad: true },
  { name: 'batchnorm3d', make: () => new BatchNorm3d(2, { momentum: 0.3, eps: 1e-3 }), py: 'nn.BatchNorm3d(2, momentum=0.3, eps=1e-3)', inputs: [[2, 2, 3, 4, 3], [2, 2, 3, 4, 3], [1, 2, 3, 4, 3]], modes: ['train', 'train', 'eval'], grad: true },
  { name: 'batchnorm2d_untracked', make: () => new BatchNorm2d(3, { trackRunningStats: false }), py: 'nn.BatchNorm2d(3, track_running_stats=False)', inputs: [[2, 3, 4, 4], [2, 3, 4, 4]], modes: ['train', 'eval'], grad: false },
  { name: 'groupnorm', make: () => new GroupNorm(2, 6), py: 'nn.GroupNorm(2, 6)', inputs: [[2, 6, 4, 3]], modes: ['train'], grad: true },
  { name: 'instancenorm2d', make: () => new InstanceNorm2d(3, { affine: true }), py: 'nn.InstanceNorm2d(3, affine=True)', inputs: [[2, 3, 5, 4]], modes: ['train'], grad: true },
  { name: 'instancenorm3d_tracked', make: () => new InstanceNorm3d(2, { trackRunningStats: true }), py: 'nn.InstanceNorm3d(2, track_running_stats=True)', inputs: [[2, 2, 3, 3, 3], [2, 2, 3, 3, 3], [1, 2, 3, 3, 3]], modes: ['train', 'train', 'eval'], grad: false },
  { name: 'embedding', make: () => new Embedding(10, 4, { paddingIdx: 1 }), py: 'nn.Embedding(10, 4, padding_idx=1)', inputs: [[3, 5]], modes: ['train'], grad: true, indices: 10 },
  { name: 'mlp', make: () => new MLP(5, 8, 3, 3, { sigmoidOutput: true }), py: 'MLP(5, 8, 3, 3, sigmoid_output=True)', inputs: [[4, 5]], modes: ['train'], grad: true },
  { name: 'mlp_block', make: () => new MLPBlock(6, 12), py: 'MLPBlock(6, 12)', inputs: [[2, 3, 6]], modes: ['train'], grad: true },
  { name: 'activations', make: () => new Sequential(new GELU('tanh'), new LeakyReLU(0.2), new SiLU()), py: "nn.Sequential(nn.GELU(approximate='tanh'), nn.LeakyReLU(0.2), nn.SiLU())", inputs: [[4, 7]], modes: ['train'], grad: true },
  { name: 'upsample_pool', make: () => new Sequential(new Upsample({ scaleFactor: 2, mode: 'bilinear' }), new MaxPool2d(3, { stride: 2, padding: 1 })), py: "nn.Sequential(nn.Upsample(scale_factor=2, mode='bilinear'), nn.MaxPool2d(3, stride=2, padding=1))", inputs: [[1, 2, 5, 6]], modes: ['train'], grad: true },
  { name: 'pool3d', make: () => new Sequential(new MaxPool3d(2), new AvgPool3d(2, { stride: 1 }), new ReLU()), py: 'nn.Sequential(nn.MaxPool3d(2), nn.AvgPool3d(2, stride=1), nn.ReLU())', inputs: [[1, 2, 6, 6, 4]], modes: ['train'], grad: true },
];

interface Prepared { modules: Map<string, Module>; inputs: Map<string, Tensor>; reference: Map<string, Tensor> }
let prepared: Prepared | null = null;

before(() => {
  if (!torchAvailable) return;
  manualSeed(7);
  const modules = new Map<string, Module>();
  const sent = new Map<string, Tensor>();
  const inputs = new Map<string, Tensor>();
  for (const c of CASES) {
    const m = c.make();
    // Random affine parameters, so norms are tested with non-trivial weight / bias.
    noGrad(() => { for (const p of m.parameters()) if (p.ndim === 1) p.uniform_(-1.5, 1.5); });
    modules.set(c.name, m);
    for (const [k, v] of m.stateDict()) sent.set(`${c.name}/state/${k}`, v);
    c.inputs.forEach((shape, i) => {
      const x = c.indices ? randint(0, c.indices, shape) : randn(shape).mul_(2).add_(0.5);
      inputs.set(`${c.name}/x${i}`, x);
      sent.set(`${c.name}/x${i}`, x);
    });
  }
  const { tensors } = runTorch(`${SAM_PY}
torch.set_num_threads(1)
for case in META:
    name = case['name']
    m = eval(case['py'])
    pre = name + '/state/'
    m.load_state_dict({k[len(pre):]: v for k, v in IN.items() if k.startswith(pre)})
    for i, mode in enumerate(case['modes']):
        m.train(mode == 'train')
        x = IN[f'{name}/x{i}']
        if case['grad'] and x.is_floating_point():
            x.requires_grad_(True)
        y = m(x)
        OUT[f'{name}/y{i}'] = y
        if case['grad']:
            (y * y).sum().mul(0.5).backward()
            if x.is_floating_point():
                OUT[f'{name}/gx{i}'] = x.grad
    if case['grad']:
        for k, p in m.named_parameters():
            OUT[f'{name}/g/{k}'] = p.grad
    for k, v in m.state_dict().items():
        OUT[f'{name}/final/{k}'] = v
`, { tensors: sent, meta: CASES.map((c) => ({ name: c.name, py: c.py, modes: c.modes, grad: c.grad })) });
  prepared = { modules, inputs, reference: tensors };
});

after(() => {
  if (!prepared) return;
  for (const m of prepared.modules.values()) m.dispose();
  disposeAll(prepared.inputs);
  disposeAll(prepared.reference);
});

for (const c of CASES) {
  test(`${c.name} equals torch (${c.py})`, (t) => {
    if (!prepared) return t.skip('/usr/bin/python3 cannot import torch');
    const { modules, inputs, reference } = prepared;
    const m = modules.get(c.name)!;
    const ref = (k: string): Tensor => {
      const r = reference.get(`${c.name}/${k}`);
      assert.ok(r, `torch gave no ${k}`);
      return r;
    };
    const tol = { atol: c.tol ?? 2e-5, rtol: 1e-4 };
    c.modes.forEach((mode, i) => {
      m.train(mode === 'train');
      const x = inputs.get(`${c.name}/x${i}`)!;
      const floating = x.dtype === 'float32';
      tidy(() => {
        const xi = floating && c.grad ? x.detach().requiresGrad_(true) : x;
        const y = m.forward(xi) as Tensor;
        assertClose(y, ref(`y${i}`), { ...tol, msg: `${c.name} output ${i} (${mode})` });
        if (c.grad) {
          y.mul(y).sum().mul(0.5).backward();
          if (floating) assertClose(xi.grad!, ref(`gx${i}`), { ...tol, msg: `${c.name} input grad ${i}` });
        }
      });
    });
    tidy(() => {
      if (c.grad) for (const [k, p] of m.namedParameters()) assertClose(p.grad!, ref(`g/${k}`), { ...tol, msg: `${c.name} grad of ${k}` });
      const state = m.stateDict();
      assert.deepEqual([...state.keys()], [...reference.keys()].filter((k) => k.startsWith(`${c.name}/final/`)).map((k) => k.slice(c.name.length + 7)));
      for (const [k, v] of state) {
        const r = ref(`final/${k}`);
        assert.equal(v.dtype, r.dtype, k);
        if (v.dtype === 'int64') assert.deepEqual(v.toArray(), r.toArray(), `${c.name} ${k}`);
        else assertClose(v, r, { ...tol, msg: `${c.name} final ${k}` });
      }
    });
  });
}

test('BatchNorm2d: 3 training steps update running stats with momentum 0.1 and count batches', () => {
  const bn = new BatchNorm2d(2);
  const xs = [0, 1, 2].map(() => randn([4, 2, 3, 3]));
  let mean = [0, 0], variance = [1, 1];
  for (const x of xs) {
    tidy(() => bn.forward(x));
    const bm = x.mean([0, 2, 3]).toArray();
    const bv = x.var([0, 2, 3]).toArray(); // unbiased, as torch's running_var update
    mean = mean.map((v, c) => 0.9 * v + 0.1 * bm[c]!);
    variance = variance.map((v, c) => 0.9 * v + 0.1 * bv[c]!);
  }
  bn.runningMean!.toArray().forEach((v, c) => assert.ok(Math.abs(v - mean[c]!) < 1e-6));
  bn.runningVar!.toArray().forEach((v, c) => assert.ok(Math.abs(v - variance[c]!) < 1e-6));
  assert.equal(bn.numBatchesTracked!.item(), 3);
  bn.eval();
  tidy(() => bn.forward(xs[0]!));
  assert.equal(bn.numBatchesTracked!.item(), 3, 'eval does not count');
  assert.throws(() => bn.forward(xs[0]!.flatten(2)), /expected 4D input \(got 3D input\)/);
  for (const x of xs) x.dispose();
  bn.dispose();
});

test('Dropout: identity in eval; in training zeroes ≈p and scales the rest by 1/(1-p)', () => {
  const x = rand([200, 200]).add_(1);
  const d = new Dropout(0.3);
  tidy(() => {
    const y = d.forward(x);
    const yv = y.toArray(), xv = x.toArray();
    let zeros = 0;
    for (let i = 0; i < yv.length; i++) {
      if (yv[i] === 0) zeros++;
      else assert.ok(Math.abs(yv[i]! - xv[i]! / 0.7) < 1e-5);
    }
    assert.ok(Math.abs(zeros / yv.length - 0.3) < 0.01, `dropped fraction ${zeros / yv.length}`);
    d.eval();
    assert.deepEqual(d.forward(x).toArray(), xv);
  });
  x.dispose();
  d.dispose();
});

test('Dropout2d / Dropout3d drop whole channels in training only', () => {
  const cases: [Dropout2d | Dropout3d, number[]][] = [[new Dropout2d(0.5), [4, 32, 3, 3]], [new Dropout3d(0.5), [4, 32, 2, 2, 2]]];
  for (const [d, shape] of cases) {
    tidy(() => {
      const x = rand(shape).add_(1);
      const y = d.forward(x);
      const perChannel = y.flatten(2);
      const zeroed = perChannel.amax(2).eq(0); // inputs are >= 1, so 0 only where dropped
      const anyZero = perChannel.amin(2).eq(0);
      assert.deepEqual(zeroed.toArray(), anyZero.toArray(), 'channels are all-or-nothing');
      const frac = zeroed.float().mean().item();
      assert.ok(frac > 0.3 && frac < 0.7, `dropped channel fraction ${frac}`);
      d.eval();
      assert.deepEqual(d.forward(x).toArray(), x.toArray());
    });
    d.dispose();
  }
});

test('Embedding: padding row starts at zero and gets no gradient', () => {
  const e = new Embedding(5, 3, { paddingIdx: -1 });
  assert.equal(e.paddingIdx, 4);
  tidy(() => {
    assert.deepEqual(e.weight.select(0, 4).toArray(), [0, 0, 0]);
    const idx = randint(0, 5, [20]);
    e.forward(idx).sum().backward();
    assert.deepEqual(e.weight.grad!.select(0, 4).toArray(), [0, 0, 0]);
  });
  e.dispose();
});

test('layers leak no handles: forward + backward inside tidy', () => {
  const m = new Sequential(new Conv2d(2, 4, 3, { padding: 1 }), new BatchNorm2d(4), new ReLU(), new LayerNorm2d(4), new GroupNorm(2, 4));
  const x = randn([2, 2, 6, 6]);
  const live = memory().liveTensors;
  tidy(() => m.forward(x).sum().backward());
  assert.equal(memory().liveTensors, live);
  x.dispose();
  m.dispose();
});
