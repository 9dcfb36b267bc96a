// The Tensor handle: metadata, data out, storage sharing, in-place semantics and autograd plumbing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.ts';
import { type Tensor, tensor, F } from '../../src/engine/index.ts';

const f64 = (values: number[], shape?: number[], requiresGrad = false): Tensor =>
  tensor(Float64Array.from(values), shape, { requiresGrad });

describe('metadata', () => {
  test('shape, ndim, numel, strides, dtype, device, size()', () => {
    const t = E.zeros([2, 3, 4]);
    assert.deepEqual(t.shape, [2, 3, 4]);
    assert.equal(t.ndim, 3);
    assert.equal(t.numel, 24);
    assert.deepEqual(t.strides, [12, 4, 1]);
    assert.equal(t.dtype, 'float32');
    assert.equal(t.device, 'cpu');
    assert.equal(t.storageOffset, 0);
    assert.equal(t.size(0), 2);
    assert.equal(t.size(-1), 4);
    assert.throws(() => t.size(3), RangeError);
    assert.throws(() => t.size(-4), RangeError);
    assert.ok(t.isContiguous());
    assert.equal(String(t), 'Tensor(shape=[2, 3, 4], dtype=float32, device=cpu)');
  });

  test('views report their strides and offsets', () => {
    const t = E.zeros([2, 3, 4]);
    const tr = t.transpose(0, 2);
    assert.deepEqual(tr.shape, [4, 3, 2]);
    assert.deepEqual(tr.strides, [1, 4, 12]);
    assert.ok(!tr.isContiguous());
    const s = t.select(0, 1).slice(1, 1, 3);
    assert.deepEqual(s.shape, [3, 2]);
    assert.equal(s.storageOffset, 13);
    assert.deepEqual(t.unsqueeze(1).expand(2, 5, 3, 4).strides, [12, 0, 4, 1]);
  });

  test('scalars (0-d) and empty tensors', () => {
    const s = E.scalar(4);
    assert.deepEqual(s.shape, []);
    assert.equal(s.ndim, 0);
    assert.equal(s.numel, 1);
    assert.equal(s.item(), 4);
    const e = E.zeros([0, 3]);
    assert.equal(e.numel, 0);
    assert.deepEqual(e.toArray(), []);
    assert.equal(e.data().length, 0);
    assert.equal(e.sum().item(), 0);
  });
});

describe('data out', () => {
  test('data() returns the typed array of the dtype in row-major order, also for views', () => {
    const t = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const d = t.data();
    assert.ok(d instanceof Float32Array);
    assert.deepEqual(Array.from(d), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(Array.from(t.t().data() as Float32Array), [1, 4, 2, 5, 3, 6]);
    assert.deepEqual(t.slice(1, 1).toArray(), [2, 3, 5, 6]);
    assert.ok(E.arange(3).data() instanceof BigInt64Array);
    assert.ok(E.zeros([2], { dtype: 'int32' }).data() instanceof Int32Array);
    assert.ok(E.zeros([2], { dtype: 'float64' }).data() instanceof Float64Array);
    assert.ok(E.zeros([2], { dtype: 'bool' }).data() instanceof Uint8Array);
    assert.ok(E.zeros([2], { dtype: 'bfloat16' }).data() instanceof Uint16Array);
  });

  test('data() is a copy: writing to it does not change the tensor', () => {
    const t = tensor([1, 2]);
    const d = t.data() as Float32Array;
    d[0] = 99;
    assert.deepEqual(t.toArray(), [1, 2]);
  });

  test('toArray() and item() give JS numbers', () => {
    assert.deepEqual(E.arange(3).toArray(), [0, 1, 2]);
    assert.equal(typeof E.arange(3).toArray()[0], 'number');
    assert.equal(tensor([2.5]).item(), 2.5);
    assert.equal(E.arange(5).sum().item(), 10);
    assert.equal(tensor([1, 2]).sum().item(), 3);
    assert.equal(f64([0.1]).item(), 0.1);
    assert.equal(tensor([3], [1, 1]).item(), 3);
    assert.throws(() => tensor([1, 2]).item(), RangeError);
    assert.deepEqual(Array.from(tensor([1, 2], undefined, { dtype: 'float16' }).toFloat32Array()), [1, 2]);
  });
});

describe('storage: views share, copies do not', () => {
  test('views alias the base tensor and writes show through', () => {
    const base = E.zeros([2, 3]);
    const views = [base.view(6), base.reshape(3, 2), base.transpose(0, 1), base.permute(1, 0), base.t(), base.select(0, 1),
      base.slice(1, 1), base.narrow(1, 0, 2), base.unsqueeze(0), base.flatten(), base.expand(4, 2, 3), base.detach(),
      base.contiguous(), base.squeeze(), ...base.split(1, 1), ...base.chunk(2), ...base.unbind(0), base.asStrided([2], [1])];
    for (const v of views) assert.ok(v.sharesStorageWith(base), 'view shares storage');
    base.select(0, 1).fill_(5);
    assert.deepEqual(base.toArray(), [0, 0, 0, 5, 5, 5]);
    base.transpose(0, 1).select(0, 0).fill_(7);
    assert.deepEqual(base.toArray(), [7, 0, 0, 7, 5, 5]);
    const v = base.view(6);
    v.add_(1);
    assert.deepEqual(base.toArray(), [8, 1, 1, 8, 6, 6]);
  });

  test('clone, contiguous of a non-contiguous view, and arithmetic results are new storage', () => {
    const base = tensor([1, 2, 3, 4], [2, 2]);
    const copies = [base.clone(), base.t().contiguous(), base.add(0), base.to({ dtype: 'float32', copy: true }), base.double()];
    for (const c of copies) assert.ok(!c.sharesStorageWith(base));
    const c = base.clone();
    c.fill_(0);
    assert.deepEqual(base.toArray(), [1, 2, 3, 4]);
    assert.ok(base.reshape(4).sharesStorageWith(base), 'reshape of a contiguous tensor is a view');
    assert.ok(!base.t().reshape(4).sharesStorageWith(base), 'reshape of a transposed tensor copies');
  });
});

describe('in-place ops', () => {
  test('return the same object and update its values', () => {
    const t = tensor([1, 2, 3]);
    const ops: [string, () => Tensor, number[]][] = [
      ['add_', () => t.add_(1), [2, 3, 4]],
      ['add_ tensor alpha', () => t.add_(tensor([1, 1, 1]), 2), [4, 5, 6]],
      ['sub_', () => t.sub_(1), [3, 4, 5]],
      ['sub_ tensor', () => t.sub_(tensor([1, 2, 3])), [2, 2, 2]],
      ['mul_', () => t.mul_(tensor([1, 2, 3])), [2, 4, 6]],
      ['mul_ scalar', () => t.mul_(0.5), [1, 2, 3]],
      ['div_', () => t.div_(tensor([1, 2, 3])), [1, 1, 1]],
      ['div_ scalar', () => t.div_(4), [0.25, 0.25, 0.25]],
      ['addcmul_', () => t.addcmul_(tensor([1, 2, 3]), tensor([2, 2, 2]), 0.5), [1.25, 2.25, 3.25]],
      ['addcdiv_', () => t.addcdiv_(tensor([1, 1, 1]), tensor([4, 4, 4]), 3), [2, 3, 4]],
      ['lerp_', () => t.lerp_(tensor([4, 4, 4]), 0.5), [3, 3.5, 4]],
      ['clamp_', () => t.clamp_(3.25, 3.75), [3.25, 3.5, 3.75]],
      ['fill_', () => t.fill_(4), [4, 4, 4]],
      ['sqrt_', () => t.sqrt_(), [2, 2, 2]],
      ['copy_', () => t.copy_(tensor([7, 8, 9])), [7, 8, 9]],
      ['maskedFill_', () => t.maskedFill_(tensor(Uint8Array.from([1, 0, 1]), undefined, { dtype: 'bool' }), 0), [0, 8, 0]],
      ['zero_', () => t.zero_(), [0, 0, 0]],
    ];
    for (const [name, op, expected] of ops) {
      const before = E.memory().liveTensors;
      const r = E.tidy(() => op());
      assert.equal(r, t, `${name} returns this`);
      assert.deepEqual(t.toArray(), expected, name);
      assert.equal(E.memory().liveTensors, before, `${name} leaves no extra handle`);
    }
    assert.ok(!t.isDisposed);
  });

  test('copy_ broadcasts and converts dtype', () => {
    const t = E.zeros([2, 2], { dtype: 'int32' });
    t.copy_(tensor([1.7, 2.2]));
    assert.deepEqual(t.toArray(), [1, 2, 1, 2]);
    assert.equal(t.dtype, 'int32');
  });

  test('uniform_ and normal_ fill in place with the requested distribution', () => {
    const t = E.zeros([2000]);
    assert.equal(t.uniform_(2, 3), t);
    const u = t.toArray();
    assert.ok(u.every((v) => v >= 2 && v < 3));
    assert.ok(Math.abs(t.mean().item() - 2.5) < 0.03);
    assert.equal(t.normal_(5, 0.5), t);
    assert.ok(Math.abs(t.mean().item() - 5) < 0.05);
    assert.ok(Math.abs(t.std().item() - 0.5) < 0.05);
  });

  test('in-place on a leaf that requires grad is refused by autograd', () => {
    const w = f64([1, 2], undefined, true);
    assert.throws(() => w.add_(1), /leaf Variable that requires grad/);
    E.noGrad(() => w.add_(1));
    assert.deepEqual(w.toArray(), [2, 3]);
  });
});

describe('autograd', () => {
  test('requiresGrad, isLeaf, gradFn', () => {
    const x = f64([1, 2, 3]);
    assert.equal(x.requiresGrad, false);
    x.requiresGrad = true;
    assert.equal(x.requiresGrad, true);
    assert.equal(x.isLeaf, true);
    assert.equal(x.gradFn, null);
    const y = x.mul(x);
    assert.equal(y.requiresGrad, true);
    assert.equal(y.isLeaf, false);
    assert.equal(y.gradFn, 'MulBackward0');
    assert.equal(x.mul(2).gradFn, 'MulBackward1');
    assert.equal(y.sum().gradFn, 'SumBackward0');
    const z = f64([1]);
    assert.equal(z.requiresGrad_(), z);
    assert.equal(z.requiresGrad, true);
    z.requiresGrad_(false);
    assert.equal(z.requiresGrad, false);
    assert.equal(tensor([1, 2, 3], undefined, { requiresGrad: true }).requiresGrad, true);
    assert.equal(E.zeros([2], { requiresGrad: true }).requiresGrad, true);
    assert.equal(E.randn([2], { requiresGrad: true }).requiresGrad, true);
  });

  test('backward of a scalar fills leaf grads', () => {
    const x = f64([1, 2, 3], undefined, true);
    assert.equal(x.grad, null);
    x.mul(x).sum().backward();
    assert.deepEqual(x.grad!.toArray(), [2, 4, 6]);
    assert.equal(x.grad!.dtype, 'float64');
  });

  test('backward with an explicit gradient (non-scalar output)', () => {
    const x = f64([1, 2, 3], undefined, true);
    const y = x.mul(3);
    assert.throws(() => y.backward(), /grad can be implicitly created only for scalar outputs/);
    y.backward(f64([1, 0.5, -1]));
    assert.deepEqual(x.grad!.toArray(), [3, 1.5, -3]);
    assert.throws(() => x.mul(x).backward(f64([1, 2])), Error, 'gradient of the wrong shape');
  });

  test('[engine bug 8] backward with a gradient whose shape differs from the output is an error, not a silent broadcast', () => {
    // PyTorch: "Mismatch in shape: grad_output[0] has a shape of torch.Size([2]) and output[0] has a shape of torch.Size([1])"
    const x = f64([1], undefined, true);
    assert.throws(() => x.mul(2).backward(f64([1, 1])), /shape/);
    assert.throws(() => E.backward([x.mul(2)], [f64([1, 1])]), /shape/);
    assert.throws(() => E.grad([x.mul(2)], [x], { gradOutputs: [f64([1, 1])] }), /shape/);
    assert.equal(x.grad, null, 'no gradient was accumulated');
  });

  test('[engine bug 9] assigning a grad of the wrong shape or dtype is refused at assignment', () => {
    // PyTorch: "assigned grad has data of a different size" / "... of a different type"
    const x = f64([1, 2], undefined, true);
    assert.throws(() => { x.grad = f64([1, 2, 3]); }, /size|shape/);
    assert.throws(() => { x.grad = tensor([1, 2]); }, /type|dtype/);
  });

  test('gradients accumulate over two backward calls; retainGraph allows a second pass', () => {
    const x = f64([1, 2], undefined, true);
    x.mul(x).sum().backward();
    x.mul(x).sum().backward();
    assert.deepEqual(x.grad!.toArray(), [4, 8]);
    const y = x.mul(x).sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    assert.deepEqual(x.grad!.toArray(), [8, 16]);
    assert.throws(() => y.backward(), /backward through the graph a second time/);
  });

  test('setting grad = null clears it; setting a tensor replaces it', () => {
    const x = f64([1, 2], undefined, true);
    x.mul(x).sum().backward();
    assert.notEqual(x.grad, null);
    x.grad = null;
    assert.equal(x.grad, null);
    x.mul(x).sum().backward();
    assert.deepEqual(x.grad!.toArray(), [2, 4], 'fresh gradient after clearing, not accumulated');
    x.grad = f64([10, 20]);
    x.mul(x).sum().backward();
    assert.deepEqual(x.grad!.toArray(), [12, 24]);
  });

  test('retainGrad keeps the gradient of a non-leaf', () => {
    const x = f64([1, 2], undefined, true);
    const y = x.mul(3);
    const y2 = x.mul(4);
    assert.equal(y.retainGrad(), y);
    y.mul(y).sum().add(y2.sum()).backward();
    assert.deepEqual(y.grad!.toArray(), [6, 12]);
    assert.equal(y2.grad, null, 'non-leaf without retainGrad has no grad');
    assert.deepEqual(x.grad!.toArray(), [18 + 4, 36 + 4]);
  });

  test('detach cuts the graph and shares storage', () => {
    const x = f64([1, 2], undefined, true);
    const d = x.mul(2).detach();
    assert.equal(d.requiresGrad, false);
    assert.equal(d.gradFn, null);
    assert.equal(d.isLeaf, true);
    const dx = x.detach();
    assert.ok(dx.sharesStorageWith(x));
    const y = x.mul(x.detach()).sum();
    y.backward();
    assert.deepEqual(x.grad!.toArray(), [1, 2], 'detached factor is a constant');
  });

  test('grad() returns gradients without touching .grad', () => {
    const x = f64([1, 2, 3], undefined, true);
    const w = f64([2], undefined, true);
    const y = x.mul(x).mul(w).sum();
    const [gx, gw] = E.grad([y], [x, w]);
    assert.deepEqual(gx!.toArray(), [4, 8, 12]);
    assert.deepEqual(gw!.toArray(), [14]);
    assert.equal(x.grad, null);
    assert.equal(w.grad, null);
    // gradOutputs, unused inputs, createGraph for a second derivative
    const z = f64([5], undefined, true);
    const v = x.mul(2);
    const [g1, gz] = E.grad([v], [x, z], { gradOutputs: [f64([1, 1, 2])], allowUnused: true });
    assert.deepEqual(g1!.toArray(), [2, 2, 4]);
    assert.equal(gz, null);
    assert.throws(() => E.grad([x.mul(2).sum()], [z]), /not have been used in the graph/);
    const [d1] = E.grad([x.pow(3).sum()], [x], { createGraph: true });
    assert.equal(d1!.requiresGrad, true);
    const [d2] = E.grad([d1!.sum()], [x]);
    assert.deepEqual(d2!.toArray(), [6, 12, 18]);
  });

  test('functional backward() over several outputs', () => {
    const x = f64([1, 2], undefined, true);
    E.backward([x.mul(2).sum(), x.mul(3)], [null, f64([1, 1])]);
    assert.deepEqual(x.grad!.toArray(), [5, 5]);
  });

  test('noGrad: no graph is recorded and the previous mode is restored (also on throw)', () => {
    const x = f64([1, 2], undefined, true);
    assert.equal(E.isGradEnabled(), true);
    const y = E.noGrad(() => {
      assert.equal(E.isGradEnabled(), false);
      return x.mul(2);
    });
    assert.equal(y.requiresGrad, false);
    assert.equal(y.gradFn, null);
    assert.equal(E.isGradEnabled(), true);
    assert.throws(() => E.noGrad(() => { throw new Error('boom'); }), /boom/);
    assert.equal(E.isGradEnabled(), true);
    E.noGrad(() => E.noGrad(() => undefined));
    assert.equal(E.isGradEnabled(), true);
    const z = E.noGrad(() => E.enableGrad(() => x.mul(2)));
    assert.equal(z.gradFn, 'MulBackward1');
  });

  test('inferenceMode: results are inference tensors with no graph', () => {
    const x = f64([1, 2], undefined, true);
    const y = E.inferenceMode(() => x.mul(2));
    assert.equal(E.native.isInferenceTensor(y.native), true);
    assert.equal(E.native.isInferenceTensor(x.native), false);
    assert.equal(y.requiresGrad, false);
    assert.equal(y.gradFn, null);
    assert.deepEqual(y.toArray(), [2, 4]);
    assert.equal(E.native.isInferenceTensor(x.mul(2).native), false, 'mode is left on return');
    assert.throws(() => E.inferenceMode(() => { throw new Error('boom'); }), /boom/);
    assert.equal(E.native.isInferenceTensor(x.mul(2).native), false, 'mode is left on throw');
    assert.throws(() => E.inferenceMode(() => Promise.resolve(1)), /must be synchronous/);
    // inference tensors cannot be saved for backward outside the mode
    assert.throws(() => x.mul(y).sum().backward(), /[Ii]nference tensors cannot be saved for backward/);
  });

  test('[engine bug 3] Tensor exposes isInference (torch.Tensor.is_inference)', () => {
    const y = E.inferenceMode(() => E.zeros([1]));
    const t = y as unknown as { isInference?: boolean };
    assert.equal(t.isInference, true);
    assert.equal((E.zeros([1]) as unknown as { isInference?: boolean }).isInference, false);
  });

  test('a model-style step: linear layer + loss, gradients match the closed form', () => {
    // y = w x + b, loss = mean((y - t)^2); dL/dw = 2/N sum((y - t) x), dL/db = 2/N sum(y - t)
    const xs = [1, 2, 3], ts = [2, 3, 5];
    const w = f64([0.5], [1, 1], true), b = f64([0.1], [1], true);
    const X = f64(xs, [3, 1]), T = f64(ts, [3, 1]);
    F.mseLoss(F.linear(X, w, b), T).backward();
    const r = xs.map((xi, i) => 0.5 * xi + 0.1 - ts[i]!);
    const gw = (2 / 3) * r.reduce((s, ri, i) => s + ri * xs[i]!, 0), gb = (2 / 3) * r.reduce((s, ri) => s + ri, 0);
    assert.ok(Math.abs(w.grad!.item() - gw) < 1e-12);
    assert.ok(Math.abs(b.grad!.item() - gb) < 1e-12);
  });
});
