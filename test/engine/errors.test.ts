// Failures surface as JS errors with the op's name and libtorch's reason, never as a crash, and leave no handles.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as E from '../../src/engine/index.ts';
import { type Tensor, tensor, F, callT } from '../../src/engine/index.ts';

const i64 = (values: number[], shape?: number[]): Tensor => tensor(BigInt64Array.from(values.map(BigInt)), shape);
const DTYPE_ERROR = /^Expected one of float32, float64, bfloat16, float16, int64, int32, int16, int8, uint8, bool for dtype but received (.+) of type (\w+)$/;

/** Asserts fn throws an instance of `type` whose message matches every pattern; returns the message. */
function throwsWith(fn: () => unknown, type: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor, ...patterns: RegExp[]): string {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== null, 'expected an error');
  assert.ok(caught instanceof type, `expected ${type.name} but got ${(caught as Error)?.constructor?.name}: ${(caught as Error)?.message}`);
  const msg = (caught as Error).message;
  for (const p of patterns) assert.match(msg, p);
  return msg;
}

const baseline = E.memory().liveTensors;
const a23 = E.keep(E.ones([2, 3]));
after(() => a23.dispose());

describe('shape mismatches carry the op name and libtorch\'s reason', () => {
  test('matmul', () => {
    E.tidy(() => {
      throwsWith(() => a23.matmul(E.ones([2, 3])), Error, /aten::matmul/, /mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)/);
      throwsWith(() => E.ones([3]).matmul(E.ones([2])), Error, /aten::matmul/, /inconsistent tensor size/);
      throwsWith(() => E.ones([2, 2, 3]).matmul(E.ones([3, 2, 4])), Error, /aten::matmul/, /must match the size of tensor b/);
      throwsWith(() => F.bmm(E.ones([2, 2, 3]), E.ones([2, 4, 2])), Error, /aten::bmm/, /Expected size for first two dimensions of batch2 tensor to be: \[2, 3\]/);
      throwsWith(() => a23.mm(E.ones([3])), Error, /aten::mm/, /mat2 must be a matrix/);
    });
  });

  test('add broadcasting and other elementwise ops', () => {
    E.tidy(() => {
      throwsWith(() => a23.add(E.ones([2])), Error, /aten::add\.Tensor/, /The size of tensor a \(3\) must match the size of tensor b \(2\) at non-singleton dimension 1/);
      throwsWith(() => a23.mul(E.ones([4, 3])), Error, /aten::mul\.Tensor/, /must match the size/);
      throwsWith(() => a23.where(E.ones([5], { dtype: 'bool' }), 0), Error, /aten::where/, /must match the size/);
      throwsWith(() => a23.add_(E.ones([2, 2, 3])), Error, /aten::add_\.Tensor/, /doesn't match the broadcast shape/);
    });
  });

  test('conv channel mismatch: the JS check and the libtorch check', () => {
    E.tidy(() => {
      const x = E.ones([1, 2, 4, 4]), w = E.ones([4, 3, 3, 3]);
      throwsWith(() => F.conv2d(x, w), RangeError, /^conv2d: /, /input has 2 channels but weight expects 3/);
      throwsWith(() => callT('conv2d', [x, w]), Error, /aten::conv2d/, /expected input\[1, 2, 4, 4\] to have 3 channels, but got 2 channels instead/);
      throwsWith(() => F.conv2d(x, E.ones([4, 2, 3, 3]), null, { groups: 2 }), RangeError, /conv2d/, /weight expects 4 .*groups 2/);
      throwsWith(() => callT('conv2d', [x, E.ones([3, 1, 3, 3]), null, [1, 1], [0, 0], [1, 1], 2]), Error, /aten::conv2d/, /Given groups=2, expected weight to be divisible by 2 at dimension 0/);
      throwsWith(() => F.conv2d(E.ones([1, 2, 2, 2]), E.ones([1, 2, 3, 3])), Error, /aten::conv2d/, /Kernel size can't be greater than actual input size/);
      throwsWith(() => F.convTranspose2d(x, E.ones([3, 1, 2, 2])), RangeError, /conv_transpose2d/, /2 channels but weight expects 3/);
      throwsWith(() => F.conv2d(E.ones([2, 4, 4]).unsqueeze(0).unsqueeze(0), w), RangeError, /conv2d: expected a 3-d or 4-d tensor for input/);
    });
  });

  test('views, reshapes, cat, norms, linear and losses', () => {
    E.tidy(() => {
      throwsWith(() => a23.transpose(0, 1).view(6), Error, /aten::view/, /view size is not compatible with input tensor's size and stride/);
      throwsWith(() => a23.reshape(5), Error, /aten::reshape/, /shape '\[5\]' is invalid for input of size 6/);
      throwsWith(() => F.cat([a23, E.ones([2, 2])]), Error, /aten::cat/, /Sizes of tensors must match except in dimension 0/);
      throwsWith(() => F.stack([a23, E.ones([2, 2])]), Error, /aten::stack/, /stack expects each tensor to be equal size/);
      throwsWith(() => F.layerNorm(a23, [4]), Error, /aten::layer_norm/, /normalized_shape=\[4\]/);
      throwsWith(() => F.groupNorm(E.ones([1, 6, 2]), 4), RangeError, /group_norm: 6 channels are not divisible into 4 groups/);
      throwsWith(() => F.linear(a23, E.ones([4, 2])), RangeError, /^linear: input has 3 features but weight \[4, 2\] expects 2/);
      throwsWith(() => F.mseLoss(a23, E.ones([3])), RangeError, /^mse_loss: target shape \[3\] differs from input shape \[2, 3\]/);
      throwsWith(() => F.crossEntropy(a23, i64([0, 1, 2])), Error, /aten::cross_entropy_loss/, /Expected input batch_size \(2\) to match target batch_size \(3\)/);
      throwsWith(() => F.interpolate(a23, { size: 2 }), RangeError, /interpolate: expected a 3-d, 4-d or 5-d input/);
      throwsWith(() => F.interpolate(E.ones([1, 1, 4, 4]), { size: 2, mode: 'trilinear' }), RangeError, /trilinear needs a 5-d input/);
      throwsWith(() => a23.expand(3, 3), Error, /aten::expand/, /The expanded size of the tensor \(3\) must match the existing size \(2\)/);
    });
  });
});

describe('dtype names are validated in one format', () => {
  test('creation, reductions and conversions reject unknown dtype strings with the sharp-style TypeError', () => {
    E.tidy(() => {
      const bad = 'float33' as unknown as E.DType;
      for (const fn of [() => E.zeros([2], { dtype: bad }), () => E.ones([2], { dtype: bad }), () => E.full([2], 1, { dtype: bad }),
        () => E.arange(3, undefined, 1, { dtype: bad }), () => E.randn([2], { dtype: bad }),
        () => a23.sum(0, false, bad), () => a23.cumsum(0, bad), () => F.softmax(a23, 0, bad)]) {
        throwsWith(fn, TypeError, DTYPE_ERROR);
      }
      assert.match(throwsWith(() => E.zeros([2], { dtype: 'float33' as E.DType }), TypeError), /received float33 of type string$/);
      assert.match(throwsWith(() => E.zeros([2], { dtype: 6 as unknown as E.DType }), TypeError), /for dtype but received 6 of type number$/);
      assert.match(throwsWith(() => E.zeros([2], { dtype: 'Float32' as E.DType }), TypeError), DTYPE_ERROR);
    });
  });

  test('[engine bug 4] x.to(badDtypeString) raises the dtype TypeError instead of an "Invalid device string" error', () => {
    E.tidy(() => {
      throwsWith(() => a23.to('float33'), TypeError, DTYPE_ERROR);
      throwsWith(() => a23.to('fp16'), TypeError, DTYPE_ERROR);
      // tensor(number[]) converts through .to(dtype), so it inherits the device error
      throwsWith(() => tensor([1], undefined, { dtype: 'float33' as E.DType }), TypeError, DTYPE_ERROR);
      throwsWith(() => tensor(new Float32Array([1]), undefined, { dtype: 'float33' as E.DType }), TypeError, DTYPE_ERROR);
    });
  });
});

describe('out-of-range indices are errors, never crashes', () => {
  test('select, indexSelect, gather, index, scatter, embedding, narrow, size()', () => {
    E.tidy(() => {
      throwsWith(() => a23.select(0, 5), Error, /aten::select\.int/, /index 5 out of range for tensor of size \[2, 3\] at dimension 0/);
      throwsWith(() => a23.select(2, 0), Error, /aten::select\.int/, /Dimension out of range/);
      throwsWith(() => a23.indexSelect(0, i64([0, 7])), Error, /aten::index_select/, /index out of range in self/);
      throwsWith(() => a23.indexSelect(1, i64([-1])), Error, /aten::index_select/, /out of DATA bounds, id=-1/);
      throwsWith(() => a23.gather(1, i64([0, 9], [1, 2])), Error, /aten::gather/, /index 9 is out of bounds for dimension 1 with size 3/);
      throwsWith(() => a23.index([i64([5])]), Error, /aten::index\.Tensor/, /index 5 is out of bounds for dimension 0 with size 2/);
      throwsWith(() => E.zeros([3]).scatter(0, i64([5]), 1), Error, /aten::scatter\.value/, /index 5 is out of bounds/);
      throwsWith(() => E.zeros([3]).scatterAdd(0, i64([3]), E.ones([1])), Error, /aten::scatter_add/, /out of bounds/);
      throwsWith(() => F.embedding(i64([5]), a23), Error, /aten::embedding/, /index out of range in self/);
      throwsWith(() => a23.narrow(1, 2, 5), Error, /aten::narrow/, /start \(2\) \+ length \(5\) exceeds dimension size \(3\)/);
      throwsWith(() => a23.transpose(0, 3), Error, /aten::transpose\.int/, /Dimension out of range/);
      throwsWith(() => a23.size(2), RangeError, /size: dim 2 out of range for a 2-d tensor/);
      throwsWith(() => F.crossEntropy(a23, i64([0, 3])), Error, /aten::cross_entropy_loss/, /Target 3 is out of bounds/);
      throwsWith(() => F.oneHot(i64([4]), 3), Error, /aten::one_hot/, /Class values must be smaller than num_classes/);
    });
  });

  test('an out-of-range index inside a large parallel kernel is still an Error', () => {
    E.tidy(() => {
      const big = E.zeros([200000]);
      const idx = E.zeros([200000], { dtype: 'int64' });
      idx.narrow(0, 150000, 1).fill_(999999);
      throwsWith(() => big.indexSelect(0, idx), Error, /index out of range/);
      throwsWith(() => big.gather(0, idx), Error, /out of bounds/);
      throwsWith(() => big.index([idx]), Error, /out of bounds/);
    });
  });
});

describe('disposed tensors', () => {
  test('any use of a disposed tensor raises a clear Error', () => {
    E.tidy(() => {
      const d = E.ones([2]);
      d.dispose();
      assert.ok(d.isDisposed);
      for (const fn of [() => d.add(1), () => E.ones([2]).add(d), () => F.relu(d), () => d.shape, () => d.dtype, () => d.toArray(),
        () => d.item(), () => F.cat([E.ones([2]), d]), () => d.backward(), () => d.requiresGrad, () => E.ones([1]).sharesStorageWith(d)]) {
        throwsWith(fn, Error, /tensor was disposed/);
      }
    });
  });

  test('a tensor disposed by a finished tidy cannot be used afterwards', () => {
    let escaped: Tensor | null = null;
    E.tidy(() => {
      escaped = E.ones([2]);
    });
    throwsWith(() => escaped!.sum(), Error, /tensor was disposed/);
  });
});

describe('wrong argument types', () => {
  test('a string where a tensor belongs: TypeError naming the argument', () => {
    E.tidy(() => {
      const s = 'x' as unknown as Tensor;
      throwsWith(() => a23.matmul(s), TypeError, /expected a tensor for other/);
      throwsWith(() => a23.add(s), TypeError, /^Expected a Tensor or number for other in add but received x of type string$/);
      throwsWith(() => a23.mul({} as unknown as Tensor), TypeError, /for other in mul/);
      throwsWith(() => F.relu(s), TypeError, /expected a tensor for self/);
      throwsWith(() => F.softmax(s, 0), TypeError, /expected a tensor for self/);
      throwsWith(() => F.cat([a23, s]), TypeError, /expected a tensor for tensors/);
      throwsWith(() => F.where(s, a23, a23), TypeError, /expected a tensor for condition/);
      throwsWith(() => F.layerNorm(s, [3]), TypeError, /expected a tensor for input/);
      throwsWith(() => a23.gather(1, s), TypeError, /expected a tensor for index/);
      throwsWith(() => callT('relu', [null]), TypeError, /expected a tensor for self/);
      throwsWith(() => callT('relu', ['x']), TypeError, /expected a tensor for self/);
      throwsWith(() => F.cat('x' as unknown as Tensor[]), TypeError, /^Expected a non-empty array of tensors for tensors/);
      throwsWith(() => F.cat([]), TypeError, /non-empty array of tensors/);
    });
  });

  test('[engine bug 10] a number where a tensor belongs is a TypeError, never another tensor looked up by id', () => {
    E.tidy(() => {
      const victim = E.tensor([-5, 7]);
      const id = victim.native as unknown as Tensor; // what a stray number can coincide with
      throwsWith(() => callT('relu', [id]), TypeError, /expected a tensor for self/);
      throwsWith(() => callT('relu', [3]), TypeError, /expected a tensor for self/);
      throwsWith(() => a23.matmul(0 as unknown as Tensor), TypeError, /expected a tensor for other/);
      throwsWith(() => callT('add.Tensor', [victim, id]), TypeError, /expected a tensor for other/);
      throwsWith(() => a23.gather(1, 0 as unknown as Tensor), TypeError, /expected a tensor for index/);
      throwsWith(() => F.cat([a23, 0 as unknown as Tensor]), TypeError, /expected a tensor for tensors/);
    });
  });

  test('[engine bug 5] ops with JS pre-checks name the bad tensor argument instead of failing on .shape', () => {
    E.tidy(() => {
      const s = 'oops' as unknown as Tensor;
      const w = E.ones([1, 1, 1, 1]);
      for (const [name, fn] of [
        ['conv2d', () => F.conv2d(s, w)], ['convTranspose2d', () => F.convTranspose2d(s, w)], ['linear', () => F.linear(s, a23)],
        ['interpolate', () => F.interpolate(s, { size: 2 })], ['maxPool2d', () => F.maxPool2d(s, 2)], ['avgPool2d', () => F.avgPool2d(s, 2)],
        ['groupNorm', () => F.groupNorm(s, 1)], ['mseLoss', () => F.mseLoss(s, a23)], ['l1Loss', () => F.l1Loss(a23, s)],
        ['bceWithLogits', () => F.bceWithLogits(s, a23)], ['attention', () => F.attention(s, a23, a23)], ['pad', () => F.pad(s, [1, 1])],
      ] as [string, () => unknown][]) {
        const msg = throwsWith(fn, TypeError);
        assert.doesNotMatch(msg, /Cannot read properties|Invalid array length|is not a function/, `${name}: ${msg}`);
        assert.match(msg, /\bfor (input|target|logits|q|x|self)\b/, `${name} should name its argument: ${msg}`);
      }
    });
  });

  test('wrong scalar and list types name the argument', () => {
    E.tidy(() => {
      throwsWith(() => a23.sum('x' as unknown as number), TypeError, /\bdim\b/);
      throwsWith(() => a23.transpose('x' as unknown as number, 0), TypeError, /\bdim0\b/);
      throwsWith(() => a23.clamp('x' as unknown as number), TypeError, /\bmin\b/);
      throwsWith(() => F.leakyRelu(a23, 'x' as unknown as number), TypeError, /negative_slope/);
      throwsWith(() => a23.view('x' as unknown as number), TypeError, /size/);
    });
  });

  test('[engine bug 6] a non-integer number for an int argument is rejected, not truncated', () => {
    E.tidy(() => {
      throwsWith(() => a23.transpose(0.5, 1), TypeError, /dim0/);
      throwsWith(() => a23.select(0, NaN), TypeError, /index/);
      throwsWith(() => a23.view(1.5, 4), TypeError, /size/);
    });
  });

  test('invalid option values give sharp-style TypeErrors before any native call', () => {
    E.tidy(() => {
      const x = E.ones([1, 1, 4, 4]);
      throwsWith(() => F.interpolate(x, { size: 2, mode: 'cubic' as 'bicubic' }), TypeError, /^Expected one of nearest, linear, bilinear, bicubic, trilinear, nearest-exact for mode but received cubic of type string$/);
      throwsWith(() => F.interpolate(x, { size: 2, scaleFactor: 2 }), TypeError, /exactly one of size or scaleFactor/);
      throwsWith(() => F.interpolate(x, {}), TypeError, /exactly one of size or scaleFactor/);
      throwsWith(() => F.interpolate(x, { size: 2, alignCorners: true }), TypeError, /alignCorners only applies/);
      throwsWith(() => F.interpolate(x, { size: 2, mode: 'nearest', antialias: true }), TypeError, /antialias only applies/);
      throwsWith(() => F.interpolate(x, { size: [2, 2, 2] }), TypeError, /^Expected 2 sizes for size/);
      throwsWith(() => F.mseLoss(x, x, 'avg' as 'mean'), TypeError, /^Expected one of none, mean, sum for reduction but received avg of type string$/);
      throwsWith(() => F.gelu(x, 'fast' as 'tanh'), TypeError, /^Expected one of none, tanh for approximate but received fast/);
      throwsWith(() => F.pad(x, [1, 1], 'mirror' as 'reflect'), TypeError, /for mode but received mirror/);
      throwsWith(() => F.pad(x, [1]), TypeError, /even-length list of pads/);
      throwsWith(() => F.conv2d(x, E.ones([1, 1, 1, 1]), null, { stride: 0 }), TypeError, /^Expected an integer >= 1 or a list of 2 such integers for stride but received 0 of type number$/);
      throwsWith(() => F.conv2d(x, E.ones([1, 1, 1, 1]), null, { padding: [1, 2, 3] }), TypeError, /for padding but received \[1, 2, 3\]/);
      throwsWith(() => F.conv2d(x, E.ones([1, 1, 1, 1]), null, { groups: 0 }), TypeError, /^Expected integer >= 1 for groups but received 0/);
      throwsWith(() => F.maxPool2d(x, 0), TypeError, /kernelSize/);
      throwsWith(() => F.dropout(x, 2), TypeError, /^Expected number between 0 and 1 for p but received 2/);
      throwsWith(() => F.groupNorm(x, 0), TypeError, /numGroups/);
      throwsWith(() => E.setNumThreads(0), RangeError, /^Expected integer between 1 and \d+ for threads but received 0/);
      throwsWith(() => E.setNumThreads(1e6), RangeError, /^Expected integer between 1 and \d+ for threads but received 1000000/);
      throwsWith(() => E.autocast(() => 0, { dtype: 'float32' }), TypeError, /^Expected bfloat16 for autocast dtype but received float32 of type string$/);
      throwsWith(() => tensor([1, 2, 3], [2, 2]), RangeError, /^Expected 4 values for shape \[2, 2\] but received 3$/);
      throwsWith(() => a23.item(), RangeError, /item: expected a tensor with one element but it has 6/);
    });
  });

  test('dispatcher-level misuse: unknown ops and overloads, missing and extra arguments', () => {
    E.tidy(() => {
      throwsWith(() => callT('nosuchop', [a23]), Error, /resolveOp\(aten::nosuchop\): no such operator/);
      throwsWith(() => callT('add.Nope', [a23]), Error, /resolveOp\(aten::add\.Nope\): no such operator/);
      throwsWith(() => callT('add.Tensor', [a23]), Error, /aten::add\.Tensor: missing argument 'other'/);
      throwsWith(() => callT('relu', [a23, a23]), Error, /aten::relu: takes 1 arguments but 2 were given/);
    });
  });

  test('autograd misuse', () => {
    E.tidy(() => {
      throwsWith(() => E.ones([2]).sum().backward(), Error, /^backward: element 0 of tensors does not require grad and does not have a grad_fn/);
      const x = E.ones([2], { requiresGrad: true });
      throwsWith(() => x.mul(2).backward(), Error, /grad can be implicitly created only for scalar outputs/);
      throwsWith(() => E.grad([x.sum()], [E.ones([2])]), Error, /^grad: One of the differentiated Tensors does not require grad/);
      throwsWith(() => E.tidy(async () => 1), Error, /tidy: fn must be synchronous/);
    });
  });
});

describe('the process survives', () => {
  test('after all of the above the engine still computes, and no handles leaked', () => {
    const r = E.tidy(() => E.ones([2, 2]).matmul(E.ones([2, 2])).sum().item());
    assert.equal(r, 8);
    assert.equal(E.memory().liveTensors, baseline + 1, 'only the kept a23 remains');
  });

  test('autocast with float16 raises a JS error instead of aborting the process (libtorch 1.13 CPU autocast is bf16-only)', () => {
    // libtorch 1.13's CPU autocast only accepts bfloat16; native autocastEnter calls set_autocast_cpu_dtype outside
    // Guard, so the c10::Error terminates the process.
    const res = runChild(`
      for (const enabled of [true, false]) {
        try { E.autocast(() => 0, { dtype: 'float16', enabled }); process.stdout.write('no error;'); }
        catch (e) { process.stdout.write(e.constructor.name + ';'); }
      }
      process.stdout.write(String(E.isAutocastEnabled()));
    `);
    assert.equal(res.signal, null, `child died by signal ${res.signal}: ${res.stderr.split('\n')[0]}`);
    assert.equal(res.status, 0, res.stderr.split('\n').slice(0, 2).join(' '));
    assert.equal(res.stdout, 'TypeError;TypeError;false');
  });

  test('a child process hammering error paths exits normally', () => {
    const script = `
      const a = E.ones([2, 3]);
      const idx = E.tensor(BigInt64Array.from([7n]));
      let n = 0;
      for (let i = 0; i < 3; i++) {
        for (const f of [() => a.matmul(a), () => a.add(E.ones([2])), () => a.select(0, 9), () => a.indexSelect(0, idx),
          () => a.gather(0, idx.view(1, 1)), () => E.F.conv2d(a.view(1, 1, 2, 3), E.ones([1, 2, 1, 1])), () => a.view(4)]) {
          try { E.tidy(f); } catch { n++; }
        }
      }
      const live = E.memory().liveTensors;
      process.stdout.write(JSON.stringify({ n, live }));
    `;
    const res = runChild(script);
    assert.equal(res.signal, null, `child died by signal ${res.signal}: ${res.stderr}`);
    assert.equal(res.status, 0, res.stderr);
    const out = JSON.parse(res.stdout) as { n: number; live: number };
    assert.equal(out.n, 21, 'every call raised');
    assert.equal(out.live, 2, 'only a and idx are alive');
  });
});

/** Runs an ES module snippet (with the engine imported as E) in a fresh node process. */
function runChild(body: string): { status: number | null; signal: string | null; stdout: string; stderr: string } {
  const script = `import * as E from ${JSON.stringify(new URL('../../src/engine/index.ts', import.meta.url).href)};\n${body}`;
  const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30000 });
  return { status: res.status, signal: res.signal, stdout: res.stdout, stderr: res.stderr };
}

test('device strings flow through creation and .to(); a device this libtorch lacks is a one-line error', () => {
  const z = E.zeros([2], { device: 'cpu' });
  assert.equal(z.device, 'cpu');
  z.dispose();
  const x = tensor([1, 2]);
  assert.throws(() => x.to('cuda:0'), (e: Error) => /^aten::to\.dtype_layout: this libtorch build has no CUDA support/.test(e.message) && !e.message.includes('\n'));
  assert.throws(() => E.zeros([2], { device: 'cuda:1' }), { message: /^aten::zeros: this libtorch build has no CUDA support/ });
  assert.throws(() => E.randn([2], { device: 'cuda' }), /no CUDA support/);
  x.dispose();
});
