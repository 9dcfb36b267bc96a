// Forward values of the engine's ops: hand-derived cases, a broad batch checked against PyTorch 1.13 (the same
// libtorch, run in /usr/bin/python3 on identical inputs), and dtype / memory-format round trips.
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.ts';
import { type Tensor, type DType, tensor, F } from '../../src/engine/index.ts';
import { prng, normals, ints } from '../helpers/gradcheck.ts';
import { runTorch, compareValues, type Wire } from '../helpers/torchRef.ts';

const f32 = (values: number[], shape?: number[]): Tensor => tensor(values, shape);
const i64 = ints;
const bools = (values: number[], shape?: number[]): Tensor => tensor(Uint8Array.from(values), shape, { dtype: 'bool' });

function near(actual: Tensor | number[], expected: number[], tol = 1e-6, what = 'values'): void {
  const a = Array.isArray(actual) ? actual : actual.toArray();
  assert.equal(a.length, expected.length, `${what}: ${a.length} elements, expected ${expected.length}`);
  const { firstBad } = compareValues(a, expected, tol, tol);
  assert.equal(firstBad, null, `${what}: got [${a.join(', ')}], expected [${expected.join(', ')}]`);
}
function same(actual: Tensor, shape: number[], values: number[], dtype?: DType): void {
  assert.deepEqual(actual.shape, shape, 'shape');
  if (dtype) assert.equal(actual.dtype, dtype, 'dtype');
  assert.deepEqual(actual.toArray(), values);
}

// ------------------------------------------------------------------------------------------------------------
describe('forward values (hand-derived)', () => {
  test('broadcasting add: [1,2,3] + [10] and [2,1] + [3]', () => {
    same(f32([1, 2, 3]).add(f32([10])), [3], [11, 12, 13], 'float32');
    same(f32([1, 2], [2, 1]).add(f32([10, 20, 30])), [2, 3], [11, 21, 31, 12, 22, 32]);
    same(f32([1, 2, 3]).add(1, 2), [3], [3, 4, 5]);
    same(f32([1, 2, 3]).sub(f32([1, 1, 1]), 3), [3], [-2, -1, 0]);
    same(f32([1, 2, 3]).add(f32([1, 1, 1]), -1), [3], [0, 1, 2]);
  });

  test('scalar arithmetic keeps integer tensors integer and promotes with floats', () => {
    same(i64([1, 2, 3]).add(2), [3], [3, 4, 5], 'int64');
    same(i64([1, 2, 3]).mul(0.5), [3], [0.5, 1, 1.5], 'float32');
    same(i64([7, -7]).div(2), [2], [3.5, -3.5], 'float32');
    same(f32([7, -7]).div(2, 'floor'), [2], [3, -4]);
    same(f32([7, -7]).div(f32([2, 2]), 'trunc'), [2], [3, -3]);
    same(f32([7, -7]).remainder(3), [2], [1, 2]);
    same(f32([2, 3]).pow(2), [2], [4, 9]);
    same(f32([2, 3]).pow(f32([3, 0])), [2], [8, 1]);
    same(f32([1, 5]).maximum(f32([3, 2])), [2], [3, 5]);
    same(f32([1, 5]).minimum(f32([3, 2])), [2], [1, 2]);
    same(f32([-1.5, 2]).neg(), [2], [1.5, -2]);
    same(f32([-1.5, 2]).abs(), [2], [1.5, 2]);
    same(f32([-1.5, 0.5, 2.5]).round(), [3], [-2, 0, 2]); // half to even, as torch.round
    same(f32([-1.5, 0.5]).floor(), [2], [-2, 0]);
    same(f32([-1.5, 0.5]).ceil(), [2], [-1, 1]);
    same(f32([-3, 0, 2]).sign(), [3], [-1, 0, 1]);
    same(f32([4, 0.25]).sqrt(), [2], [2, 0.5]);
    same(f32([4, 0.25]).rsqrt(), [2], [0.5, 2]);
    same(f32([4, 0.25]).reciprocal(), [2], [0.25, 4]);
    same(f32([-3, 4]).square(), [2], [9, 16]);
  });

  test('comparisons and logic give bool tensors', () => {
    const a = f32([1, 2, 3]), b = f32([3, 2, 1]);
    same(a.lt(b), [3], [1, 0, 0], 'bool');
    same(a.le(b), [3], [1, 1, 0], 'bool');
    same(a.gt(2), [3], [0, 0, 1], 'bool');
    same(a.ge(2), [3], [0, 1, 1], 'bool');
    same(a.eq(b), [3], [0, 1, 0], 'bool');
    same(a.ne(2), [3], [1, 0, 1], 'bool');
    same(a.gt(1).logicalAnd(a.lt(3)), [3], [0, 1, 0], 'bool');
    same(a.lt(2).logicalOr(a.gt(2)), [3], [1, 0, 1], 'bool');
    same(a.lt(3).logicalXor(a.gt(1)), [3], [1, 0, 1], 'bool');
    same(a.gt(1).logicalNot(), [3], [1, 0, 0], 'bool');
    same(f32([0, NaN, Infinity]).isnan(), [3], [0, 1, 0], 'bool');
    same(f32([0, NaN, Infinity]).isfinite(), [3], [1, 0, 0], 'bool');
    assert.equal(a.gt(0).all().item(), true);
    assert.equal(a.gt(2).all().item(), false);
    assert.equal(a.gt(2).any().item(), true);
  });

  test('matmul, mm, bmm and t of known matrices', () => {
    const a = f32([1, 2, 3, 4], [2, 2]), b = f32([5, 6, 7, 8], [2, 2]);
    same(a.matmul(b), [2, 2], [19, 22, 43, 50]);
    same(a.mm(b), [2, 2], [19, 22, 43, 50]);
    same(a.t(), [2, 2], [1, 3, 2, 4]);
    same(f32([1, 2]).matmul(a), [2], [7, 10]);
    same(a.matmul(f32([1, 2])), [2], [5, 11]);
    same(f32([1, 2, 3]).matmul(f32([4, 5, 6])), [], [32]);
    same(F.stack([a, b]).bmm(F.stack([b, a])), [2, 2, 2], [19, 22, 43, 50, 23, 34, 31, 46]);
    // [2,3] @ [3] x W^T + b
    same(F.linear(f32([1, 2, 3]), f32([1, 0, 0, 0, 1, 1], [2, 3]), f32([10, 20])), [2], [11, 25]);
    same(F.linear(f32([1, 2, 3]), f32([1, 0, 0, 0, 1, 1], [2, 3])), [2], [1, 5]);
    same(F.einsum('ij,jk->ik', a, b), [2, 2], [19, 22, 43, 50]);
  });

  test('conv2d of a known kernel on a 3x3 image (with bias, padding, stride)', () => {
    const img = f32([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
    const k = f32([1, 2, 3, 4], [1, 1, 2, 2]);
    // out[i][j] = x[i][j] + 2 x[i][j+1] + 3 x[i+1][j] + 4 x[i+1][j+1]
    same(F.conv2d(img, k), [1, 1, 2, 2], [37, 47, 67, 77]);
    same(F.conv2d(img, k, f32([1])), [1, 1, 2, 2], [38, 48, 68, 78]);
    // 3x3 box filter, zero padding 1: neighbourhood sums
    same(F.conv2d(img, E.ones([1, 1, 3, 3]), null, { padding: 1 }), [1, 1, 3, 3], [12, 21, 16, 27, 45, 33, 24, 39, 28]);
    same(F.conv2d(img, E.ones([1, 1, 3, 3]), null, { padding: 1, stride: 2 }), [1, 1, 2, 2], [12, 16, 24, 28]);
    // dilation 2 with a 2x2 ones kernel picks the four corners
    same(F.conv2d(img, E.ones([1, 1, 2, 2]), null, { dilation: 2 }), [1, 1, 1, 1], [1 + 3 + 7 + 9]);
    // groups: channel c convolved with its own kernel
    const two = F.cat([img, img.mul(10)], 1);
    same(F.conv2d(two, f32([1, 0, 0, 0, 0, 0, 0, 1], [2, 1, 2, 2]), null, { groups: 2 }), [1, 2, 2, 2], [1, 2, 4, 5, 50, 60, 80, 90]);
    // unbatched [C, H, W] input
    same(F.conv2d(f32([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3]), k), [1, 2, 2], [37, 47, 67, 77]);
    same(F.conv1d(f32([1, 2, 3, 4], [1, 1, 4]), f32([1, -1], [1, 1, 2])), [1, 1, 3], [-1, -1, -1]);
  });

  test('conv_transpose2d scatters the kernel (stride 2)', () => {
    const x = f32([1, 2], [1, 1, 1, 2]);
    const w = f32([1, 10, 100, 1000], [1, 1, 2, 2]);
    same(F.convTranspose2d(x, w, null, { stride: 2 }), [1, 1, 2, 4], [1, 10, 2, 20, 100, 1000, 200, 2000]);
    same(F.convTranspose2d(x, w, null, { stride: 2, outputPadding: 1 }), [1, 1, 3, 5], [1, 10, 2, 20, 0, 100, 1000, 200, 2000, 0, 0, 0, 0, 0, 0]);
    same(F.convTranspose2d(x, w, f32([1]), { stride: 2, padding: [0, 1] }), [1, 1, 2, 2], [11, 3, 1001, 201]);
  });

  test('[engine bug 2] convTranspose1d runs (aten::conv_transpose1d has no .input overload)', () => {
    same(F.convTranspose1d(f32([1, 2], [1, 1, 2]), f32([1, 1, 1], [1, 1, 3])), [1, 1, 4], [1, 3, 3, 2]);
  });

  test('maxPool2d / avgPool2d / adaptive pooling on arange(16)', () => {
    const x = E.arange(16, undefined, 1, { dtype: 'float32' }).view(1, 1, 4, 4);
    same(F.maxPool2d(x, 2), [1, 1, 2, 2], [5, 7, 13, 15]);
    same(F.maxPool2d(x, 3, { stride: 1 }), [1, 1, 2, 2], [10, 11, 14, 15]);
    same(F.maxPool2d(x, 2, { stride: 2, padding: 1 }), [1, 1, 3, 3], [0, 2, 3, 8, 10, 11, 12, 14, 15]);
    same(F.maxPool2d(x, 3, { stride: 2, ceilMode: true }), [1, 1, 2, 2], [10, 11, 14, 15]);
    same(F.avgPool2d(x, 2), [1, 1, 2, 2], [2.5, 4.5, 10.5, 12.5]);
    // count_include_pad: corner window with padding 1 sees one real value (0) of four
    same(F.avgPool2d(x, 2, { padding: 1 }).slice(2, 0, 1).slice(3, 0, 1), [1, 1, 1, 1], [0]);
    same(F.avgPool2d(x.add(4), 2, { padding: 1 }).slice(2, 0, 1).slice(3, 0, 1), [1, 1, 1, 1], [1]);
    same(F.avgPool2d(x.add(4), 2, { padding: 1, countIncludePad: false }).slice(2, 0, 1).slice(3, 0, 1), [1, 1, 1, 1], [4]);
    same(F.adaptiveAvgPool2d(x, 1), [1, 1, 1, 1], [7.5]);
    same(F.adaptiveAvgPool2d(x, 2), [1, 1, 2, 2], [2.5, 4.5, 10.5, 12.5]);
    same(F.adaptiveMaxPool2d(x, [1, 2]), [1, 1, 1, 2], [13, 15]);
    const [v, idx] = F.maxPool2dWithIndices(x, 2);
    same(v, [1, 1, 2, 2], [5, 7, 13, 15]);
    same(idx, [1, 1, 2, 2], [5, 7, 13, 15], 'int64');
    const cube = E.arange(8, undefined, 1, { dtype: 'float32' }).view(1, 1, 2, 2, 2);
    same(F.maxPool3d(cube, 2), [1, 1, 1, 1, 1], [7]);
    same(F.avgPool3d(cube, 2), [1, 1, 1, 1, 1], [3.5]);
    same(F.adaptiveAvgPool3d(cube, [2, 1, 1]), [1, 1, 2, 1, 1], [1.5, 5.5]);
  });

  test('bilinear interpolate of [[1,2],[3,4]] to 4x4, align_corners true and false', () => {
    const img = f32([1, 2, 3, 4], [1, 1, 2, 2]);
    // align_corners=True: source coordinate = i/3; value = 1 + cx + 2 cy
    const c1 = [0, 1 / 3, 2 / 3, 1];
    near(F.interpolate(img, { size: 4, mode: 'bilinear', alignCorners: true }), c1.flatMap((cy) => c1.map((cx) => 1 + cx + 2 * cy)), 1e-6);
    // align_corners=False: source = (i + 0.5)/2 - 0.5 clamped to [0, 1]: [0, 0.25, 0.75, 1]
    const c0 = [0, 0.25, 0.75, 1];
    near(F.interpolate(img, { size: 4, mode: 'bilinear' }), c0.flatMap((cy) => c0.map((cx) => 1 + cx + 2 * cy)), 1e-6);
    near(F.interpolate(img, { scaleFactor: 2, mode: 'bilinear' }), c0.flatMap((cy) => c0.map((cx) => 1 + cx + 2 * cy)), 1e-6);
    same(F.interpolate(img, { scaleFactor: 2 }), [1, 1, 4, 4], [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    same(F.interpolate(img, { size: [1, 3] }), [1, 1, 1, 3], [1, 1, 2]);
    // downsampling a ramp by 2 with bilinear (no antialias) samples between pixels
    near(F.interpolate(f32([0, 1, 2, 3], [1, 1, 1, 4]), { size: [1, 2], mode: 'bilinear' }), [0.5, 2.5]);
    // linear 1d, align_corners: 3 -> 5 points on a line
    near(F.interpolate(f32([0, 2, 4], [1, 1, 3]), { size: 5, mode: 'linear', alignCorners: true }), [0, 1, 2, 3, 4]);
  });

  test('softmax, logSoftmax and layerNorm', () => {
    const x = f32([1, 2, 3]);
    const e = [1, 2, 3].map(Math.exp), s = e[0]! + e[1]! + e[2]!;
    near(F.softmax(x, 0), e.map((v) => v / s));
    near(F.logSoftmax(x, 0), e.map((v) => Math.log(v / s)));
    near(F.softmax(f32([1, 2, 1, 2], [2, 2]), 0), [0.5, 0.5, 0.5, 0.5]);
    assert.equal(F.softmax(x, 0, 'float64').dtype, 'float64');
    // mean 2.5, biased var 1.25
    const d = Math.sqrt(1.25 + 1e-5);
    near(F.layerNorm(f32([1, 2, 3, 4]), [4]), [-1.5 / d, -0.5 / d, 0.5 / d, 1.5 / d]);
    near(F.layerNorm(f32([1, 2, 3, 4]), [4], f32([1, 2, 1, 2]), f32([0, 0, 1, 1])), [-1.5 / d, -1 / d, 1 + 0.5 / d, 1 + 3 / d]);
    near(F.layerNorm(f32([1, 3, 5, 7], [2, 2]), [2], null, null, 0), [-1, 1, -1, 1]);
  });

  test('layerNorm of bf16 activations with float32 parameters (bf16 autocast) normalises in float32', () => {
    const x = f32([1, 2, 3, 4, 8, 6, 7, 5], [2, 4]);
    const w = f32([1, 2, 1, 2]), b = f32([0, 0, 1, 1]);
    const xb = x.to('bfloat16');
    const mixed = F.layerNorm(xb, [4], w, b);
    assert.equal(mixed.dtype, 'float32');
    // The same as normalising the bf16 values (exact in float32 here) in float32; libtorch alone rejects the mix.
    same(mixed, [2, 4], F.layerNorm(xb.float(), [4], w, b).toArray());
    const inAutocast = E.autocast(() => F.layerNorm(F.linear(x, E.eye(4)), [4], w, b));
    assert.equal(inAutocast.dtype, 'float32');
    near(inAutocast, F.layerNorm(x, [4], w, b).toArray(), 1e-2);
  });

  test('activations at known points', () => {
    const x = f32([-2, 0, 3]);
    same(F.relu(x), [3], [0, 0, 3]);
    near(F.leakyRelu(x, 0.1), [-0.2, 0, 3]);
    near(F.leakyRelu(x), [-0.02, 0, 3]);
    near(F.sigmoid(f32([0])), [0.5]);
    near(F.tanh(f32([0])), [0]);
    near(F.silu(f32([1])), [1 / (1 + Math.exp(-1))]);
    // gelu(1) exact = 0.5 (1 + erf(1/sqrt 2)) = 0.8413447; tanh approx = 0.8411920
    near(F.gelu(f32([1])), [0.8413447460685429]);
    near(F.gelu(f32([1]), 'tanh'), [0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (1 + 0.044715)))]);
    near(F.softplus(f32([0])), [Math.log(2)]);
    near(F.hardswish(f32([-4, 1, 4])), [0, 1 * 4 / 6, 4]);
    same(x.clamp(-1, 1), [3], [-1, 0, 1]);
    same(x.clamp(0), [3], [0, 0, 3]);
    same(x.clamp(null, 0), [3], [-2, 0, 0]);
  });

  test('reductions', () => {
    const x = f32([1, 2, 3, 4, 5, 6], [2, 3]);
    same(x.sum(), [], [21]);
    same(x.sum(0), [3], [5, 7, 9]);
    same(x.sum(1, true), [2, 1], [6, 15]);
    same(x.sum([0, 1]), [], [21]);
    assert.equal(x.sum(0, false, 'float64').dtype, 'float64');
    same(i64([1, 2]).sum(), [], [3], 'int64');
    same(x.mean(1), [2], [2, 5]);
    same(x.mean(), [], [3.5]);
    same(x.prod(1), [2], [6, 120]);
    same(x.prod(), [], [720]);
    near(x.var(), [3.5]); // unbiased over 6 values
    near(x.var(1), [1, 1]);
    near(x.var(1, { correction: 0, keepdim: true }), [2 / 3, 2 / 3]);
    assert.deepEqual(x.var(1, { keepdim: true }).shape, [2, 1]);
    near(x.std(1), [1, 1]);
    near(x.std(undefined, { correction: 0 }), [Math.sqrt(35 / 12)]);
    same(x.amax(), [], [6]);
    same(x.amax(0), [3], [4, 5, 6]);
    same(x.amin(1, true), [2, 1], [1, 4]);
    same(x.max(), [], [6]);
    same(x.min(), [], [1]);
    const [mv, mi] = x.max(1);
    same(mv, [2], [3, 6]);
    same(mi, [2], [2, 2], 'int64');
    const [nv, ni] = x.min(0, true);
    same(nv, [1, 3], [1, 2, 3]);
    same(ni, [1, 3], [0, 0, 0]);
    near(x.norm(), [Math.sqrt(91)]);
    near(x.norm(1, 1), [6, 15]);
    near(f32([0, 0]).logsumexp(0), [Math.log(2)]);
    same(x.countNonzero(), [], [6]);
    same(f32([0, 1, 0, 2], [2, 2]).countNonzero(0), [2], [0, 2]);
  });

  test('sort, topk, argsort, argmax and argmin', () => {
    const x = f32([3, 1, 4, 1.5, 5, 9, 2, 6]);
    const [sv, si] = x.sort();
    same(sv, [8], [1, 1.5, 2, 3, 4, 5, 6, 9]);
    same(si, [8], [1, 3, 6, 0, 2, 4, 7, 5], 'int64');
    const [dv, di] = x.sort(0, true);
    same(dv, [8], [9, 6, 5, 4, 3, 2, 1.5, 1]);
    same(di, [8], [5, 7, 4, 2, 0, 6, 3, 1]);
    same(x.argsort(), [8], [1, 3, 6, 0, 2, 4, 7, 5]);
    same(x.argsort(0, true), [8], [5, 7, 4, 2, 0, 6, 3, 1]);
    const [tv, ti] = x.topk(3);
    same(tv, [3], [9, 6, 5]);
    same(ti, [3], [5, 7, 4]);
    const [bv, bi] = x.topk(2, 0, false);
    same(bv, [2], [1, 1.5]);
    same(bi, [2], [1, 3]);
    same(x.argmax(), [], [5], 'int64');
    same(x.argmin(), [], [1]);
    const m = f32([1, 9, 3, 7, 2, 8], [2, 3]);
    same(m.argmax(1), [2], [1, 2]);
    same(m.argmin(0, true), [1, 3], [0, 1, 0]);
  });

  test('cumsum', () => {
    same(f32([1, 2, 3, 4]).cumsum(0), [4], [1, 3, 6, 10]);
    same(f32([1, 2, 3, 4, 5, 6], [2, 3]).cumsum(1), [2, 3], [1, 3, 6, 4, 9, 15]);
    same(f32([1, 2, 3, 4, 5, 6], [2, 3]).cumsum(0), [2, 3], [1, 2, 3, 5, 7, 9]);
    same(bools([1, 0, 1]).cumsum(0), [3], [1, 1, 2], 'int64');
    assert.equal(f32([1, 2]).cumsum(0, 'float64').dtype, 'float64');
  });

  test('gather, scatter, scatterAdd, indexSelect, index, indexPut', () => {
    const x = f32([1, 2, 3, 4], [2, 2]);
    same(x.gather(1, i64([0, 0, 1, 0], [2, 2])), [2, 2], [1, 1, 4, 3]);
    same(x.gather(0, i64([1, 0], [1, 2])), [1, 2], [3, 2]);
    same(E.zeros([2, 3]).scatter(1, i64([0, 2, 1, 0], [2, 2]), x), [2, 3], [1, 0, 2, 4, 3, 0]);
    same(E.zeros([2, 3]).scatter(1, i64([0, 2], [2, 1]), 7), [2, 3], [7, 0, 0, 0, 0, 7]);
    same(E.zeros([3]).scatterAdd(0, i64([0, 0, 2]), f32([1, 2, 3])), [3], [3, 0, 3]);
    same(x.indexSelect(0, i64([1, 1, 0])), [3, 2], [3, 4, 3, 4, 1, 2]);
    same(x.indexSelect(1, i64([1])), [2, 1], [2, 4]);
    same(x.index([i64([1, 0])]), [2, 2], [3, 4, 1, 2]);
    same(x.index([i64([0, 1]), i64([1, 0])]), [2], [2, 3]);
    same(x.index([null, i64([0])]), [2, 1], [1, 3]);
    same(x.index([bools([0, 1])]), [1, 2], [3, 4]);
    same(E.zeros([3]).indexPut([i64([0, 2])], f32([5, 6])), [3], [5, 0, 6]);
    same(E.zeros([3]).indexPut([i64([0, 0])], f32([5, 6]), true), [3], [11, 0, 0]);
  });

  test('masked ops, where and nonzero', () => {
    const x = f32([1, 2, 3, 4], [2, 2]);
    const m = bools([1, 0, 0, 1], [2, 2]);
    same(x.maskedFill(m, -1), [2, 2], [-1, 2, 3, -1]);
    same(x.maskedFill(m, E.scalar(9)), [2, 2], [9, 2, 3, 9]);
    same(x.maskedFill(bools([0, 1]), 0), [2, 2], [1, 0, 3, 0]); // broadcast mask
    same(x.maskedSelect(m), [2], [1, 4]);
    same(x.where(m, 0), [2, 2], [1, 0, 0, 4]);
    same(x.where(m, x.neg()), [2, 2], [1, -2, -3, 4]);
    same(F.where(m, x, 0), [2, 2], [1, 0, 0, 4]);
    same(F.where(m, 5, x), [2, 2], [5, 2, 3, 5]);
    same(F.where(m, 1, 0), [2, 2], [1, 0, 0, 1]);
    same(F.where(m, x, x.mul(10)), [2, 2], [1, 20, 30, 4]);
    same(f32([0, 1, 2, 0], [2, 2]).nonzero(), [2, 2], [0, 1, 1, 0], 'int64');
    same(f32([0, 3, 0, 5]).nonzero(), [2, 1], [1, 3]);
    const y = x.clone();
    assert.equal(y.maskedFill_(m, 0), y);
    same(y, [2, 2], [0, 2, 3, 0]);
  });

  test('cat, stack, split, chunk, unbind', () => {
    const a = f32([1, 2, 3, 4], [2, 2]), b = f32([5, 6], [1, 2]);
    same(E.F.cat([a, b]), [3, 2], [1, 2, 3, 4, 5, 6]);
    same(F.cat([a, b.t()], 1), [2, 3], [1, 2, 5, 3, 4, 6]);
    same(F.stack([a, a.mul(2)]), [2, 2, 2], [1, 2, 3, 4, 2, 4, 6, 8]);
    same(F.stack([f32([1, 2]), f32([3, 4])], 1), [2, 2], [1, 3, 2, 4]);
    same(F.stack([f32([1, 2]), f32([3, 4])], -1), [2, 2], [1, 3, 2, 4]);
    const x = E.arange(7);
    assert.deepEqual(x.split(3).map((t) => t.toArray()), [[0, 1, 2], [3, 4, 5], [6]]);
    assert.deepEqual(x.split([2, 5]).map((t) => t.toArray()), [[0, 1], [2, 3, 4, 5, 6]]);
    assert.deepEqual(x.chunk(3).map((t) => t.toArray()), [[0, 1, 2], [3, 4, 5], [6]]);
    assert.deepEqual(a.chunk(2, 1).map((t) => t.toArray()), [[1, 3], [2, 4]]);
    assert.deepEqual(a.unbind(1).map((t) => t.toArray()), [[1, 3], [2, 4]]);
    assert.deepEqual(a.split(1, 1).map((t) => t.shape), [[2, 1], [2, 1]]);
  });

  test('pad modes: constant, reflect, replicate, circular', () => {
    const x = f32([1, 2, 3], [1, 1, 3]);
    same(F.pad(x, [2, 1]), [1, 1, 6], [0, 0, 1, 2, 3, 0]);
    same(F.pad(x, [2, 1], 'constant', 9), [1, 1, 6], [9, 9, 1, 2, 3, 9]);
    same(F.pad(x, [2, 1], 'reflect'), [1, 1, 6], [3, 2, 1, 2, 3, 2]);
    same(F.pad(x, [2, 1], 'replicate'), [1, 1, 6], [1, 1, 1, 2, 3, 3]);
    same(F.pad(x, [2, 1], 'circular'), [1, 1, 6], [2, 3, 1, 2, 3, 1]);
    same(F.pad(x, [-1, 0]), [1, 1, 2], [2, 3]); // negative pads crop
    const img = f32([1, 2, 3, 4], [1, 1, 2, 2]);
    same(F.pad(img, [1, 0, 0, 1], 'replicate'), [1, 1, 3, 3], [1, 1, 2, 3, 3, 4, 3, 3, 4]);
    same(F.pad(img, [0, 0, 1, 0], 'constant', -1), [1, 1, 3, 2], [-1, -1, 1, 2, 3, 4]);
    same(F.pad(img, [1, 1, 1, 1], 'reflect'), [1, 1, 4, 4], [4, 3, 4, 3, 2, 1, 2, 1, 4, 3, 4, 3, 2, 1, 2, 1]);
  });

  test('views and reshapes: view, reshape, permute, transpose, squeeze, flatten, expand, repeat, flip, roll, slice, narrow, select', () => {
    const x = E.arange(6, undefined, 1, { dtype: 'float32' });
    same(x.view(2, 3), [2, 3], [0, 1, 2, 3, 4, 5]);
    same(x.view(-1, 2), [3, 2], [0, 1, 2, 3, 4, 5]);
    const m = x.view(2, 3);
    same(m.transpose(0, 1), [3, 2], [0, 3, 1, 4, 2, 5]);
    same(m.permute(1, 0), [3, 2], [0, 3, 1, 4, 2, 5]);
    same(m.transpose(0, 1).reshape(6), [6], [0, 3, 1, 4, 2, 5]);
    same(m.unsqueeze(0), [1, 2, 3], [0, 1, 2, 3, 4, 5]);
    same(m.unsqueeze(0).squeeze(), [2, 3], [0, 1, 2, 3, 4, 5]);
    same(m.unsqueeze(1).squeeze(1), [2, 3], [0, 1, 2, 3, 4, 5]);
    same(m.unsqueeze(-1).flatten(), [6], [0, 1, 2, 3, 4, 5]);
    same(m.unsqueeze(0).flatten(1), [1, 6], [0, 1, 2, 3, 4, 5]);
    same(x.unflatten(0, [3, 2]), [3, 2], [0, 1, 2, 3, 4, 5]);
    same(f32([1, 2]).view(2, 1).expand(2, 3), [2, 3], [1, 1, 1, 2, 2, 2]);
    same(f32([1, 2]).expand(2, -1), [2, 2], [1, 2, 1, 2]);
    same(f32([1, 2]).expandAs(m.t()), [3, 2], [1, 2, 1, 2, 1, 2]);
    same(f32([1, 2]).repeat(2, 2), [2, 4], [1, 2, 1, 2, 1, 2, 1, 2]);
    same(m.flip(1), [2, 3], [2, 1, 0, 5, 4, 3]);
    same(m.flip([0, 1]), [2, 3], [5, 4, 3, 2, 1, 0]);
    same(x.roll(2, 0), [6], [4, 5, 0, 1, 2, 3]);
    same(m.roll([1, -1], [0, 1]), [2, 3], [4, 5, 3, 1, 2, 0]);
    same(x.slice(0, 1, 5, 2), [2], [1, 3]);
    same(x.slice(0, -2), [2], [4, 5]);
    same(m.slice(1, null, 2), [2, 2], [0, 1, 3, 4]);
    same(m.slice(1, null, null, 2), [2, 2], [0, 2, 3, 5]);
    same(m.narrow(1, 1, 2), [2, 2], [1, 2, 4, 5]);
    same(m.select(1, -1), [2], [2, 5]);
    same(m.select(0, 1), [3], [3, 4, 5]);
    same(x.asStrided([2, 2], [1, 2], 1), [2, 2], [1, 3, 2, 4]);
    same(F.tril(m), [2, 3], [0, 0, 0, 3, 4, 0]);
    same(F.triu(m, 1), [2, 3], [0, 1, 2, 0, 0, 5]);
    same(F.pixelShuffle(E.arange(4, undefined, 1, { dtype: 'float32' }).view(1, 4, 1, 1), 2), [1, 1, 2, 2], [0, 1, 2, 3]);
    same(F.oneHot(i64([0, 2]), 3), [2, 3], [1, 0, 0, 0, 0, 1], 'int64');
    const [gi, gj] = F.meshgrid([f32([1, 2]), f32([3, 4, 5])]);
    same(gi!, [2, 3], [1, 1, 1, 2, 2, 2]);
    same(gj!, [2, 3], [3, 4, 5, 3, 4, 5]);
    assert.deepEqual(F.meshgrid([f32([1, 2]), f32([3, 4, 5])], 'xy')[0]!.shape, [3, 2]);
    same(F.embedding(i64([2, 0]), f32([1, 2, 3, 4, 5, 6], [3, 2])), [2, 2], [5, 6, 1, 2]);
    same(F.cdist(f32([0, 0], [1, 2]), f32([3, 4, 0, 1], [2, 2])), [1, 2], [5, 1]);
  });

  test('losses at known points', () => {
    near(F.mseLoss(f32([1, 2]), f32([0, 0])), [2.5]);
    near(F.mseLoss(f32([1, 2]), f32([0, 0]), 'sum'), [5]);
    near(F.mseLoss(f32([1, 2]), f32([0, 0]), 'none'), [1, 4]);
    near(F.l1Loss(f32([1, -2]), f32([0, 0])), [1.5]);
    // logits 0: BCE = log 2 per element; pos_weight 3 scales the positive term
    near(F.bceWithLogits(f32([0, 0]), f32([1, 0])), [Math.log(2)]);
    near(F.bceWithLogits(f32([0, 0]), f32([1, 0]), { posWeight: f32([3]), reduction: 'none' }), [3 * Math.log(2), Math.log(2)]);
    // uniform logits over 4 classes: CE = log 4; ignored targets do not count
    near(F.crossEntropy(E.zeros([2, 4]), i64([1, 3])), [Math.log(4)]);
    near(F.crossEntropy(f32([0, 10, 0, 0], [1, 4]), i64([1]), { reduction: 'none' }), [Math.log(1 + 3 * Math.exp(-10))], 1e-5);
    near(F.crossEntropy(f32([0, 10, 0, 0, 0, 0, 0, 0], [2, 4]), i64([1, -100])), [Math.log(1 + 3 * Math.exp(-10))], 1e-5);
    near(F.crossEntropy(f32([0, 10, 0, 0, 0, 0, 0, 0], [2, 4]), i64([1, 2]), { ignoreIndex: 2 }), [Math.log(1 + 3 * Math.exp(-10))], 1e-5);
    near(F.nllLoss(f32([-1, -2, -3, -4], [2, 2]), i64([0, 1])), [2.5]);
  });

  test('attention equals softmax(q k^T scale + bias) v computed by hand', () => {
    const q = f32([1, 0], [1, 2]), k = f32([1, 0, 0, 1], [2, 2]), v = f32([10, 0, 0, 20], [2, 2]);
    // logits = [1, 0] / sqrt(2)
    const l = [1 / Math.SQRT2, 0], z = Math.exp(l[0]!) + Math.exp(l[1]!);
    const w = [Math.exp(l[0]!) / z, Math.exp(l[1]!) / z];
    near(F.attention(q, k, v), [10 * w[0]!, 20 * w[1]!]);
    near(F.attention(q, k, v, { scale: 0 }), [5, 10]);
    near(F.attention(q, k, v, { scale: 0, bias: f32([0, -1e9], [1, 2]) }), [10, 0]);
  });

  test('batchNorm training uses batch statistics and updates running stats with momentum', () => {
    const x = f32([1, 3, 5, 7], [4, 1]);
    const rm = E.zeros([1]), rv = E.ones([1]);
    // mean 4, biased var 5, unbiased var 20/3
    near(F.batchNorm(x, rm, rv, { training: true, momentum: 0.5, eps: 0 }), [-3, -1, 1, 3].map((d) => d / Math.sqrt(5)), 1e-6);
    near(rm, [2]);
    near(rv, [0.5 + 0.5 * (20 / 3)], 1e-6);
    near(F.batchNorm(f32([3], [1, 1]), rm, rv, { eps: 0 }), [1 / Math.sqrt(0.5 + 10 / 3)], 1e-6);
    near(F.groupNorm(f32([1, 3, 10, 20], [1, 2, 2]), 2, null, null, 0), [-1, 1, -1, 1]);
    near(F.instanceNorm(f32([1, 3, 10, 20], [1, 2, 2]), null, null, 0), [-1, 1, -1, 1]);
  });

  test('dropout: p=0 and eval are identity; p=1 zeroes; training keeps the expectation scale', () => {
    const x = E.ones([1000]);
    same(F.dropout(f32([1, 2]), 0), [2], [1, 2]);
    same(F.dropout(f32([1, 2]), 0.5, false), [2], [1, 2]);
    same(F.dropout(f32([1, 2]), 1), [2], [0, 0]);
    const y = F.dropout(x, 0.25).toArray();
    assert.ok(y.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6), 'kept values are scaled by 1/(1-p)');
    const kept = y.filter((v) => v !== 0).length;
    assert.ok(kept > 650 && kept < 850, `about 750 of 1000 kept, got ${kept}`);
    const c = F.featureDropout(E.ones([1, 64, 2, 2]), 0.5).toArray();
    for (let ch = 0; ch < 64; ch++) assert.equal(new Set(c.slice(ch * 4, ch * 4 + 4)).size, 1, 'whole channels dropped together');
    assert.throws(() => F.dropout(x, 1.5), TypeError);
  });
});

// ------------------------------------------------------------------------------------------------------------
// The PyTorch batch: one python3 process computes every case on the same inputs.
type Kind = 'randn' | 'rand' | 'int' | 'bool';
interface Spec { shape: number[]; kind?: Kind; lo?: number; hi?: number; dtype?: DType; values?: number[] }
type Out = Tensor | Tensor[] | number;
interface RefCase {
  name: string;
  inputs: Record<string, Spec>;
  /** A Python expression over the inputs (or statements assigning OUT). */
  py: string;
  js: (x: Record<string, Tensor>) => Out;
  tol?: number;
}

const randn = (...shape: number[]): Spec => ({ shape });
const rand = (lo: number, hi: number, ...shape: number[]): Spec => ({ shape, kind: 'rand', lo, hi });
const intIn = (lo: number, hi: number, ...shape: number[]): Spec => ({ shape, kind: 'int', lo, hi });
const given = (values: number[], shape: number[], dtype: DType = 'int64'): Spec => ({ shape, values, dtype });
const maskIn = (...shape: number[]): Spec => ({ shape, kind: 'bool' });

const CASES: RefCase[] = [
  // elementwise
  { name: 'add broadcast [2,1,3]+[4,1]', inputs: { a: randn(2, 1, 3), b: randn(4, 1) }, py: 'a + b', js: ({ a, b }) => a!.add(b!) },
  { name: 'add scalar alpha', inputs: { a: randn(5) }, py: 'torch.add(a, 2.5, alpha=3)', js: ({ a }) => a!.add(2.5, 3) },
  { name: 'sub tensor alpha', inputs: { a: randn(3, 4), b: randn(4) }, py: 'torch.sub(a, b, alpha=0.5)', js: ({ a, b }) => a!.sub(b!, 0.5) },
  { name: 'mul div', inputs: { a: randn(3, 4), b: randn(3, 1), c: rand(0.5, 2, 4) }, py: 'a * b / c', js: ({ a, b, c }) => a!.mul(b!).div(c!) },
  { name: 'div floor', inputs: { a: randn(8), b: rand(0.3, 2, 8) }, py: "torch.div(a * 5, b, rounding_mode='floor')", js: ({ a, b }) => a!.mul(5).div(b!, 'floor') },
  { name: 'div trunc scalar', inputs: { a: randn(8) }, py: "torch.div(a * 5, 3, rounding_mode='trunc')", js: ({ a }) => a!.mul(5).div(3, 'trunc') },
  { name: 'remainder', inputs: { a: randn(8), b: rand(0.5, 2, 8) }, py: 'torch.remainder(a * 5, b)', js: ({ a, b }) => a!.mul(5).remainder(b!) },
  { name: 'pow tensor', inputs: { a: rand(0.5, 2, 6), b: randn(6) }, py: 'a ** b', js: ({ a, b }) => a!.pow(b!) },
  { name: 'pow scalar', inputs: { a: rand(0.5, 2, 6) }, py: 'a ** 2.5', js: ({ a }) => a!.pow(2.5) },
  { name: 'exp log log1p', inputs: { a: randn(6), p: rand(0.1, 3, 6) }, py: '[a.exp(), p.log(), p.log1p()]', js: ({ a, p }) => [a!.exp(), p!.log(), p!.log1p()] },
  { name: 'sqrt rsqrt reciprocal', inputs: { p: rand(0.1, 3, 6) }, py: '[p.sqrt(), p.rsqrt(), p.reciprocal()]', js: ({ p }) => [p!.sqrt(), p!.rsqrt(), p!.reciprocal()] },
  { name: 'sin cos tanh erf sigmoid', inputs: { a: randn(7) }, py: '[a.sin(), a.cos(), a.tanh(), a.erf(), a.sigmoid()]', js: ({ a }) => [a!.sin(), a!.cos(), a!.tanh(), a!.erf(), a!.sigmoid()] },
  { name: 'clamp', inputs: { a: randn(10) }, py: '[a.clamp(-0.5, 0.7), a.clamp(min=0.1), a.clamp(max=-0.2)]', js: ({ a }) => [a!.clamp(-0.5, 0.7), a!.clamp(0.1), a!.clamp(null, -0.2)] },
  { name: 'comparisons', inputs: { a: randn(6), b: randn(6) }, py: '[a > b, a <= 0.2, a == a, torch.maximum(a, b), torch.minimum(a, b)]', js: ({ a, b }) => [a!.gt(b!), a!.le(0.2), a!.eq(a!), a!.maximum(b!), a!.minimum(b!)] },
  // activations
  { name: 'relu leaky_relu', inputs: { a: randn(10) }, py: '[F.relu(a), F.leaky_relu(a, 0.2)]', js: ({ a }) => [F.relu(a!), F.leakyRelu(a!, 0.2)] },
  { name: 'gelu exact and tanh', inputs: { a: randn(3, 7) }, py: "[F.gelu(a), F.gelu(a, approximate='tanh')]", js: ({ a }) => [F.gelu(a!), F.gelu(a!, 'tanh')] },
  { name: 'silu softplus hardswish', inputs: { a: randn(12) }, py: '[F.silu(a), F.softplus(a, 2, 1), F.hardswish(a * 4)]', js: ({ a }) => [F.silu(a!), F.softplus(a!, 2, 1), F.hardswish(a!.mul(4))] },
  { name: 'softmax log_softmax', inputs: { a: randn(2, 3, 4) }, py: '[F.softmax(a, 1), F.log_softmax(a, -1), F.softmax(a, 0, dtype=torch.float64)]', js: ({ a }) => [F.softmax(a!, 1), F.logSoftmax(a!, -1), F.softmax(a!, 0, 'float64')] },
  // reductions
  { name: 'sum mean', inputs: { a: randn(3, 4, 5) }, py: '[a.sum(), a.sum([0, 2], keepdim=True), a.sum(1, dtype=torch.float64), a.mean(), a.mean(1)]', js: ({ a }) => [a!.sum(), a!.sum([0, 2], true), a!.sum(1, false, 'float64'), a!.mean(), a!.mean(1)] },
  { name: 'var std', inputs: { a: randn(3, 4, 5) }, py: '[a.var(), torch.var(a, 1, correction=0, keepdim=True), a.std([0, 2]), torch.std(a, -1, correction=2)]', js: ({ a }) => [a!.var(), a!.var(1, { correction: 0, keepdim: true }), a!.std([0, 2]), a!.std(-1, { correction: 2 })] },
  { name: 'amax amin max min', inputs: { a: randn(3, 4, 5) }, py: '[a.amax([1, 2]), a.amin(0), *torch.max(a, 1), *torch.min(a, 2, keepdim=True), a.max(), a.min()]', js: ({ a }) => [a!.amax([1, 2]), a!.amin(0), ...a!.max(1), ...a!.min(2, true), a!.max(), a!.min()] },
  { name: 'argmax argmin', inputs: { a: randn(3, 4, 5) }, py: '[a.argmax(1), a.argmin(), a.argmax(-1, keepdim=True)]', js: ({ a }) => [a!.argmax(1), a!.argmin(), a!.argmax(-1, true)] },
  { name: 'norm logsumexp prod', inputs: { a: randn(3, 4) }, py: '[a.norm(), a.norm(1, 1), a.norm(3, [0, 1], keepdim=True), a.logsumexp(1), a.prod(1), a.prod()]', js: ({ a }) => [a!.norm(), a!.norm(1, 1), a!.norm(3, [0, 1], true), a!.logsumexp(1), a!.prod(1), a!.prod()] },
  { name: 'cumsum count_nonzero', inputs: { a: randn(3, 4), i: intIn(0, 3, 3, 4) }, py: '[a.cumsum(1), a.cumsum(0), i.cumsum(1), torch.count_nonzero(i, 1), torch.count_nonzero(i)]', js: ({ a, i }) => [a!.cumsum(1), a!.cumsum(0), i!.cumsum(1), i!.countNonzero(1), i!.countNonzero()] },
  // linear algebra
  { name: 'matmul broadcast batched', inputs: { a: randn(2, 1, 3, 4), b: randn(3, 4, 5) }, py: 'a @ b', js: ({ a, b }) => a!.matmul(b!) },
  { name: 'matmul vector', inputs: { v: randn(4), m: randn(4, 5), n: randn(2, 5, 4) }, py: '[v @ m, n @ v]', js: ({ v, m, n }) => [v!.matmul(m!), n!.matmul(v!)] },
  { name: 'bmm baddbmm', inputs: { i: randn(2, 3, 5), a: randn(2, 3, 4), b: randn(2, 4, 5) }, py: '[torch.bmm(a, b), torch.baddbmm(i, a, b, beta=0.5, alpha=2)]', js: ({ i, a, b }) => [F.bmm(a!, b!), F.baddbmm(i!, a!, b!, 0.5, 2)] },
  { name: 'linear with and without bias', inputs: { x: randn(2, 3, 4), w: randn(5, 4), b: randn(5) }, py: '[F.linear(x, w, b), F.linear(x, w)]', js: ({ x, w, b }) => [F.linear(x!, w!, b!), F.linear(x!, w!)] },
  { name: 'einsum cdist', inputs: { a: randn(2, 3, 4), b: randn(2, 4, 5), p: randn(5, 3), q: randn(4, 3) }, py: "[torch.einsum('bij,bjk->bik', a, b), torch.cdist(p, q), torch.cdist(p, q, p=1)]", js: ({ a, b, p, q }) => [F.einsum('bij,bjk->bik', a!, b!), F.cdist(p!, q!), F.cdist(p!, q!, 1)] },
  // convolutions
  { name: 'conv1d stride padding dilation groups', inputs: { x: randn(2, 4, 9), w: randn(6, 2, 3), b: randn(6) }, py: 'F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2)', js: ({ x, w, b }) => F.conv1d(x!, w!, b!, { stride: 2, padding: 1, dilation: 2, groups: 2 }) },
  { name: 'conv2d anisotropic', inputs: { x: randn(2, 4, 7, 6), w: randn(6, 2, 3, 2), b: randn(6) }, py: 'F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)', js: ({ x, w, b }) => F.conv2d(x!, w!, b!, { stride: [2, 1], padding: [1, 2], dilation: [1, 2], groups: 2 }) },
  { name: 'conv2d depthwise', inputs: { x: randn(1, 3, 6, 6), w: randn(3, 1, 3, 3) }, py: 'F.conv2d(x, w, None, 1, 1, 1, 3)', js: ({ x, w }) => F.conv2d(x!, w!, null, { padding: 1, groups: 3 }) },
  { name: 'conv3d', inputs: { x: randn(1, 2, 5, 5, 4), w: randn(3, 2, 2, 3, 2), b: randn(3) }, py: 'F.conv3d(x, w, b, stride=1, padding=1, dilation=(1, 1, 2))', js: ({ x, w, b }) => F.conv3d(x!, w!, b!, { padding: 1, dilation: [1, 1, 2] }) },
  { name: '[engine bug 2] conv_transpose1d', inputs: { x: randn(1, 4, 5), w: randn(4, 3, 3), b: randn(3) }, py: 'F.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1)', js: ({ x, w, b }) => F.convTranspose1d(x!, w!, b!, { stride: 2, padding: 1, outputPadding: 1 }) },
  { name: 'conv_transpose2d stride output_padding groups', inputs: { x: randn(2, 4, 3, 4), w: randn(4, 3, 3, 3), b: randn(6) }, py: 'F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=2)', js: ({ x, w, b }) => F.convTranspose2d(x!, w!, b!, { stride: 2, padding: 1, outputPadding: 1, groups: 2 }) },
  { name: 'conv_transpose2d dilation', inputs: { x: randn(1, 2, 4, 3), w: randn(2, 3, 2, 3) }, py: 'F.conv_transpose2d(x, w, None, stride=(1, 2), padding=(0, 1), output_padding=(0, 1), dilation=2)', js: ({ x, w }) => F.convTranspose2d(x!, w!, null, { stride: [1, 2], padding: [0, 1], outputPadding: [0, 1], dilation: 2 }) },
  { name: 'conv_transpose3d', inputs: { x: randn(1, 2, 3, 3, 2), w: randn(2, 3, 2, 2, 2), b: randn(3) }, py: 'F.conv_transpose3d(x, w, b, stride=(2, 2, 1), output_padding=(1, 0, 0))', js: ({ x, w, b }) => F.convTranspose3d(x!, w!, b!, { stride: [2, 2, 1], outputPadding: [1, 0, 0] }) },
  // pooling
  { name: 'max_pool2d ceil padding', inputs: { x: randn(2, 3, 7, 8) }, py: '[F.max_pool2d(x, 3, 2, 1, ceil_mode=True), F.max_pool2d(x, 2, dilation=2), F.max_pool2d(x, (2, 3))]', js: ({ x }) => [F.maxPool2d(x!, 3, { stride: 2, padding: 1, ceilMode: true }), F.maxPool2d(x!, 2, { dilation: 2 }), F.maxPool2d(x!, [2, 3])] },
  { name: 'max_pool2d with indices', inputs: { x: randn(1, 2, 6, 5) }, py: 'F.max_pool2d(x, 2, 2, 1, return_indices=True)', js: ({ x }) => F.maxPool2dWithIndices(x!, 2, { stride: 2, padding: 1 }) },
  { name: 'max_pool3d', inputs: { x: randn(1, 2, 5, 6, 5) }, py: 'F.max_pool3d(x, 2, (2, 2, 1))', js: ({ x }) => F.maxPool3d(x!, 2, { stride: [2, 2, 1] }) },
  { name: 'avg_pool2d exclude pad ceil', inputs: { x: randn(2, 3, 7, 8) }, py: '[F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), F.avg_pool2d(x, 3, 2, 1)]', js: ({ x }) => [F.avgPool2d(x!, 3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }), F.avgPool2d(x!, 3, { stride: 2, padding: 1 })] },
  { name: 'avg_pool3d', inputs: { x: randn(1, 2, 4, 5, 4) }, py: 'F.avg_pool3d(x, 2, padding=1)', js: ({ x }) => F.avgPool3d(x!, 2, { padding: 1 }) },
  { name: 'adaptive pools', inputs: { x: randn(2, 3, 7, 5), y: randn(1, 2, 5, 4, 3) }, py: '[F.adaptive_avg_pool2d(x, (3, 2)), F.adaptive_max_pool2d(x, 3), F.adaptive_avg_pool3d(y, (2, 3, 2)), F.adaptive_max_pool3d(y, 2)]', js: ({ x, y }) => [F.adaptiveAvgPool2d(x!, [3, 2]), F.adaptiveMaxPool2d(x!, 3), F.adaptiveAvgPool3d(y!, [2, 3, 2]), F.adaptiveMaxPool3d(y!, 2)] },
  // interpolation
  { name: 'interpolate nearest', inputs: { x: randn(1, 2, 5, 6) }, py: "[F.interpolate(x, scale_factor=2), F.interpolate(x, size=(7, 4)), F.interpolate(x, size=(7, 4), mode='nearest-exact')]", js: ({ x }) => [F.interpolate(x!, { scaleFactor: 2 }), F.interpolate(x!, { size: [7, 4] }), F.interpolate(x!, { size: [7, 4], mode: 'nearest-exact' })] },
  { name: 'interpolate nearest 1d and 3d', inputs: { x: randn(2, 3, 5), y: randn(1, 1, 2, 3, 2) }, py: "[F.interpolate(x, size=8), F.interpolate(y, scale_factor=(2, 1, 3))]", js: ({ x, y }) => [F.interpolate(x!, { size: 8 }), F.interpolate(y!, { scaleFactor: [2, 1, 3] })] },
  { name: 'interpolate bilinear', inputs: { x: randn(1, 2, 5, 6) }, py: "[F.interpolate(x, size=(9, 11), mode='bilinear'), F.interpolate(x, size=(9, 11), mode='bilinear', align_corners=True), F.interpolate(x, size=(3, 4), mode='bilinear'), F.interpolate(x, scale_factor=1.7, mode='bilinear')]", js: ({ x }) => [F.interpolate(x!, { size: [9, 11], mode: 'bilinear' }), F.interpolate(x!, { size: [9, 11], mode: 'bilinear', alignCorners: true }), F.interpolate(x!, { size: [3, 4], mode: 'bilinear' }), F.interpolate(x!, { scaleFactor: 1.7, mode: 'bilinear' })] },
  { name: 'interpolate bicubic', inputs: { x: randn(1, 2, 5, 6) }, py: "[F.interpolate(x, size=(9, 11), mode='bicubic'), F.interpolate(x, size=(9, 11), mode='bicubic', align_corners=True), F.interpolate(x, size=(3, 4), mode='bicubic')]", js: ({ x }) => [F.interpolate(x!, { size: [9, 11], mode: 'bicubic' }), F.interpolate(x!, { size: [9, 11], mode: 'bicubic', alignCorners: true }), F.interpolate(x!, { size: [3, 4], mode: 'bicubic' })] },
  { name: 'interpolate antialias bilinear and bicubic', inputs: { x: randn(1, 2, 11, 13) }, py: "[F.interpolate(x, size=(3, 5), mode='bilinear', antialias=True), F.interpolate(x, size=(4, 5), mode='bicubic', antialias=True), F.interpolate(x, scale_factor=0.4, mode='bilinear', antialias=True)]", js: ({ x }) => [F.interpolate(x!, { size: [3, 5], mode: 'bilinear', antialias: true }), F.interpolate(x!, { size: [4, 5], mode: 'bicubic', antialias: true }), F.interpolate(x!, { scaleFactor: 0.4, mode: 'bilinear', antialias: true })] },
  { name: 'interpolate trilinear and linear', inputs: { y: randn(1, 2, 3, 4, 3), x: randn(2, 3, 5) }, py: "[F.interpolate(y, size=(5, 6, 4), mode='trilinear'), F.interpolate(y, size=(5, 6, 4), mode='trilinear', align_corners=True), F.interpolate(x, size=8, mode='linear', align_corners=True), F.interpolate(x, size=3, mode='linear')]", js: ({ y, x }) => [F.interpolate(y!, { size: [5, 6, 4], mode: 'trilinear' }), F.interpolate(y!, { size: [5, 6, 4], mode: 'trilinear', alignCorners: true }), F.interpolate(x!, { size: 8, mode: 'linear', alignCorners: true }), F.interpolate(x!, { size: 3, mode: 'linear' })] },
  // normalisation
  { name: 'layer_norm affine', inputs: { x: randn(2, 3, 4, 5), w: randn(4, 5), b: randn(4, 5) }, py: '[F.layer_norm(x, (4, 5), w, b), F.layer_norm(x, (5,), eps=1e-3)]', js: ({ x, w, b }) => [F.layerNorm(x!, [4, 5], w!, b!), F.layerNorm(x!, [5], null, null, 1e-3)] },
  { name: 'batch_norm training updates running stats', inputs: { x: randn(4, 3, 5, 5), rm: randn(3), rv: rand(0.5, 2, 3), w: randn(3), b: randn(3) }, py: 'OUT = [F.batch_norm(x, rm, rv, w, b, True, 0.2, 1e-3), rm, rv]', js: ({ x, rm, rv, w, b }) => [F.batchNorm(x!, rm!, rv!, { weight: w, bias: b, training: true, momentum: 0.2, eps: 1e-3 }), rm!, rv!] },
  { name: 'batch_norm eval and no running stats', inputs: { x: randn(4, 3, 5), rm: randn(3), rv: rand(0.5, 2, 3), w: randn(3) }, py: '[F.batch_norm(x, rm, rv, w, None, False), F.batch_norm(x, None, None, training=True)]', js: ({ x, rm, rv, w }) => [F.batchNorm(x!, rm!, rv!, { weight: w }), F.batchNorm(x!, null, null, { training: true })] },
  { name: 'group_norm instance_norm', inputs: { x: randn(2, 6, 4, 3), w: randn(6), b: randn(6) }, py: '[F.group_norm(x, 3, w, b), F.group_norm(x, 1), F.instance_norm(x, weight=w, bias=b), F.instance_norm(x, eps=1e-2)]', js: ({ x, w, b }) => [F.groupNorm(x!, 3, w!, b!), F.groupNorm(x!, 1), F.instanceNorm(x!, w!, b!), F.instanceNorm(x!, null, null, 1e-2)] },
  // losses
  { name: 'cross_entropy ignore_index', inputs: { x: randn(6, 4), t: given([0, 2, 3, 2, 1, 0], [6]) }, py: '[F.cross_entropy(x, t, ignore_index=2), F.cross_entropy(x, t, ignore_index=2, reduction="none"), F.cross_entropy(x, t, ignore_index=2, reduction="sum")]', js: ({ x, t }) => [F.crossEntropy(x!, t!, { ignoreIndex: 2 }), F.crossEntropy(x!, t!, { ignoreIndex: 2, reduction: 'none' }), F.crossEntropy(x!, t!, { ignoreIndex: 2, reduction: 'sum' })] },
  { name: 'cross_entropy label smoothing and weight', inputs: { x: randn(6, 4), t: given([0, 2, 3, 2, 1, 0], [6]), w: rand(0.5, 2, 4) }, py: '[F.cross_entropy(x, t, label_smoothing=0.1), F.cross_entropy(x, t, weight=w), F.cross_entropy(x, t, weight=w, label_smoothing=0.2, ignore_index=0)]', js: ({ x, t, w }) => [F.crossEntropy(x!, t!, { labelSmoothing: 0.1 }), F.crossEntropy(x!, t!, { weight: w }), F.crossEntropy(x!, t!, { weight: w, labelSmoothing: 0.2, ignoreIndex: 0 })] },
  { name: 'cross_entropy spatial and probabilities', inputs: { x: randn(2, 3, 4, 4), t: intIn(0, 3, 2, 4, 4), p: rand(0, 1, 2, 3, 4, 4) }, py: '[F.cross_entropy(x, t, reduction="none"), F.cross_entropy(x, t), F.cross_entropy(x, p), F.cross_entropy(x, p, label_smoothing=0.3)]', js: ({ x, t, p }) => [F.crossEntropy(x!, t!, { reduction: 'none' }), F.crossEntropy(x!, t!), F.crossEntropy(x!, p!), F.crossEntropy(x!, p!, { labelSmoothing: 0.3 })] },
  { name: 'nll_loss', inputs: { x: randn(5, 3), t: given([0, 1, 2, 1, 0], [5]) }, py: '[F.nll_loss(F.log_softmax(x, 1), t, ignore_index=1), F.nll_loss(x, t, reduction="none")]', js: ({ x, t }) => [F.nllLoss(F.logSoftmax(x!, 1), t!, { ignoreIndex: 1 }), F.nllLoss(x!, t!, { reduction: 'none' })] },
  { name: 'bce_with_logits pos_weight weight', inputs: { x: randn(2, 3), t: rand(0, 1, 2, 3), pw: rand(0.5, 3, 3), w: rand(0.5, 2, 2, 3) }, py: '[F.binary_cross_entropy_with_logits(x * 5, t, pos_weight=pw), F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw, reduction="sum"), F.binary_cross_entropy_with_logits(x, t, reduction="none")]', js: ({ x, t, pw, w }) => [F.bceWithLogits(x!.mul(5), t!, { posWeight: pw }), F.bceWithLogits(x!, t!, { weight: w, posWeight: pw, reduction: 'sum' }), F.bceWithLogits(x!, t!, { reduction: 'none' })] },
  { name: 'mse_loss l1_loss', inputs: { x: randn(3, 4), y: randn(3, 4) }, py: '[F.mse_loss(x, y), F.mse_loss(x, y, reduction="sum"), F.l1_loss(x, y), F.l1_loss(x, y, reduction="none")]', js: ({ x, y }) => [F.mseLoss(x!, y!), F.mseLoss(x!, y!, 'sum'), F.l1Loss(x!, y!), F.l1Loss(x!, y!, 'none')] },
  // shape and indexing
  { name: 'pad modes 2d and 3d', inputs: { x: randn(1, 2, 4, 5), y: randn(1, 1, 3, 3, 3) }, py: "[F.pad(x, (2, 1, 1, 3), mode='reflect'), F.pad(x, (2, 1, 1, 3), mode='replicate'), F.pad(x, (2, 1, 1, 3), mode='circular'), F.pad(x, (1, -1, 2, 0), value=0.5), F.pad(y, (1, 1, 2, 0, 1, 1), mode='replicate'), F.pad(y, (1, 1, 2, 0, 1, 1), mode='reflect')]", js: ({ x, y }) => [F.pad(x!, [2, 1, 1, 3], 'reflect'), F.pad(x!, [2, 1, 1, 3], 'replicate'), F.pad(x!, [2, 1, 1, 3], 'circular'), F.pad(x!, [1, -1, 2, 0], 'constant', 0.5), F.pad(y!, [1, 1, 2, 0, 1, 1], 'replicate'), F.pad(y!, [1, 1, 2, 0, 1, 1], 'reflect')] },
  { name: 'gather scatter scatter_add', inputs: { x: randn(3, 4), i: intIn(0, 4, 3, 2), s: randn(3, 2) }, py: '[x.gather(1, i), torch.zeros(3, 4).scatter(1, i[:, :1], s[:, :1]), torch.zeros(3, 4).scatter_add(1, i, s), x.scatter(1, i, 2.5)]', js: ({ x, i, s }) => [x!.gather(1, i!), E.zeros([3, 4]).scatter(1, i!.slice(1, 0, 1), s!.slice(1, 0, 1)), E.zeros([3, 4]).scatterAdd(1, i!, s!), x!.scatter(1, i!, 2.5)] },
  { name: 'index_select index index_put', inputs: { x: randn(4, 3, 5), i: given([3, 0, 3], [3]), j: given([4, 1, 0], [3]), v: randn(3, 3) }, py: '[x.index_select(1, torch.tensor([2, 0])), x[i], x[i, :, j], x[:, j[1:]], x.index_put((i,), v.unsqueeze(-1), accumulate=True)]', js: ({ x, i, j, v }) => [x!.indexSelect(1, i64([2, 0])), x!.index([i!]), x!.index([i!, null, j!]), x!.index([null, j!.slice(0, 1)]), x!.indexPut([i!], v!.unsqueeze(-1), true)] },
  { name: 'masked ops where nonzero', inputs: { x: randn(3, 4), m: maskIn(3, 4), c: maskIn(4) }, py: '[x.masked_fill(m, -1.5), x.masked_fill(c, torch.tensor(2.0)), x.masked_select(m), torch.where(m, x, x * 2), torch.where(m, x, 0.5), torch.where(c, 3.0, x), m.nonzero()]', js: ({ x, m, c }) => [x!.maskedFill(m!, -1.5), x!.maskedFill(c!, E.scalar(2)), x!.maskedSelect(m!), F.where(m!, x!, x!.mul(2)), F.where(m!, x!, 0.5), F.where(c!, 3.0, x!), m!.nonzero()] },
  { name: 'topk sort argsort', inputs: { x: randn(3, 6) }, py: '[*x.topk(3, 1, largest=False), *x.sort(1, descending=True), x.argsort(0), *x.topk(2)]', js: ({ x }) => [...x!.topk(3, 1, false), ...x!.sort(1, true), x!.argsort(0), ...x!.topk(2)] },
  { name: 'cat stack split chunk', inputs: { a: randn(2, 3), b: randn(2, 2) }, py: '[torch.cat([a, b], 1), torch.stack([a, a * 2], 1), *torch.split(a, [1, 2], 1), *a.chunk(2, 1), *a.unbind(1)]', js: ({ a, b }) => [F.cat([a!, b!], 1), F.stack([a!, a!.mul(2)], 1), ...a!.split([1, 2], 1), ...a!.chunk(2, 1), ...a!.unbind(1)] },
  { name: 'views flip roll repeat tril', inputs: { x: randn(2, 3, 4) }, py: '[x.permute(2, 0, 1), x.transpose(0, 2).reshape(4, 6), x.flip([0, 2]), x.roll((1, -1), (1, 2)), x.repeat(2, 1, 3), torch.tril(x[0], 1), torch.triu(x[1], -1), x[:, 1:3:1, ::2], x.narrow(2, 1, 2), x.unsqueeze(1).expand(2, 5, 3, 4)]', js: ({ x }) => [x!.permute(2, 0, 1), x!.transpose(0, 2).reshape(4, 6), x!.flip([0, 2]), x!.roll([1, -1], [1, 2]), x!.repeat(2, 1, 3), F.tril(x!.select(0, 0), 1), F.triu(x!.select(0, 1), -1), x!.slice(1, 1, 3).slice(2, null, null, 2), x!.narrow(2, 1, 2), x!.unsqueeze(1).expand(2, 5, 3, 4)] },
  { name: 'pixel_shuffle one_hot embedding meshgrid', inputs: { x: randn(1, 8, 2, 3), i: given([2, 0, 4, 2], [2, 2]), w: randn(5, 3), a: randn(2), b: randn(3) }, py: "[F.pixel_shuffle(x, 2), F.one_hot(i, 6), F.embedding(i, w), F.embedding(i, w, padding_idx=2), *torch.meshgrid(a, b, indexing='xy')]", js: ({ x, i, w, a, b }) => [F.pixelShuffle(x!, 2), F.oneHot(i!, 6), F.embedding(i!, w!), F.embedding(i!, w!, 2), ...F.meshgrid([a!, b!], 'xy')] },
  { name: 'attention with bias (SAM form)', inputs: { q: randn(2, 3, 5, 4), k: randn(2, 3, 6, 4), v: randn(2, 3, 6, 4), b: randn(5, 6) }, py: '[torch.softmax((q * 0.5) @ k.transpose(-2, -1) + b, -1) @ v, torch.softmax(q @ k.transpose(-2, -1) * 0.3, -1) @ v]', js: ({ q, k, v, b }) => [F.attention(q!, k!, v!, { bias: b }), F.attention(q!, k!, v!, { scale: 0.3 })] },
  // dtype conversions and reduced precision
  { name: 'dtype conversions', inputs: { x: randn(12) }, py: '[(x * 3).to(torch.int32), (x * 3).to(torch.int64), x.to(torch.bfloat16), x.to(torch.float16), x.double(), x > 0, (x * 3).abs().to(torch.uint8), (x > 0).float()]', js: ({ x }) => [x!.mul(3).int(), x!.mul(3).long(), x!.bfloat16(), x!.half(), x!.double(), x!.gt(0), x!.mul(3).abs().to('uint8'), x!.gt(0).float()], tol: 0 },
  { name: 'bfloat16 and float16 arithmetic', inputs: { x: randn(8), y: randn(8) }, py: '[x.bfloat16() + y.bfloat16(), x.half() * y.half(), (x.bfloat16() @ y.bfloat16())]', js: ({ x, y }) => [x!.bfloat16().add(y!.bfloat16()), x!.half().mul(y!.half()), x!.bfloat16().matmul(y!.bfloat16())], tol: 1e-2 },
  { name: 'autocast matmul and conv run in bfloat16', inputs: { a: randn(4, 8), b: randn(8, 3), x: randn(1, 2, 5, 5), w: randn(3, 2, 3, 3) }, py: "with torch.autocast('cpu', dtype=torch.bfloat16):\n    OUT = [a @ b, F.conv2d(x, w), F.linear(a, b.t())]", js: ({ a, b, x, w }) => E.autocast(() => [a!.matmul(b!), F.conv2d(x!, w!), F.linear(a!, b!.t())]), tol: 2e-2 },
];

function hashName(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

function materialize(c: RefCase): Record<string, Wire> {
  const out: Record<string, Wire> = {};
  for (const [k, s] of Object.entries(c.inputs)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const seed = hashName(`${c.name}/${k}`);
    const u = prng(seed);
    const kind = s.values ? 'given' : s.kind ?? 'randn';
    const data = s.values ? s.values.slice()
      : kind === 'randn' ? normals(n, seed).map(Math.fround)
        : kind === 'rand' ? Array.from({ length: n }, () => Math.fround(s.lo! + (s.hi! - s.lo!) * u()))
          : kind === 'int' ? Array.from({ length: n }, () => Math.floor(s.lo! + (s.hi! - s.lo!) * u()))
            : Array.from({ length: n }, () => (u() < 0.5 ? 1 : 0));
    const dtype = s.dtype ?? (kind === 'int' ? 'int64' : kind === 'bool' ? 'bool' : 'float32');
    out[k] = { shape: s.shape, dtype, data };
  }
  return out;
}

function toTensor(w: Wire): Tensor {
  switch (w.dtype) {
    case 'int64': return tensor(BigInt64Array.from(w.data.map((x) => BigInt(x))), w.shape);
    case 'bool': return tensor(Uint8Array.from(w.data), w.shape, { dtype: 'bool' });
    case 'float64': return tensor(Float64Array.from(w.data), w.shape);
    default: return tensor(Float32Array.from(w.data), w.shape, { dtype: w.dtype as DType });
  }
}

const PY_BATCH = String.raw`
OUTPUT = {}
for case in INPUT:
    env = {'torch': torch, 'F': F, 'math': math}
    for k, w in case['inputs'].items():
        env[k] = T(w)
    try:
        if 'OUT =' in case['py']:
            exec(case['py'], env)
            OUTPUT[case['name']] = env['OUT']
        else:
            OUTPUT[case['name']] = eval(case['py'], env)
    except Exception as e:
        OUTPUT[case['name']] = {'error': repr(e)}
`;

describe('forward values against PyTorch 1.13', () => {
  const inputs = CASES.map((c) => ({ name: c.name, py: c.py, inputs: materialize(c) }));
  let ref: Record<string, Wire | Wire[] | number | { error: string }> = {};
  before(() => {
    ref = runTorch(PY_BATCH, inputs);
  });

  for (const [ci, c] of CASES.entries()) {
    test(c.name, () => {
      const expected = ref[c.name];
      assert.ok(expected !== undefined, 'python produced no result');
      if (expected && typeof expected === 'object' && 'error' in expected) assert.fail(`python raised ${expected.error}`);
      const x = Object.fromEntries(Object.entries(inputs[ci]!.inputs).map(([k, w]) => [k, toTensor(w)]));
      const got = E.tidy(() => {
        const r = c.js(x);
        return typeof r === 'number' ? [r] : (Array.isArray(r) ? r : [r]).map((t) => ({ shape: t.shape, dtype: t.dtype, data: t.toArray() }));
      });
      const exp = (Array.isArray(expected) ? expected : [expected]) as (Wire | number)[];
      assert.equal(got.length, exp.length, 'number of results');
      const tol = c.tol ?? 1e-5;
      for (let j = 0; j < exp.length; j++) {
        const g = got[j]!, e = exp[j]!;
        if (typeof e === 'number' || typeof g === 'number') {
          assert.ok(typeof e === 'number' && typeof g === 'number' && Math.abs(g - e) <= tol * (1 + Math.abs(e)), `result ${j}: ${g} vs ${e}`);
          continue;
        }
        assert.deepEqual(g.shape, e.shape, `result ${j}: shape`);
        assert.equal(g.dtype, e.dtype, `result ${j}: dtype`);
        const { maxErr, firstBad } = compareValues(g.data, e.data, tol, tol);
        assert.equal(firstBad, null, `result ${j}: max |diff| ${maxErr}; first outside tolerance ${firstBad}`);
      }
      E.dispose(x);
    });
  }
});

// ------------------------------------------------------------------------------------------------------------
describe('dtypes: creation and conversion round trips', () => {
  test('float32 from numbers and Float32Array', () => {
    const t = tensor([1.5, -2, 3.25]);
    assert.equal(t.dtype, 'float32');
    assert.ok(t.data() instanceof Float32Array);
    assert.deepEqual(t.toArray(), [1.5, -2, 3.25]);
    assert.deepEqual(Array.from(tensor(new Float32Array([0.1])).data() as Float32Array), [Math.fround(0.1)]);
  });

  test('float64 from Float64Array is exact', () => {
    const v = [0.1, 1e-300, -1 / 3, 2 ** 60 + 2 ** 8];
    const t = tensor(Float64Array.from(v));
    assert.equal(t.dtype, 'float64');
    assert.ok(t.data() instanceof Float64Array);
    assert.deepEqual(t.toArray(), v);
    assert.equal(tensor(Float64Array.from([0.1]), []).item(), 0.1);
  });

  test('[engine bug 1] tensor(numbers, shape, {dtype: float64 | int64}) keeps the JS values exactly', () => {
    // The number[] path goes through Float32Array first: 0.1 becomes 0.10000000149011612, 16777217 becomes 16777216.
    assert.equal(tensor([0.1], [1], { dtype: 'float64' }).item(), 0.1);
    assert.equal(tensor([16777217], [1], { dtype: 'int64' }).item(), 16777217);
    assert.equal(tensor([2147483647], [1], { dtype: 'int32' }).item(), 2147483647);
  });

  test('bfloat16 and float16: values, names and bit patterns', () => {
    const b = tensor([1, 2.5, -3], undefined, { dtype: 'bfloat16' });
    assert.equal(b.dtype, 'bfloat16');
    assert.deepEqual(Array.from(b.data() as Uint16Array), [0x3f80, 0x4020, 0xc040]);
    assert.deepEqual(b.toArray(), [1, 2.5, -3]);
    assert.deepEqual(tensor(new Uint16Array([0x3f80, 0xc040]), undefined, { dtype: 'bfloat16' }).toArray(), [1, -3]);
    // bf16 keeps 8 mantissa bits: 1 + 2^-9 rounds to 1
    assert.deepEqual(tensor([1 + 2 ** -9, 257]).bfloat16().toArray(), [1, 256]);
    const h = tensor([1, 2.5, -3], undefined, { dtype: 'float16' });
    assert.equal(h.dtype, 'float16');
    assert.deepEqual(Array.from(h.data() as Uint16Array), [0x3c00, 0x4100, 0xc200]);
    assert.deepEqual(h.toArray(), [1, 2.5, -3]);
    assert.deepEqual(tensor(new Uint16Array([0x3c00]), undefined, { dtype: 'float16' }).toArray(), [1]);
    assert.deepEqual(tensor([65504, 1e5]).half().toArray(), [65504, Infinity]);
    assert.deepEqual(Array.from(h.toFloat32Array()), [1, 2.5, -3]);
    assert.throws(() => tensor(new Uint16Array([1])), TypeError);
  });

  test('int64, int32, uint8 and bool: values and typed arrays', () => {
    const big = tensor(BigInt64Array.from([2n ** 53n + 1n, -5n]));
    assert.equal(big.dtype, 'int64');
    assert.deepEqual(Array.from(big.data() as BigInt64Array), [2n ** 53n + 1n, -5n]);
    assert.deepEqual(big.add(1).data(), BigInt64Array.from([2n ** 53n + 2n, -4n]));
    const i = tensor(Int32Array.from([-7, 2147483647]));
    assert.equal(i.dtype, 'int32');
    assert.deepEqual(i.toArray(), [-7, 2147483647]);
    const u = tensor(Uint8Array.from([0, 255]));
    assert.equal(u.dtype, 'uint8');
    assert.deepEqual(u.toArray(), [0, 255]);
    assert.deepEqual(u.add(1).toArray(), [1, 0]); // uint8 wraps, as torch
    const b = tensor(Uint8Array.from([0, 1, 1]), undefined, { dtype: 'bool' });
    assert.equal(b.dtype, 'bool');
    assert.ok(b.data() instanceof Uint8Array);
    assert.deepEqual(b.toArray(), [0, 1, 1]);
    assert.equal(b.sum().item(), 2);
    assert.deepEqual(tensor([0, 1, 2], undefined, { dtype: 'int16' }).toArray(), [0, 1, 2]);
    assert.equal(tensor([0, 1, 2], undefined, { dtype: 'int8' }).dtype, 'int8');
  });

  test('.to() conversions between every pair keep representable values', () => {
    const values = [0, 1, 2, 100];
    const dtypes: DType[] = ['float32', 'float64', 'bfloat16', 'float16', 'int64', 'int32', 'int16', 'int8', 'uint8'];
    for (const from of dtypes) {
      const t = tensor(values, undefined, { dtype: from });
      assert.equal(t.dtype, from);
      for (const to of dtypes) {
        const c = t.to(to);
        assert.equal(c.dtype, to, `${from} -> ${to}`);
        assert.deepEqual(c.toArray(), values, `${from} -> ${to}`);
        assert.deepEqual(c.to(from).toArray(), values, `${from} -> ${to} -> ${from}`);
      }
      assert.deepEqual(t.to('bool').toArray(), [0, 1, 1, 1], `${from} -> bool`);
      assert.deepEqual(t.to('bool').to(from).toArray(), [0, 1, 1, 1], `${from} -> bool -> ${from}`);
    }
    // float -> int truncates toward zero
    assert.deepEqual(tensor([2.7, -2.7]).int().toArray(), [2, -2]);
    assert.deepEqual(tensor([2.7, -2.7]).long().toArray(), [2, -2]);
    assert.equal(tensor([1]).double().dtype, 'float64');
    assert.equal(tensor([1]).float().dtype, 'float32');
    assert.equal(tensor([1]).bool().dtype, 'bool');
    assert.equal(tensor([1]).to({ dtype: 'int32' }).dtype, 'int32');
    assert.equal(tensor([1]).cpu().device, 'cpu');
    assert.equal(tensor([1]).to('cpu').dtype, 'float32');
    // to() of the same dtype returns an alias unless copy is asked for
    const x = tensor([1, 2]);
    assert.ok(x.to('float32').sharesStorageWith(x));
    assert.ok(!x.to({ dtype: 'float32', copy: true }).sharesStorageWith(x));
  });

  test('creation functions: dtype defaults and values', () => {
    same(E.zeros([2, 2]), [2, 2], [0, 0, 0, 0], 'float32');
    same(E.ones([3], { dtype: 'int32' }), [3], [1, 1, 1], 'int32');
    same(E.full([2], 7, { dtype: 'float64' }), [2], [7, 7], 'float64');
    same(E.full([2], 0.5), [2], [0.5, 0.5], 'float32');
    same(E.eye(2), [2, 2], [1, 0, 0, 1]);
    same(E.arange(4), [4], [0, 1, 2, 3], 'int64');
    same(E.arange(1, 7, 2), [3], [1, 3, 5], 'int64');
    same(E.arange(0, 1, 0.25), [4], [0, 0.25, 0.5, 0.75], 'float32');
    same(E.arange(3, undefined, 1, { dtype: 'float64' }), [3], [0, 1, 2], 'float64');
    same(E.linspace(0, 1, 5), [5], [0, 0.25, 0.5, 0.75, 1], 'float32');
    same(E.scalar(3), [], [3], 'float32');
    same(tensor(2.5), [], [2.5]);
    assert.deepEqual(E.empty([2, 3]).shape, [2, 3]);
    const x = tensor([1, 2], undefined, { dtype: 'int32' });
    same(E.zerosLike(x), [2], [0, 0], 'int32');
    same(E.onesLike(x, { dtype: 'float64' }), [2], [1, 1], 'float64');
    same(E.fullLike(x, 4), [2], [4, 4], 'int32');
    assert.equal(E.byteSize(E.zeros([3], { dtype: 'float64' })), 24);
    assert.equal(E.isFloatingTensor(x), false);
    assert.throws(() => tensor([1, 2, 3], [2, 2]), RangeError);
  });

  test('autocast: bf16 matmul, scope flags, and updated weights are never served stale', () => {
    const x = tensor(normals(8, 3), [2, 4]);
    const w = tensor(normals(12, 4), [4, 3], { requiresGrad: true });
    assert.equal(E.isAutocastEnabled(), false);
    const y1 = E.autocast(() => {
      assert.equal(E.isAutocastEnabled(), true);
      assert.equal(E.autocast(() => E.isAutocastEnabled(), { enabled: false }), false);
      assert.equal(E.isAutocastEnabled(), true);
      return x.matmul(w);
    });
    assert.equal(y1.dtype, 'bfloat16');
    assert.equal(E.isAutocastEnabled(), false);
    E.noGrad(() => w.add_(1));
    const y2 = E.autocast(() => x.matmul(w));
    const exact = E.noGrad(() => x.matmul(w)).toArray();
    const { firstBad } = compareValues(y2.toArray(), exact, 0.05, 0.02);
    assert.equal(firstBad, null, 'autocast result follows the updated weight');
    assert.notDeepEqual(y2.toArray(), y1.toArray());
    assert.throws(() => E.autocast(() => Promise.resolve(1)), /must be synchronous/);
    assert.equal(E.isAutocastEnabled(), false);
  });

  test('channels-last memory format: contiguity, strides, values, conv equality', () => {
    const x = E.tidy(() => tensor(normals(2 * 3 * 4 * 5, 7), [2, 3, 4, 5]));
    const cl = x.contiguous('channelsLast');
    assert.ok(cl.isContiguous('channelsLast'));
    assert.ok(!cl.isContiguous());
    assert.ok(x.isContiguous() && !x.isContiguous('channelsLast'));
    assert.deepEqual(cl.strides, [60, 1, 15, 3]);
    assert.deepEqual(cl.shape, [2, 3, 4, 5]);
    assert.deepEqual(cl.toArray(), x.toArray());
    const viaTo = x.to({ memoryFormat: 'channelsLast' });
    assert.ok(viaTo.isContiguous('channelsLast'));
    assert.ok(x.clone('channelsLast').isContiguous('channelsLast'));
    assert.ok(cl.clone('preserve').isContiguous('channelsLast'));
    assert.ok(cl.contiguous().isContiguous());
    const w = tensor(normals(6 * 3 * 3 * 3, 8), [6, 3, 3, 3]);
    const y0 = F.conv2d(x, w, null, { padding: 1 });
    const y1 = F.conv2d(cl, w.contiguous('channelsLast'), null, { padding: 1 });
    assert.ok(y1.isContiguous('channelsLast'), 'conv keeps channels-last');
    near(y1, y0.toArray(), 1e-5, 'channels-last conv');
    const v = tensor(normals(2 * 3 * 2 * 3 * 4, 9), [2, 3, 2, 3, 4]).contiguous('channelsLast3d');
    assert.ok(v.isContiguous('channelsLast3d'));
  });
});
