import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, manualSeed, memory, ones, randn, tidy, zeros, noGrad, tensor } from '../../src/engine/index.ts';
import {
  Module, Sequential, ModuleList, ModuleDict, Conv2d, BatchNorm2d, ReLU, Linear, LayerNorm, LayerNorm2d, GroupNorm,
  InstanceNorm2d, InstanceNorm3d, ConvTranspose3d, Embedding, MLP, MLPBlock, Dropout, Identity,
} from '../../src/nn/index.ts';
import { runTorch, skipWithoutTorch } from './torch_ref.ts';

/** A nested model touching every registration path; NET_PY below is the same structure in PyTorch. */
class Net extends Module {
  readonly features: Sequential;
  readonly blocks: ModuleList;
  readonly scale: Tensor;
  readonly step: Tensor;
  readonly cache: Tensor;
  readonly heads: ModuleDict;
  constructor() {
    super();
    this.features = this.registerModule('features', new Sequential(new Conv2d(3, 8, 3, { padding: 1, bias: false }), new BatchNorm2d(8), new ReLU(), new Conv2d(8, 4, 1)));
    this.blocks = this.registerModule('blocks', new ModuleList([
      new Linear(4, 6), new LayerNorm(6), new ModuleList([new Linear(6, 2, { bias: false }), new Embedding(5, 3)]),
    ]));
    this.scale = this.registerParameter('scale', ones([4]));
    this.step = this.registerBuffer('step', zeros([], { dtype: 'int64' }));
    this.cache = this.registerBuffer('cache', zeros([2]), false);
    this.registerModule('norm2d', new LayerNorm2d(4));
    this.registerModule('gn', new GroupNorm(2, 4));
    this.registerModule('inorm', new InstanceNorm2d(4, { affine: true }));
    this.registerModule('inorm_tracked', new InstanceNorm3d(4, { trackRunningStats: true }));
    this.registerModule('convt', new ConvTranspose3d(4, 2, 2, { stride: 2 }));
    this.registerModule('mlp', new MLP(4, 8, 2, 3));
    this.registerModule('mlp_block', new MLPBlock(4, 8));
    this.registerModule('absent', null);
    this.heads = this.registerModule('heads', new ModuleDict({ fg: new Conv2d(4, 1, 1), bg: new Conv2d(4, 1, 1) }));
    this.registerModule('drop', new Dropout(0.1));
  }
  forward(x: Tensor): Tensor {
    return this.features.forward(x);
  }
}

const NET_PY = String.raw`
class LayerNorm2d(nn.Module):
    def __init__(self, num_channels, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps
class MLP(nn.Module):
    def __init__(self, input_dim, hidden_dim, output_dim, num_layers, sigmoid_output=False):
        super().__init__()
        h = [hidden_dim] * (num_layers - 1)
        self.layers = nn.ModuleList(nn.Linear(n, k) for n, k in zip([input_dim] + h, h + [output_dim]))
class MLPBlock(nn.Module):
    def __init__(self, embedding_dim, mlp_dim, act=nn.GELU):
        super().__init__()
        self.lin1 = nn.Linear(embedding_dim, mlp_dim)
        self.lin2 = nn.Linear(mlp_dim, embedding_dim)
        self.act = act()
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 1))
        self.blocks = nn.ModuleList([nn.Linear(4, 6), nn.LayerNorm(6), nn.ModuleList([nn.Linear(6, 2, bias=False), nn.Embedding(5, 3)])])
        self.scale = nn.Parameter(torch.ones(4))
        self.register_buffer('step', torch.zeros((), dtype=torch.int64))
        self.register_buffer('cache', torch.zeros(2), persistent=False)
        self.norm2d = LayerNorm2d(4)
        self.gn = nn.GroupNorm(2, 4)
        self.inorm = nn.InstanceNorm2d(4, affine=True)
        self.inorm_tracked = nn.InstanceNorm3d(4, track_running_stats=True)
        self.convt = nn.ConvTranspose3d(4, 2, 2, stride=2)
        self.mlp = MLP(4, 8, 2, 3)
        self.mlp_block = MLPBlock(4, 8)
        self.absent = None
        self.heads = nn.ModuleDict({'fg': nn.Conv2d(4, 1, 1), 'bg': nn.Conv2d(4, 1, 1)})
        self.drop = nn.Dropout(0.1)
`;

const entryList = (m: Map<string, Tensor> | [string, Tensor][]): [string, number[], string][] =>
  [...m].map(([k, t]) => [k, t.shape, t.dtype]);

test('state_dict / named_parameters / named_buffers / named_modules equal PyTorch for a nested model', (t) => {
  if (skipWithoutTorch(t)) return;
  const net = new Net();
  try {
    const { result } = runTorch<Record<string, unknown>>(`${NET_PY}
net = Net()
ent = lambda it: [[k, list(v.shape), NAME[v.dtype]] for k, v in it]
RESULT = {'state': ent(net.state_dict().items()), 'params': ent(net.named_parameters()), 'buffers': ent(net.named_buffers()),
          'modules': [k for k, _ in net.named_modules()], 'children': [k for k, _ in net.named_children()],
          'count': sum(p.numel() for p in net.parameters())}
`);
    assert.deepEqual(entryList(net.stateDict()), result.state);
    assert.deepEqual(entryList(net.namedParameters()), result.params);
    assert.deepEqual(entryList(net.namedBuffers()), result.buffers);
    assert.deepEqual(net.namedModules().map(([k]) => k), result.modules);
    assert.deepEqual(net.namedChildren().map(([k]) => k), result.children);
    assert.equal(net.numParameters(), result.count);
  } finally {
    net.dispose();
  }
});

test('repr matches PyTorch for common layers', (t) => {
  if (skipWithoutTorch(t)) return;
  const net = new Sequential(new Conv2d(3, 8, 3, { padding: 1, bias: false }), new BatchNorm2d(8), new ReLU(), new Linear(4, 2),
    new LayerNorm(6), new GroupNorm(2, 4), new Embedding(5, 3, { paddingIdx: 0 }), new ConvTranspose3d(4, 2, 2, { stride: 2 }), new Identity());
  try {
    const { result } = runTorch<string>(`RESULT = str(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.Linear(4, 2),
    nn.LayerNorm(6), nn.GroupNorm(2, 4), nn.Embedding(5, 3, padding_idx=0), nn.ConvTranspose3d(4, 2, 2, stride=2), nn.Identity()))`);
    assert.equal(net.toString(), result);
  } finally {
    net.dispose();
  }
});

test('parameters are leaves that require grad; buffers do not; stateDict skips non-persistent buffers', () => {
  const net = new Net();
  try {
    for (const [name, p] of net.namedParameters()) {
      assert.ok(p.isLeaf && p.requiresGrad, name);
    }
    for (const [name, b] of net.namedBuffers()) assert.ok(!b.requiresGrad, name);
    assert.ok(net.namedBuffers().some(([k]) => k === 'cache'));
    assert.ok(!net.stateDict().has('cache'));
    assert.equal(net.stateDict().get('features.1.num_batches_tracked')!.dtype, 'int64');
    assert.deepEqual(net.stateDict().get('features.1.num_batches_tracked')!.shape, []);
  } finally {
    net.dispose();
  }
});

test('registration errors: duplicate and dotted names', () => {
  const m = new Sequential(new ReLU());
  assert.throws(() => m.registerModule('0', new ReLU()), /already registered/);
  assert.throws(() => m.registerParameter('a.b', ones([1])), /without dots/);
  assert.throws(() => m.getSubmodule('0.x'), /has no submodule "x"/);
  m.dispose();
});

test('loadStateDict: strict round trip copies values in place, with dtype conversion', () => {
  manualSeed(1);
  const a = new Net(), b = new Net();
  try {
    const before = b.getParameter('features.0.weight');
    const sd = new Map<string, Tensor>();
    for (const [k, v] of a.stateDict()) sd.set(k, v.dtype === 'float32' ? v.to('float64') : v.clone());
    const res = b.loadStateDict(sd);
    assert.deepEqual(res, { missing: [], unexpected: [], shapeMismatch: [] });
    assert.equal(b.getParameter('features.0.weight'), before, 'same tensor object, updated in place');
    assert.equal(before.dtype, 'float32');
    for (const [k, v] of b.stateDict()) assert.deepEqual(v.toArray(), a.stateDict().get(k)!.toArray(), k);
    assert.ok(before.requiresGrad && before.isLeaf);
    for (const v of sd.values()) v.dispose();
  } finally {
    a.dispose();
    b.dispose();
  }
});

test('loadStateDict: strict errors list missing, unexpected and mismatched keys and copy nothing', () => {
  const m = new Sequential(new Linear(4, 3), new BatchNorm2d(3));
  const src = new Sequential(new Linear(4, 2), new BatchNorm2d(3));
  const sd = new Map(src.stateDict());
  sd.delete('1.running_var');
  sd.set('extra.weight', zeros([1]));
  const w0 = m.getParameter('1.weight').toArray();
  noGrad(() => src.getParameter('1.weight').fill_(7));
  assert.throws(() => m.loadStateDict(sd), (err: Error) => {
    assert.match(err.message, /Error\(s\) in loading state_dict for Sequential/);
    assert.match(err.message, /Missing key\(s\) in state_dict: "1.running_var"/);
    assert.match(err.message, /Unexpected key\(s\) in state_dict: "extra.weight"/);
    assert.match(err.message, /size mismatch for 0.weight: copying a param with shape \[2, 4\] from checkpoint, the shape in current model is \[3, 4\]/);
    assert.match(err.message, /size mismatch for 0.bias/);
    return true;
  });
  assert.deepEqual(m.getParameter('1.weight').toArray(), w0, 'nothing copied on a strict failure');

  const res = m.loadStateDict(sd, { strict: false });
  assert.deepEqual(res.missing, ['1.running_var']);
  assert.deepEqual(res.unexpected, ['extra.weight']);
  assert.deepEqual(res.shapeMismatch, [
    { key: '0.weight', expected: [3, 4], got: [2, 4] }, { key: '0.bias', expected: [3], got: [2] },
  ]);
  assert.deepEqual(m.getParameter('1.weight').toArray(), [7, 7, 7], 'matching keys copied');
  sd.get('extra.weight')!.dispose();
  m.dispose();
  src.dispose();
});

test('loadStateDict accepts a plain object', () => {
  const m = new Linear(2, 1);
  const w = tensor([1, 2], [1, 2]), b = tensor([3]);
  m.loadStateDict({ weight: w, bias: b });
  assert.deepEqual(m.weight.toArray(), [1, 2]);
  assert.deepEqual(m.bias!.toArray(), [3]);
  w.dispose(); b.dispose(); m.dispose();
});

test('train / eval propagate to all descendants', () => {
  const net = new Net();
  assert.ok(net.modules().every((m) => m.training));
  assert.equal(net.eval(), net);
  assert.ok(net.modules().every((m) => !m.training));
  net.train();
  assert.ok(net.modules().every((m) => m.training));
  net.dispose();
});

test('freeze / unfreeze by prefix, glob and RegExp; trainable counts; frozen params get no grad', () => {
  const net = new Sequential(new Conv2d(3, 4, 3, { bias: false }), new BatchNorm2d(4), new Conv2d(4, 2, 1));
  try {
    const total = net.numParameters();
    assert.equal(total, 4 * 3 * 9 + 4 + 4 + 2 * 4 + 2);
    assert.deepEqual(net.freeze('0'), ['0.weight']);
    assert.deepEqual(net.freeze(['*.bias']), ['1.bias', '2.bias']);
    assert.deepEqual(net.freeze(/^1\./), ['1.weight', '1.bias']);
    assert.equal(net.numParameters({ trainableOnly: true }), 2 * 4);
    assert.throws(() => net.freeze('encoder'), /matches no parameter/);
    assert.deepEqual(net.unfreeze('1'), ['1.weight', '1.bias']);
    assert.equal(net.numParameters({ trainableOnly: true }), 2 * 4 + 8);
    tidy(() => net.forward(randn([1, 3, 5, 5])).sum().backward());
    tidy(() => {
      assert.equal(net.getParameter('0.weight').grad, null);
      assert.equal(net.getParameter('2.bias').grad, null);
      assert.notEqual(net.getParameter('1.weight').grad, null);
      assert.notEqual(net.getParameter('2.weight').grad, null);
    });
    net.requiresGrad_(false);
    assert.equal(net.numParameters({ trainableOnly: true }), 0);
    net.requiresGrad_(true);
    net.zeroGrad();
    tidy(() => assert.ok(net.parameters().every((p) => p.grad === null)));
  } finally {
    net.dispose();
  }
});

test('shared parameters are listed once but appear under every state_dict name', () => {
  const a = new Linear(3, 3);
  const outer = new Sequential(a, new ReLU(), a);
  assert.deepEqual(outer.namedParameters().map(([k]) => k), ['0.weight', '0.bias']);
  assert.deepEqual([...outer.stateDict().keys()], ['0.weight', '0.bias', '2.weight', '2.bias']);
  assert.equal(outer.numParameters(), 12);
  assert.deepEqual(outer.namedModules().map(([k]) => k), ['', '0', '1']);
  const live = memory().liveTensors;
  outer.dispose();
  assert.equal(memory().liveTensors, live - 2);
});

test('apply visits children before parents; getSubmodule / getParameter', () => {
  const net = new Sequential(new Sequential(new Linear(2, 2)), new ReLU());
  const seen: string[] = [];
  net.apply((m) => seen.push(m.constructor.name));
  assert.deepEqual(seen, ['Linear', 'Sequential', 'ReLU', 'Sequential']);
  assert.ok(net.getSubmodule('0.0') instanceof Linear);
  assert.deepEqual(net.getParameter('0.0.bias').shape, [2]);
  net.dispose();
});

test('to(float64) converts floating tensors, keeps int buffers, updates fields and frees the old tensors', () => {
  const net = new Sequential(new Conv2d(2, 3, 3), new BatchNorm2d(3));
  const conv = net.at(0) as Conv2d;
  conv.freeze('bias');
  const w = conv.weight.toArray();
  const live = memory().liveTensors;
  net.to('float64');
  assert.equal(memory().liveTensors, live, 'old tensors disposed');
  assert.equal(conv.weight.dtype, 'float64');
  assert.equal(conv.getParameter('weight'), conv.weight, 'field follows the registry');
  assert.deepEqual(conv.weight.toArray(), w.map((v) => v));
  assert.ok(conv.weight.requiresGrad && conv.weight.isLeaf && !conv.bias!.requiresGrad);
  assert.equal(net.stateDict().get('1.num_batches_tracked')!.dtype, 'int64');
  assert.equal(net.stateDict().get('1.running_mean')!.dtype, 'float64');
  const y = tidy(() => net.forward(randn([1, 2, 4, 4], { dtype: 'float64' })));
  assert.equal(y.dtype, 'float64');
  y.dispose();
  net.dispose();
});

test('dispose frees every parameter and buffer; forward inside tidy leaks nothing', () => {
  const live = memory().liveTensors;
  const net = new Net();
  const x = randn([2, 3, 6, 6]);
  const before = memory().liveTensors;
  tidy(() => {
    const y = net.forward(x);
    y.pow(2).mean().backward();
  });
  assert.equal(memory().liveTensors, before);
  x.dispose();
  net.dispose();
  assert.equal(memory().liveTensors, live);
});
