// Tensor lifetimes: tidy / keep / dispose, and a leak check over a sample of ops (live handles and native bytes
// must return to their baseline). Every test here disposes what it makes, so counts are exact.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.ts';
import { type Tensor, tidy, keep, dispose, tensor, F, Generator } from '../../src/engine/index.ts';

const live = (): number => E.memory().liveTensors;
const bytes = (): number => E.memory().nativeBytes;
const i64 = (values: number[], shape?: number[]): Tensor => tensor(BigInt64Array.from(values.map(BigInt)), shape);

describe('tidy', () => {
  test('the live-handle counter sees a tensor made outside tidy until it is disposed', () => {
    const base = live(), b0 = bytes();
    const t = E.zeros([256]);
    assert.equal(live(), base + 1);
    assert.ok(bytes() >= b0 + 1024);
    t.dispose();
    assert.equal(live(), base);
    assert.equal(bytes(), b0);
    assert.ok(t.isDisposed);
    t.dispose(); // a second dispose is a no-op
    assert.equal(live(), base);
  });

  test('disposes intermediates and keeps the result', () => {
    const base = live(), b0 = bytes();
    let made: Tensor[] = [];
    const r = tidy(() => {
      const a = E.ones([3]);
      const b = a.add(1);
      const c = b.mul(a);
      made = [a, b, c];
      return c.sum();
    });
    assert.ok(made.every((t) => t.isDisposed));
    assert.ok(!r.isDisposed);
    assert.equal(r.item(), 6);
    assert.equal(live(), base + 1);
    r.dispose();
    assert.equal(live(), base);
    assert.equal(bytes(), b0);
  });

  test('returns non-tensor values untouched and frees everything', () => {
    const base = live();
    const v = tidy(() => E.arange(4).sum().item());
    assert.equal(v, 6);
    assert.equal(tidy(() => 'x'), 'x');
    assert.equal(live(), base);
  });

  test('tensors reachable from a returned array, object or Map survive', () => {
    const base = live();
    const out = tidy(() => {
      E.zeros([1]);
      return { a: E.ones([1]), list: [E.ones([2]), { deep: E.ones([3]) }], map: new Map([['m', E.ones([4])]]) };
    });
    assert.equal(live(), base + 4);
    assert.deepEqual(out.list[1] && (out.list[1] as { deep: Tensor }).deep.shape, [3]);
    assert.equal(out.map.get('m')!.numel, 4);
    dispose(out);
    assert.equal(live(), base);
  });

  test('tensors created before the tidy and used inside are not disposed', () => {
    const outer = E.ones([2]);
    const base = live();
    const r = tidy(() => outer.add(1).sum());
    assert.ok(!outer.isDisposed);
    assert.equal(live(), base + 1);
    r.dispose();
    const same = tidy(() => outer); // returning an outside tensor leaves it alone
    assert.equal(same, outer);
    assert.ok(!outer.isDisposed);
    outer.dispose();
  });

  test('nested tidy moves the result to the parent scope, which then disposes it', () => {
    const base = live();
    let inner: Tensor | null = null;
    const r = tidy(() => {
      inner = tidy(() => E.ones([2]).mul(3));
      assert.ok(!inner.isDisposed, 'inner result survives the inner tidy');
      assert.equal(live(), base + 1);
      return inner.sum();
    });
    assert.ok(inner!.isDisposed, 'the inner result belonged to the outer scope');
    assert.equal(r.item(), 6);
    assert.equal(live(), base + 1);
    r.dispose();
    const kept = tidy(() => tidy(() => E.ones([1])));
    assert.ok(!kept.isDisposed, 'returned through both scopes');
    kept.dispose();
    assert.equal(live(), base);
  });

  test('keep() survives every enclosing tidy until disposed by hand', () => {
    const base = live();
    let k: Tensor | null = null;
    tidy(() => {
      tidy(() => {
        k = keep(E.ones([5]));
        E.zeros([5]);
      });
      assert.ok(!k!.isDisposed);
    });
    assert.ok(!k!.isDisposed);
    assert.equal(live(), base + 1);
    assert.equal(keep(k!), k, 'keep returns its argument');
    k!.dispose();
    assert.equal(live(), base);
  });

  test('disposes everything made inside when fn throws, and rethrows', () => {
    const base = live(), b0 = bytes();
    const made: Tensor[] = [];
    assert.throws(() => tidy(() => {
      made.push(E.ones([100]), E.zeros([100]));
      made.push(tidy(() => E.ones([7])));
      throw new Error('boom');
    }), /boom/);
    assert.ok(made.every((t) => t.isDisposed));
    assert.equal(live(), base);
    assert.equal(bytes(), b0);
    // an error thrown by libtorch inside tidy behaves the same
    assert.throws(() => tidy(() => E.ones([2, 3]).matmul(E.ones([2, 3]))), /mat1 and mat2 shapes cannot be multiplied/);
    assert.equal(live(), base);
    // and the scope stack is intact afterwards
    const r = tidy(() => E.ones([1]).add(1));
    assert.equal(live(), base + 1);
    r.dispose();
  });

  test('rejects an async fn (and disposes what it made before its first await)', async () => {
    const base = live();
    let early: Tensor | null = null;
    let pending: Promise<unknown> | null = null;
    assert.throws(() => tidy((() => {
      pending = (async () => {
        early = E.ones([3]);
        await null;
        return 1;
      })();
      return pending;
    }) as () => unknown), /tidy: fn must be synchronous/);
    assert.ok(early!.isDisposed);
    assert.equal(live(), base);
    await pending;
    assert.throws(() => tidy(async () => E.ones([1])), /must be synchronous/);
    assert.equal(live(), base);
  });

  test('dispose() handles a tensor, arrays, nested objects, Maps and non-tensors', () => {
    const base = live();
    const a = E.ones([1]), b = E.ones([1]), c = E.ones([1]), d = E.ones([1]), e = E.ones([1]);
    dispose([a, { b, nested: [c, null, 3, 'x'] }, new Map([['d', d]])]);
    assert.ok([a, b, c, d].every((t) => t.isDisposed));
    assert.ok(!e.isDisposed);
    dispose(e);
    assert.ok(e.isDisposed);
    dispose(null);
    dispose(undefined);
    dispose([a, a]); // already disposed: no-op
    assert.equal(live(), base);
  });
});

describe('memory()', () => {
  test('nativeBytes tracks allocations; peak survives until reset', () => {
    const b0 = bytes();
    E.resetPeakMemory();
    tidy(() => {
      E.zeros([1 << 20]); // 4 MiB
      assert.ok(bytes() >= b0 + (4 << 20));
    });
    assert.equal(bytes(), b0);
    assert.ok(E.memory().peakNativeBytes >= b0 + (4 << 20));
    E.resetPeakMemory();
    assert.equal(E.memory().peakNativeBytes, bytes());
    assert.ok(E.memory().rssBytes > 0);
  });
});

// ------------------------------------------------------------------------------------------------------------
// Leak check: every sample op is run (1) inside tidy, and (2) outside any scope on inputs made beforehand, with
// only its returned tensors disposed afterwards. Both must bring live handles and native bytes back to the
// baseline. (2) catches ops that drop part of a tuple or leave an intermediate undisposed (tidy would hide it).
interface Sample { name: string; make: () => Tensor[]; op: (...t: Tensor[]) => unknown }
const x4 = (): Tensor => E.randn([2, 4, 6, 6]);
const SAMPLES: Sample[] = [
  { name: 'add/mul/div broadcasting', make: () => [x4(), E.ones([6]), E.full([1, 4, 1, 1], 3)], op: (a, b, c) => { const ab = a!.add(b!); return [ab, ab.mul(2), a!.div(c!), a!.sub(1), a!.pow(2)]; } },
  { name: 'tensor() with dtype conversion', make: () => [], op: () => [tensor([1, 2, 3], undefined, { dtype: 'float64' }), tensor(new Float32Array([1, 2]), undefined, { dtype: 'int64' })] },
  { name: 'creation: like, requiresGrad, generator, arange, linspace', make: () => [x4()], op: (a) => [E.zerosLike(a!), E.onesLike(a!), E.fullLike(a!, 2), E.zeros([3], { requiresGrad: true }), E.randn([3], { generator: new Generator(1) }), E.arange(5), E.linspace(0, 1, 4), E.eye(3), E.scalar(2)] },
  { name: 'to / clone / contiguous(channelsLast) / detach', make: () => [x4()], op: (a) => [a!.to('float64'), a!.clone(), a!.contiguous('channelsLast'), a!.to({ memoryFormat: 'channelsLast' }), a!.detach(), a!.to('float32')] },
  { name: 'item / toArray / toFloat32Array / data', make: () => [E.ones([1]), E.ones([3], { dtype: 'float16' }), E.arange(5), E.ones([2], { dtype: 'float64' })], op: (a, h, i, d) => [a!.item(), h!.toFloat32Array(), i!.toArray(), d!.toFloat32Array(), i!.data(), h!.toArray()] },
  { name: 'in-place ops', make: () => [E.ones([4]), E.ones([4]), E.ones([4], { dtype: 'bool' })], op: (t, o, m) => t!.add_(1).mul_(2).sub_(o!).clamp_(0, 2).sqrt_().addcmul_(o!, o!).lerp_(o!, 0.5).copy_(o!).maskedFill_(m!, 1).uniform_().normal_().fill_(2).zero_() },
  { name: 'max(dim) / min(dim) pairs', make: () => [x4()], op: (a) => [...a!.max(1), ...a!.min(2, true), a!.max(), a!.argmax(1)] },
  { name: 'sort / topk / argsort', make: () => [x4()], op: (a) => [...a!.sort(-1), ...a!.topk(2), a!.argsort(1)] },
  { name: 'split / chunk / unbind', make: () => [x4()], op: (a) => [...a!.split(2, 1), ...a!.chunk(3, 2), ...a!.unbind(0), ...a!.split([1, 3], 1)] },
  { name: 'maxPool2d / maxPool2dWithIndices / maxPool3d', make: () => [x4(), E.randn([1, 1, 4, 4, 4])], op: (a, v) => [F.maxPool2d(a!, 2), ...F.maxPool2dWithIndices(a!, 2), F.maxPool3d(v!, 2)] },
  { name: 'adaptiveMaxPool2d / 3d (indices dropped inside)', make: () => [x4(), E.randn([1, 1, 4, 4, 4])], op: (a, v) => [F.adaptiveMaxPool2d(a!, 3), F.adaptiveMaxPool3d(v!, 2)] },
  { name: 'avg and adaptive avg pooling', make: () => [x4(), E.randn([1, 1, 4, 4, 4])], op: (a, v) => [F.avgPool2d(a!, 2), F.adaptiveAvgPool2d(a!, 2), F.avgPool3d(v!, 2), F.adaptiveAvgPool3d(v!, 3)] },
  { name: 'conv2d / convTranspose2d / conv3d', make: () => [x4(), E.randn([3, 4, 3, 3]), E.randn([3]), E.randn([4, 2, 2, 2]), E.randn([1, 2, 3, 3, 3]), E.randn([2, 2, 2, 2, 2])], op: (a, w, b, wt, v, w3) => [F.conv2d(a!, w!, b!, { padding: 1 }), F.convTranspose2d(a!, wt!, null, { stride: 2 }), F.conv3d(v!, w3!)] },
  { name: 'interpolate modes', make: () => [x4()], op: (a) => [F.interpolate(a!, { size: 9, mode: 'bilinear' }), F.interpolate(a!, { size: 3, mode: 'bicubic', antialias: true }), F.interpolate(a!, { scaleFactor: 2 })] },
  { name: 'norms (batch norm updates running stats in place)', make: () => [x4(), E.zeros([4]), E.ones([4])], op: (a, rm, rv) => [F.layerNorm(a!, [6]), F.groupNorm(a!, 2), F.instanceNorm(a!), F.batchNorm(a!, rm!, rv!, { training: true })] },
  { name: 'activations and softmax', make: () => [x4()], op: (a) => [F.gelu(a!, 'tanh'), F.silu(a!), F.softmax(a!, 1), F.logSoftmax(a!, -1), F.leakyRelu(a!), F.hardswish(a!)] },
  { name: 'linear / attention (intermediates disposed inside)', make: () => [x4(), E.randn([5, 6]), E.randn([2, 3, 4]), E.randn([2, 5, 4]), E.randn([3, 5])], op: (a, w, q, k, b) => [F.linear(a!, w!), F.attention(q!, k!, k!, { bias: b })] },
  { name: 'losses', make: () => [E.randn([4, 3]), tensor(BigInt64Array.from([0n, 1n, 2n, 1n])), E.randn([3]), E.rand([3])], op: (l, t, z, p) => [F.crossEntropy(l!, t!, { labelSmoothing: 0.1 }), F.bceWithLogits(z!, p!, { posWeight: p }), F.mseLoss(z!, p!), F.l1Loss(z!, p!), F.nllLoss(l!, t!)] },
  { name: 'indexing', make: () => [x4(), i64([1, 0]), E.zeros([2, 1, 6, 6], { dtype: 'int64' }), E.ones([6], { dtype: 'bool' }), E.scalar(1)], op: (a, i, g, m, one) => [a!.index([i!]), a!.gather(1, g!), a!.nonzero(), a!.maskedSelect(m!), a!.indexSelect(0, i!), a!.scatterAdd(1, g!, a!), a!.indexPut([i!], one!, true)] },
  { name: 'pad / cat / stack / where', make: () => [x4(), x4(), E.ones([6], { dtype: 'bool' })], op: (a, b, m) => [F.pad(a!, [1, 1, 1, 1], 'reflect'), F.pad(a!, [1, 1]), F.cat([a!, b!]), F.stack([a!, b!]), F.where(m!, 1, b!), F.where(m!, a!, b!), a!.maskedFill(m!, 0)] },
  { name: 'dropout', make: () => [x4()], op: (a) => [F.dropout(a!, 0.3), F.featureDropout(a!, 0.3)] },
  { name: 'autocast matmul', make: () => [E.randn([4, 4]), E.randn([4, 4])], op: (a, b) => E.autocast(() => a!.matmul(b!)) },
  { name: 'noGrad / inferenceMode', make: () => [x4()], op: (a) => [E.noGrad(() => a!.mul(2)), E.inferenceMode(() => a!.mul(2))] },
  { name: 'backward and the grad getter', make: () => [E.randn([3], { requiresGrad: true })], op: (w) => { const y = w!.mul(w!), s = y.sum(); s.backward(); const g = w!.grad; w!.grad = null; return [y, s, g]; } },
  { name: 'autograd.grad', make: () => [E.randn([3], { requiresGrad: true })], op: (w) => { const y = w!.exp(), s = y.sum(); return [y, s, ...E.grad([s], [w!])]; } },
  { name: 'Generator state', make: () => [], op: () => { const g = new Generator(3); const s = g.getState(); g.setState(s); return [s, E.getRngState()]; } },
];

/** Live-handle and byte deltas of one sample: inside tidy, and as an untracked call whose outputs are disposed. */
function leakDeltas(s: Sample): { tidyHandles: number; tidyBytes: number; handles: number; bytes: number } {
  tidy(() => { s.op(...s.make()); }); // warm up lazily created native caches
  const base = live(), b0 = bytes();
  tidy(() => { s.op(...s.make()); });
  const tidyHandles = live() - base, tidyBytes = bytes() - b0;
  const inputs = s.make();
  const withInputs = live();
  const out = s.op(...inputs);
  const ins = new Set(inputs);
  dispose([...collect(out)].filter((t) => !ins.has(t)));
  const handles = live() - withInputs;
  dispose(inputs);
  return { tidyHandles, tidyBytes, handles, bytes: bytes() - b0 };
}

describe('no op leaks handles or memory', () => {
  test('the check itself catches an op that drops one element of a tuple', () => {
    const dropped: Tensor[] = []; // held here only so the test can clean up (and GC cannot skew later counts)
    const leaky: Sample = {
      name: 'leaky', make: () => [x4()],
      op: (a) => { const [v, idx] = E.callTs('max_pool2d_with_indices', [a!, [2, 2]]); dropped.push(idx!); return v; },
    };
    const d = leakDeltas(leaky);
    assert.equal(d.tidyHandles, 0, 'tidy hides it');
    assert.equal(d.handles, 1, 'the untracked call exposes the dropped indices tensor');
    assert.ok(d.bytes > 0);
    dispose(dropped);
  });

  for (const s of SAMPLES) {
    test(s.name, () => {
      const d = leakDeltas(s);
      assert.equal(d.tidyHandles, 0, 'live handles after tidy');
      assert.equal(d.tidyBytes, 0, 'native bytes after tidy');
      assert.equal(d.handles, 0, 'live handles after disposing what an untracked call returned');
      assert.equal(d.bytes, 0, 'native bytes after disposing inputs and outputs');
    });
  }
});

function collect(v: unknown, out: Set<Tensor> = new Set()): Set<Tensor> {
  if (v instanceof E.Tensor) out.add(v);
  else if (Array.isArray(v)) for (const x of v) collect(x, out);
  return out;
}
