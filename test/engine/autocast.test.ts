// CPU autocast (bf16; torch 1.13's CPU autocast has no float16, so neither is tested): which ops run in low precision (checked against torch 1.13 itself), no stale cast-weight
// copies across scopes after in-place weight updates, nesting, and state restored after exceptions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  type Tensor, autocast, callT, dispose, isAutocastEnabled, manualSeed, memory, noGrad, randn, tensor, tidy,
} from '../../src/engine/index.ts';
import { SGD } from '../../src/engine/optim/index.ts';
import { PYTHON as PY } from '../helpers/torchRef.ts';

const torchMissing = ((): string | null => {
  try {
    execFileSync(PY, ['-c', 'import torch'], { stdio: 'pipe' });
    return null;
  } catch (e) {
    return `${PY} cannot import torch (${(e as Error).message.split('\n')[0]}); skipping the comparison with PyTorch`;
  }
})();

// The same ops on both sides; each returns the output dtype under autocast(cpu, bfloat16).
const PY_DTYPES = String.raw`
import json, torch, torch.nn.functional as F
x, w, a, b = torch.randn(2, 3, 8, 8), torch.randn(4, 3, 3, 3), torch.randn(4, 5), torch.randn(5, 6)
with torch.autocast('cpu', dtype=torch.bfloat16):
    y = F.conv2d(x, w); m = a @ b
    out = {
        'conv2d': y, 'matmul': m, 'linear': F.linear(a, b.t()), 'bmm': torch.bmm(a[None], b[None]),
        'sum_fp32_input': a.sum(), 'sum_of_conv': y.sum(), 'relu_of_conv': torch.relu(y),
        'add_bf16_fp32': m + torch.ones(4, 6), 'mse_loss': F.mse_loss(m, torch.zeros(4, 6)),
        'conv_transpose2d': F.conv_transpose2d(x, w.transpose(0, 1)),
    }
print(json.dumps({k: str(v.dtype).replace('torch.', '') for k, v in out.items()}))
`;

function ourDtypes(): Record<string, string> {
  return tidy(() => {
    manualSeed(0);
    const [x, w, a, b] = [randn([2, 3, 8, 8]), randn([4, 3, 3, 3]), randn([4, 5]), randn([5, 6])];
    return autocast(() => {
      const y = callT('conv2d', [x, w]);
      const m = a.matmul(b);
      const out: Record<string, Tensor> = {
        conv2d: y, matmul: m, linear: callT('linear', [a, b.t()]), bmm: a.unsqueeze(0).bmm(b.unsqueeze(0)),
        sum_fp32_input: a.sum(), sum_of_conv: y.sum(), relu_of_conv: y.relu(),
        add_bf16_fp32: m.add(callT('ones_like', [m], { dtype: 6 })), mse_loss: callT('mse_loss', [m, callT('zeros', [[4, 6]])]),
        conv_transpose2d: callT('conv_transpose2d.input', [x, w.transpose(0, 1)]),
      };
      return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.dtype]));
    });
  });
}

test('autocast bf16 runs the same ops in low precision as torch 1.13 on CPU', (t) => {
  const ours = ourDtypes();
  // What torch 1.13 does (also what the torch run below confirms): conv and matmul family in bf16, reductions
  // keep their input dtype, mse_loss and conv_transpose2d are on CPU autocast's fp32 list.
  assert.equal(ours.conv2d, 'bfloat16');
  assert.equal(ours.matmul, 'bfloat16');
  assert.equal(ours.sum_fp32_input, 'float32');
  assert.equal(ours.mse_loss, 'float32');
  if (torchMissing) return t.skip(torchMissing);
  const theirs = JSON.parse(execFileSync(PY, ['-c', PY_DTYPES]).toString()) as Record<string, string>;
  assert.deepEqual(ours, theirs);
});

const convBf16Reference = (x: Tensor, w: Tensor): Tensor =>
  tidy(() => callT('conv2d', [x.bfloat16(), w.detach().bfloat16()]));

test('no stale cast weights: a new autocast scope sees an in-place weight update', () => {
  manualSeed(1);
  const x = randn([2, 3, 16, 16]);
  const w = randn([4, 3, 3, 3], { requiresGrad: true }); // a leaf that requires grad: the cast cache's case
  const before = memory().nativeBytes;
  const y1 = autocast(() => callT('conv2d', [x, w]));
  assert.equal(y1.dtype, 'bfloat16');
  const r1 = convBf16Reference(x, w);
  assert.deepEqual(y1.toArray(), r1.toArray());

  // Update by copy_ under noGrad, then forward in a new scope.
  const wNew = randn([4, 3, 3, 3]);
  noGrad(() => w.copy_(wNew));
  const y2 = autocast(() => callT('conv2d', [x, w]));
  const r2 = convBf16Reference(x, w);
  assert.deepEqual(y2.toArray(), r2.toArray());
  assert.notDeepEqual(y2.toArray(), y1.toArray());

  // Update by an optimizer step (backward through the autocast graph), then forward in a new scope.
  const opt = new SGD([w], { lr: 0.5 });
  tidy(() => autocast(() => callT('conv2d', [x, w])).float().square().sum().backward());
  opt.step();
  opt.zeroGrad();
  const y3 = autocast(() => callT('conv2d', [x, w]));
  const r3 = convBf16Reference(x, w);
  assert.deepEqual(y3.toArray(), r3.toArray());
  assert.notDeepEqual(y3.toArray(), y2.toArray());

  // Within ONE scope the cached cast is reused even after an in-place update, exactly as in torch: so optimizer
  // steps belong outside the autocast scope (this also shows the cache is active, so the checks above mean something).
  autocast(() => {
    const before = tidy(() => callT('conv2d', [x, w]).toArray());
    noGrad(() => w.mul_(2));
    assert.deepEqual(tidy(() => callT('conv2d', [x, w]).toArray()), before);
  });

  // Nothing cached outlives the scopes: only the outputs and references made here hold native bytes.
  dispose([y1, y2, y3, r1, r2, r3, wNew]);
  assert.equal(memory().nativeBytes, before);
  opt.dispose();
  dispose([x, w]);
});

test('nested autocast scopes restore the enclosing state', () => {
  const x = randn([1, 2, 6, 6]);
  const w = randn([2, 2, 3, 3]);
  const convDtype = (): string => tidy(() => callT('conv2d', [x, w]).dtype);
  assert.equal(isAutocastEnabled(), false);
  autocast(() => {
    assert.equal(isAutocastEnabled(), true);
    assert.equal(convDtype(), 'bfloat16');
    autocast(() => {
      assert.equal(isAutocastEnabled(), false);
      assert.equal(convDtype(), 'float32');
    }, { enabled: false });
    assert.equal(convDtype(), 'bfloat16');
    autocast(() => {
      assert.equal(convDtype(), 'float32');
      autocast(() => assert.equal(convDtype(), 'bfloat16')); // re-enabled inside a disabled scope
      assert.equal(convDtype(), 'float32');
      assert.equal(isAutocastEnabled(), false);
    }, { enabled: false });
    autocast(() => assert.equal(convDtype(), 'bfloat16')); // same state nested: a no-op that must not end the outer
    assert.equal(isAutocastEnabled(), true);
    assert.equal(convDtype(), 'bfloat16');
  });
  assert.equal(isAutocastEnabled(), false);
  assert.equal(convDtype(), 'float32');
  dispose([x, w]);
});

test('autocast state is restored after an exception', () => {
  const x = randn([1, 2, 6, 6]);
  const w = randn([2, 2, 3, 3]);
  const convDtype = (): string => tidy(() => callT('conv2d', [x, w]).dtype);
  assert.throws(() => autocast(() => {
    assert.equal(convDtype(), 'bfloat16');
    throw new Error('boom');
  }), /boom/);
  assert.equal(isAutocastEnabled(), false);
  assert.equal(convDtype(), 'float32');
  autocast(() => {
    // an op error deep inside a nested scope (shape mismatch in libtorch) unwinds to the outer scope's state
    assert.throws(() => autocast(() => callT('conv2d', [x, tensor([1, 2, 3])]), { enabled: false }), /conv2d/);
    assert.equal(convDtype(), 'bfloat16');
    assert.throws(() => autocast(() => Promise.resolve(1)), /must be synchronous/);
    assert.equal(convDtype(), 'bfloat16');
  });
  assert.equal(isAutocastEnabled(), false);
  assert.equal(convDtype(), 'float32');
  dispose([x, w]);
});
