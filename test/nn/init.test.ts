import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, manualSeed, empty, memory } from '../../src/engine/index.ts';
import {
  Module, Linear, Conv2d, Conv3d, ConvTranspose2d, Embedding, LayerNorm, BatchNorm2d, init,
} from '../../src/nn/index.ts';
import { runTorch, skipWithoutTorch, disposeAll } from './torch_ref.ts';

const stats = (t: Tensor): { min: number; max: number; mean: number; std: number } => {
  const a = t.toArray();
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  const std = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
  return { min: Math.min(...a), max: Math.max(...a), mean, std };
};

test('default inits reproduce PyTorch bit for bit after the same manual seed', (t) => {
  if (skipWithoutTorch(t)) return;
  manualSeed(1234);
  const mods: [string, Module][] = [
    ['linear', new Linear(7, 5)], ['conv2d', new Conv2d(3, 4, 3)], ['conv3d', new Conv3d(2, 3, [1, 2, 3], { bias: false })],
    ['convt', new ConvTranspose2d(4, 6, 2, { stride: 2, groups: 2 })], ['emb', new Embedding(6, 3, { paddingIdx: 2 })],
    ['ln', new LayerNorm(4)], ['bn', new BatchNorm2d(3)],
  ];
  const mine = new Map<string, Tensor>();
  for (const [name, m] of mods) for (const [k, v] of m.stateDict()) mine.set(`${name}.${k}`, v);
  const w = empty([50, 40]), tn = empty([2000]);
  init.truncNormal_(tn, { std: 0.02, a: -0.04, b: 0.04 });
  init.kaimingNormal_(w, { mode: 'fan_out', nonlinearity: 'relu' });
  mine.set('kaiming_normal', w);
  mine.set('trunc_normal', tn);
  const xu = init.xavierUniform_(empty([8, 9]), init.calculateGain('tanh'));
  mine.set('xavier_uniform', xu);
  const { tensors } = runTorch(`
torch.manual_seed(1234)
mods = {'linear': nn.Linear(7, 5), 'conv2d': nn.Conv2d(3, 4, 3), 'conv3d': nn.Conv3d(2, 3, (1, 2, 3), bias=False),
        'convt': nn.ConvTranspose2d(4, 6, 2, stride=2, groups=2), 'emb': nn.Embedding(6, 3, padding_idx=2),
        'ln': nn.LayerNorm(4), 'bn': nn.BatchNorm2d(3)}
for name, m in mods.items():
    for k, v in m.state_dict().items():
        OUT[name + '.' + k] = v
tn = torch.empty(2000)
nn.init.trunc_normal_(tn, std=0.02, a=-0.04, b=0.04)
w = torch.empty(50, 40)
nn.init.kaiming_normal_(w, mode='fan_out', nonlinearity='relu')
OUT['kaiming_normal'] = w
OUT['trunc_normal'] = tn
xu = torch.empty(8, 9)
nn.init.xavier_uniform_(xu, nn.init.calculate_gain('tanh'))
OUT['xavier_uniform'] = xu
`);
  try {
    assert.deepEqual([...mine.keys()], [...tensors.keys()]);
    for (const [k, v] of mine) {
      const ref = tensors.get(k)!;
      assert.deepEqual(v.shape, ref.shape, k);
      assert.equal(v.dtype, ref.dtype, k);
      assert.deepEqual(v.toArray(), ref.toArray(), `${k} differs from torch`);
    }
  } finally {
    disposeAll(tensors);
    for (const [, m] of mods) m.dispose();
    w.dispose(); tn.dispose(); xu.dispose();
  }
});

test('kaiming_uniform(a=√5) bounds: Linear / Conv weights and biases lie in ±1/√fan_in with uniform statistics', () => {
  manualSeed(0);
  const lin = new Linear(400, 300);
  const conv = new Conv2d(16, 64, 3);
  try {
    for (const [w, b, fanIn] of [[lin.weight, lin.bias!, 400], [conv.weight, conv.bias!, 16 * 9]] as const) {
      const bound = 1 / Math.sqrt(fanIn);
      const s = stats(w);
      assert.ok(s.min >= -bound && s.max <= bound, `weight within ±${bound}`);
      assert.ok(s.max > 0.99 * bound && s.min < -0.99 * bound, 'weight fills the range');
      assert.ok(Math.abs(s.mean) < 0.02 * bound, `mean ${s.mean}`);
      assert.ok(Math.abs(s.std - bound / Math.sqrt(3)) < 0.02 * bound, `std ${s.std} vs ${bound / Math.sqrt(3)}`);
      const sb = stats(b);
      assert.ok(sb.min >= -bound && sb.max <= bound, 'bias within ±1/√fan_in');
    }
  } finally {
    lin.dispose();
    conv.dispose();
  }
});

test('kaiming_normal, xavier_uniform, trunc_normal, constants', () => {
  manualSeed(3);
  const w = init.kaimingNormal_(empty([256, 128, 3]), { nonlinearity: 'relu' });
  const s = stats(w);
  const std = Math.sqrt(2) / Math.sqrt(128 * 3);
  assert.ok(Math.abs(s.std - std) < 0.02 * std, `kaiming_normal std ${s.std} vs ${std}`);
  const x = init.xavierUniform_(empty([100, 300]));
  const bound = Math.sqrt(6 / 400);
  const sx = stats(x);
  assert.ok(sx.max <= bound && sx.min >= -bound && sx.max > 0.99 * bound);
  const tn = init.truncNormal_(empty([10000]), { mean: 1, std: 2, a: 0, b: 3 });
  const st = stats(tn);
  assert.ok(st.min >= 0 && st.max <= 3);
  assert.ok(Math.abs(st.mean - 1.4) < 0.1, `truncated mean ${st.mean}`); // E[X | 0<X<3] for N(1, 2²) ≈ 1.40
  assert.deepEqual(init.constant_(empty([3]), 2.5).toArray(), [2.5, 2.5, 2.5]);
  assert.deepEqual(init.zeros_(empty([2])).toArray(), [0, 0]);
  assert.deepEqual(init.ones_(empty([2])).toArray(), [1, 1]);
  assert.equal(init.calculateGain('leaky_relu', Math.sqrt(5)), Math.sqrt(1 / 3));
  assert.deepEqual(init.fanInAndFanOut(empty([4, 3, 2, 2])), [12, 16]);
  assert.throws(() => init.kaimingUniform_(empty([3])), /fewer than 2 dimensions/);
  for (const t of [w, x, tn]) t.dispose();
});

test('manualSeed makes construction reproducible; init does not record gradients or leak handles', () => {
  const live = memory().liveTensors;
  manualSeed(42);
  const a = new Conv2d(3, 5, 3);
  manualSeed(42);
  const b = new Conv2d(3, 5, 3);
  assert.deepEqual(a.weight.toArray(), b.weight.toArray());
  assert.deepEqual(a.bias!.toArray(), b.bias!.toArray());
  assert.ok(a.weight.isLeaf && a.weight.gradFn === null);
  a.dispose();
  b.dispose();
  assert.equal(memory().liveTensors, live);
});
