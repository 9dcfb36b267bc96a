// Finite-difference gradient checks (float64) for every differentiable op the models use.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.ts';
import { type Tensor, F } from '../../src/engine/index.ts';
import { gradcheck, input, ints, type GradcheckOptions } from '../helpers/gradcheck.ts';

const bools = (values: number[], shape?: number[]): Tensor => E.tensor(Uint8Array.from(values), shape, { dtype: 'bool' });

let seed = 1;
const x = (...shape: number[]): Tensor => input(shape, seed++);
const pos = (...shape: number[]): Tensor => input(shape, seed++, { range: [0.5, 2] });
const away = (...shape: number[]): Tensor => input(shape, seed++, { awayFrom: 0.05 });
const distinct = (...shape: number[]): Tensor => input(shape, seed++, { distinct: true });

/** Registers one test: builds the inputs, gradchecks fn, disposes everything. */
function check(name: string, make: () => Tensor[], fn: (...t: Tensor[]) => Tensor | Tensor[], opts?: GradcheckOptions): void {
  test(name, () => {
    const before = E.memory().liveTensors;
    E.tidy(() => {
      const inputs = make();
      const r = gradcheck(fn, inputs, opts);
      assert.ok(r.checked > 0);
    });
    assert.equal(E.memory().liveTensors, before, 'gradcheck left tensors alive');
  });
}

describe('the gradcheck helper', () => {
  test('passes a correct gradient and counts every element of every input', () => {
    E.tidy(() => {
      const r = gradcheck((a, b) => a!.mul(b!).sum(1), [x(2, 3), x(2, 3)]);
      assert.equal(r.checked, 12);
      assert.ok(r.maxAbsErr < 1e-8, `max error ${r.maxAbsErr}`);
    });
  });

  test('rejects a wrong gradient (x.detach() * x has analytic grad x, true derivative 2x)', () => {
    E.tidy(() => {
      assert.throws(() => gradcheck((a) => a!.detach().mul(a!), [x(4)]), /gradcheck: 4 of 4 derivatives differ/);
    });
  });

  test('rejects a gradient that is off by a small relative amount', () => {
    // forward value is a (numeric derivative 1) but the graph only sees a * 1.001 (analytic 1.001)
    E.tidy(() => {
      const f = (a: Tensor): Tensor => a.mul(1.001).add(a.detach().mul(-0.001)); // value a, analytic grad 1.001
      assert.throws(() => gradcheck(f, [x(3)]), /differ/);
    });
  });

  test('refuses float32 inputs and float32 outputs', () => {
    E.tidy(() => {
      assert.throws(() => gradcheck((a) => a!.mul(2), [E.randn([2])], { wrt: [0] }), /input 0 is float32; use float64/);
      assert.throws(() => gradcheck((a) => a!.mul(2), [E.randn([2])]), /no float64 inputs/);
      assert.throws(() => gradcheck((a) => a!.float(), [x(2)]), /must compute in float64/);
    });
  });

  test('checks only the inputs named in wrt, and treats unused inputs as zero gradient', () => {
    E.tidy(() => {
      assert.equal(gradcheck((a, b) => a!.mul(b!), [x(3), x(3)], { wrt: [1] }).checked, 3);
      assert.equal(gradcheck((a) => a!.mul(0).add(1), [x(3)]).checked, 3);
      assert.equal(gradcheck((a, _b) => a!.exp(), [x(3), x(2)]).checked, 5);
    });
  });
});

describe('elementwise arithmetic (broadcasting)', () => {
  check('add [2,3] + [3]', () => [x(2, 3), x(3)], (a, b) => a!.add(b!));
  check('add [2,1,3] + [4,1], alpha 0.5, plus scalar', () => [x(2, 1, 3), x(4, 1)], (a, b) => a!.add(b!, 0.5).add(2));
  check('sub [2,3] - [2,1], alpha 2, minus scalar', () => [x(2, 3), x(2, 1)], (a, b) => a!.sub(b!, 2).sub(0.5));
  check('mul [3,1] * [1,4] and scalar', () => [x(3, 1), x(1, 4)], (a, b) => a!.mul(b!).mul(-1.5));
  check('div [2,3] / [3] and scalar', () => [x(2, 3), pos(3)], (a, b) => a!.div(b!).div(0.7));
  check('pow tensor^tensor', () => [pos(2, 3), x(2, 3)], (a, b) => a!.pow(b!));
  check('pow tensor^scalar (3, 0.5, -1.5)', () => [pos(5)], (a) => [a!.pow(3), a!.pow(0.5), a!.pow(-1.5)]);
  check('exp', () => [x(2, 3)], (a) => a!.exp());
  check('log', () => [pos(2, 3)], (a) => a!.log());
  check('sqrt', () => [pos(2, 3)], (a) => a!.sqrt());
  check('rsqrt', () => [pos(2, 3)], (a) => a!.rsqrt());
  check('abs', () => [away(2, 3)], (a) => a!.abs());
  check('neg', () => [x(2, 3)], (a) => a!.neg());
  check('square reciprocal', () => [pos(4)], (a) => [a!.square(), a!.reciprocal()]);
  check('maximum minimum', () => [distinct(6), distinct(6)], (a, b) => [a!.maximum(b!.mul(1.01)), a!.minimum(b!.mul(1.01))]);
  check('clamp (values away from the bounds)', () => [input([12], 77, { range: [-2, 2] })],
    (a) => [a!.clamp(-0.5123, 0.7123), a!.clamp(0.1234), a!.clamp(null, -0.2345)]);
});

describe('activations', () => {
  check('tanh', () => [x(2, 4)], (a) => a!.tanh());
  check('sigmoid', () => [x(2, 4)], (a) => F.sigmoid(a!));
  check('relu', () => [away(2, 4)], (a) => F.relu(a!));
  check('leakyRelu', () => [away(2, 4)], (a) => F.leakyRelu(a!, 0.2));
  check('gelu exact', () => [x(2, 4)], (a) => F.gelu(a!));
  check('gelu tanh', () => [x(2, 4)], (a) => F.gelu(a!, 'tanh'));
  check('silu', () => [x(2, 4)], (a) => F.silu(a!));
  check('softmax dim 1 and -1', () => [x(2, 3, 4)], (a) => [F.softmax(a!, 1), F.softmax(a!, -1)]);
  check('logSoftmax', () => [x(3, 4)], (a) => F.logSoftmax(a!, 1));
});

describe('reductions', () => {
  check('sum all, dims, keepdim', () => [x(2, 3, 4)], (a) => [a!.sum(), a!.sum([0, 2]), a!.sum(1, true)]);
  check('mean all and dim', () => [x(2, 3, 4)], (a) => [a!.mean(), a!.mean(-1), a!.mean([0, 1], true)]);
  check('amax (no ties)', () => [distinct(3, 4)], (a) => [a!.amax(), a!.amax(1), a!.amin(0, true)]);
  check('var (unbiased, biased)', () => [x(3, 5)], (a) => [a!.var(), a!.var(1, { correction: 0 }), a!.var(0, { keepdim: true })]);
  check('std', () => [x(3, 5)], (a) => [a!.std(), a!.std(1), a!.std([0, 1], { correction: 0 })]);
  check('cumsum', () => [x(3, 4)], (a) => [a!.cumsum(0), a!.cumsum(1)]);
  check('logsumexp and norm', () => [away(3, 4)], (a) => [a!.logsumexp(1), a!.norm(), a!.norm(1, 0)]);
});

describe('linear algebra', () => {
  check('matmul 2d', () => [x(3, 4), x(4, 2)], (a, b) => a!.matmul(b!));
  check('matmul batched broadcast', () => [x(2, 1, 2, 3), x(3, 3, 2)], (a, b) => a!.matmul(b!));
  check('matmul vector', () => [x(4), x(2, 4, 3)], (a, b) => a!.matmul(b!));
  check('bmm', () => [x(2, 3, 4), x(2, 4, 2)], (a, b) => F.bmm(a!, b!));
  check('linear with bias', () => [x(2, 3, 4), x(5, 4), x(5)], (a, w, b) => F.linear(a!, w!, b!));
  check('linear without bias', () => [x(3, 4), x(2, 4)], (a, w) => F.linear(a!, w!));
  check('baddbmm', () => [x(2, 3, 2), x(2, 3, 4), x(2, 4, 2)], (i, a, b) => F.baddbmm(i!, a!, b!, 0.5, 2));
});

describe('convolutions', () => {
  check('conv1d stride 2, padding 1, dilation 2, groups 2', () => [x(1, 4, 7), x(4, 2, 3), x(4)],
    (a, w, b) => F.conv1d(a!, w!, b!, { stride: 2, padding: 1, dilation: 2, groups: 2 }));
  check('conv2d stride, padding, dilation', () => [x(1, 2, 5, 5), x(3, 2, 2, 3), x(3)],
    (a, w, b) => F.conv2d(a!, w!, b!, { stride: [2, 1], padding: [1, 2], dilation: [1, 2] }));
  check('conv2d groups', () => [x(2, 4, 4, 4), x(4, 2, 2, 2)], (a, w) => F.conv2d(a!, w!, null, { groups: 2, padding: 1, stride: 2 }));
  check('conv3d stride, padding, dilation, groups', () => [x(1, 2, 4, 4, 3), x(2, 1, 2, 2, 2), x(2)],
    (a, w, b) => F.conv3d(a!, w!, b!, { stride: [2, 1, 1], padding: 1, dilation: [1, 2, 1], groups: 2 }));
  check('convTranspose2d stride 2, outputPadding 1, groups', () => [x(1, 4, 3, 3), x(4, 1, 3, 3), x(2)],
    (a, w, b) => F.convTranspose2d(a!, w!, b!, { stride: 2, padding: 1, outputPadding: 1, groups: 2 }));
  check('convTranspose2d dilation', () => [x(1, 2, 3, 2), x(2, 2, 2, 2)],
    (a, w) => F.convTranspose2d(a!, w!, null, { stride: [1, 2], dilation: 2, outputPadding: [0, 1] }));
  check('convTranspose3d stride, outputPadding', () => [x(1, 2, 2, 3, 2), x(2, 2, 2, 2, 2), x(2)],
    (a, w, b) => F.convTranspose3d(a!, w!, b!, { stride: [2, 1, 2], outputPadding: [1, 0, 1] }));
});

describe('pooling', () => {
  check('maxPool2d kernel 2', () => [distinct(1, 2, 4, 4)], (a) => F.maxPool2d(a!, 2));
  check('maxPool2d kernel 3 stride 2 padding 1 ceil', () => [distinct(1, 1, 5, 6)], (a) => F.maxPool2d(a!, 3, { stride: 2, padding: 1, ceilMode: true }));
  check('maxPool3d', () => [distinct(1, 1, 4, 4, 2)], (a) => F.maxPool3d(a!, 2, { stride: [2, 2, 1] }));
  check('avgPool2d padding, exclude pad', () => [x(1, 2, 5, 5)], (a) => [F.avgPool2d(a!, 3, { stride: 2, padding: 1 }), F.avgPool2d(a!, 2, { padding: 1, countIncludePad: false })]);
  check('avgPool3d', () => [x(1, 1, 4, 4, 3)], (a) => F.avgPool3d(a!, 2, { padding: [0, 1, 1] }));
  check('adaptiveAvgPool2d (non-divisible)', () => [x(1, 2, 5, 7)], (a) => F.adaptiveAvgPool2d(a!, [3, 2]));
  check('adaptiveAvgPool3d', () => [x(1, 1, 5, 4, 3)], (a) => F.adaptiveAvgPool3d(a!, [2, 3, 2]));
  check('adaptiveMaxPool2d', () => [distinct(1, 1, 5, 4)], (a) => F.adaptiveMaxPool2d(a!, 2));
});

describe('interpolate', () => {
  check('nearest scale 2 and size', () => [x(1, 2, 3, 3)], (a) => [F.interpolate(a!, { scaleFactor: 2 }), F.interpolate(a!, { size: [2, 5] })]);
  check('bilinear alignCorners false', () => [x(1, 1, 3, 4)], (a) => [F.interpolate(a!, { size: [5, 7], mode: 'bilinear' }), F.interpolate(a!, { size: [2, 3], mode: 'bilinear' })]);
  check('bilinear alignCorners true', () => [x(1, 1, 3, 4)], (a) => F.interpolate(a!, { size: [5, 7], mode: 'bilinear', alignCorners: true }));
  check('bicubic', () => [x(1, 1, 4, 4)], (a) => [F.interpolate(a!, { size: [6, 5], mode: 'bicubic' }), F.interpolate(a!, { size: [6, 5], mode: 'bicubic', alignCorners: true })]);
  check('trilinear', () => [x(1, 1, 2, 3, 3)], (a) => [F.interpolate(a!, { size: [3, 4, 5], mode: 'trilinear' }), F.interpolate(a!, { size: [3, 4, 5], mode: 'trilinear', alignCorners: true })]);
  check('bilinear antialias (downsampling)', () => [x(1, 1, 7, 8)], (a) => F.interpolate(a!, { size: [3, 3], mode: 'bilinear', antialias: true }));
  check('bicubic antialias (downsampling)', () => [x(1, 1, 7, 6)], (a) => F.interpolate(a!, { size: [3, 2], mode: 'bicubic', antialias: true }));
  check('linear 1d', () => [x(1, 2, 4)], (a) => F.interpolate(a!, { size: 7, mode: 'linear' }));
});

describe('normalisation', () => {
  check('layerNorm with weight and bias', () => [x(2, 3, 4), x(3, 4), x(3, 4)], (a, w, b) => F.layerNorm(a!, [3, 4], w!, b!));
  check('layerNorm without affine', () => [x(3, 5)], (a) => F.layerNorm(a!, [5]));
  check('batchNorm training (batch statistics)', () => [x(4, 3, 2), x(3), x(3)],
    (a, w, b) => F.batchNorm(a!, null, null, { weight: w, bias: b, training: true }));
  check('batchNorm training 4d, no affine', () => [x(3, 2, 2, 2)], (a) => F.batchNorm(a!, null, null, { training: true }));
  check('groupNorm', () => [x(2, 4, 3), x(4), x(4)], (a, w, b) => F.groupNorm(a!, 2, w!, b!));
  check('instanceNorm', () => [x(2, 3, 4), x(3), x(3)], (a, w, b) => F.instanceNorm(a!, w!, b!));
});

describe('embedding, attention and indexing', () => {
  check('embedding (grad wrt weight, repeated indices)', () => [ints([1, 3, 1, 0], [2, 2]), x(4, 3)], (i, w) => F.embedding(i!, w!));
  test('embedding with paddingIdx: the padding row gets no gradient, the others count their lookups', () => {
    E.tidy(() => {
      const w = x(3, 2).requiresGrad_();
      F.embedding(ints([1, 2, 1, 0, 2]), w, 1).sum().backward();
      assert.deepEqual(w.grad!.toArray(), [1, 1, 0, 0, 2, 2]);
    });
  });
  check('attention with bias (q, k, v, bias)', () => [x(1, 2, 3, 4), x(1, 2, 5, 4), x(1, 2, 5, 4), x(3, 5)],
    (q, k, v, b) => F.attention(q!, k!, v!, { bias: b }));
  check('attention with explicit scale', () => [x(3, 2), x(4, 2), x(4, 3)], (q, k, v) => F.attention(q!, k!, v!, { scale: 0.7 }));
  check('gather', () => [x(3, 4), ints([0, 3, 3, 1, 2, 2], [3, 2])], (a, i) => a!.gather(1, i!));
  check('indexSelect (repeats)', () => [x(4, 3), ints([2, 0, 2])], (a, i) => [a!.indexSelect(0, i!), a!.indexSelect(1, i!.slice(0, 0, 2))]);
  check('index (advanced, repeats, null dims)', () => [x(4, 3, 2), ints([3, 0, 3]), ints([1, 1, 0])],
    (a, i, j) => [a!.index([i!]), a!.index([i!, j!]), a!.index([null, j!])]);
  check('index with a bool mask', () => [x(3, 2), bools([1, 0, 1])], (a, m) => a!.index([m!]));
  check('scatter / scatterAdd (grad wrt self and src)', () => [x(3, 4), ints([0, 3, 1, 2, 2, 0], [3, 2]), x(3, 2)],
    (a, i, s) => [a!.scatter(1, i!, s!), a!.scatterAdd(1, i!, s!)]);
  check('indexPut with accumulate', () => [x(4, 2), ints([1, 3, 1]), x(3, 2)], (a, i, v) => a!.indexPut([i!], v!, true));
  check('maskedFill', () => [x(3, 4), bools([1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1, 0], [3, 4])], (a, m) => [a!.maskedFill(m!, -2), a!.maskedFill(m!.slice(0, 0, 1), 0.5)]);
  check('where (tensor/tensor, tensor/scalar)', () => [bools([1, 0, 1, 1, 0, 0], [2, 3]), x(2, 3), x(3)],
    (m, a, b) => [F.where(m!, a!, b!), F.where(m!, a!, 0.5), F.where(m!, 2, b!), a!.where(m!, b!)]);
  check('maskedSelect', () => [x(2, 3), bools([1, 0, 1, 1, 0, 0], [2, 3])], (a, m) => a!.maskedSelect(m!));
  check('topk and sort values', () => [distinct(2, 5)], (a) => [a!.topk(2)[0], a!.sort(1, true)[0]]);
});

describe('joining, splitting and views', () => {
  check('cat', () => [x(2, 3), x(1, 3), x(2, 2)], (a, b, c) => [F.cat([a!, b!]), F.cat([a!, c!], 1)]);
  check('stack', () => [x(2, 3), x(2, 3)], (a, b) => [F.stack([a!, b!]), F.stack([a!, b!], -1)]);
  check('split (sizes and chunks of 2)', () => [x(5, 2)], (a) => [...a!.split([2, 3]), ...a!.split(2)]);
  check('chunk', () => [x(2, 5)], (a) => a!.chunk(3, 1).map((t, i) => t.mul(i + 1)));
  check('unbind', () => [x(3, 2)], (a) => a!.unbind(0).map((t, i) => t.mul(i + 1)));
  check('view and reshape', () => [x(2, 6)], (a) => [a!.view(3, 4), a!.transpose(0, 1).reshape(4, 3), a!.view(-1)]);
  check('permute and transpose', () => [x(2, 3, 4), x(4, 2, 3)], (a, r) => [a!.permute(2, 0, 1).mul(r!), a!.transpose(0, 2)]);
  check('expand', () => [x(3, 1), x(2, 3, 4)], (a, r) => a!.expand(2, 3, 4).mul(r!));
  check('repeat', () => [x(2, 3), x(2, 2, 6)], (a, r) => a!.repeat(2, 1, 2).mul(r!));
  check('unsqueeze squeeze flatten unflatten', () => [x(2, 3)], (a) => [a!.unsqueeze(1).squeeze(1), a!.unsqueeze(0).flatten(), a!.unflatten(1, [3, 1]).mul(2)]);
  check('pad constant (incl. negative)', () => [x(1, 2, 3, 3)], (a) => [F.pad(a!, [1, 2, 0, 1], 'constant', 0.5), F.pad(a!, [-1, 1])]);
  check('pad reflect', () => [x(1, 2, 3, 4)], (a) => F.pad(a!, [2, 1, 1, 2], 'reflect'));
  check('pad replicate', () => [x(1, 2, 3, 3)], (a) => F.pad(a!, [2, 1, 1, 2], 'replicate'));
  check('pad reflect and replicate 3d', () => [x(1, 1, 3, 3, 2)], (a) => [F.pad(a!, [1, 0, 1, 1, 2, 0], 'replicate'), F.pad(a!, [1, 1, 1, 0, 1, 1], 'reflect')]);
  check('pad circular', () => [x(1, 1, 3, 3)], (a) => F.pad(a!, [1, 2, 2, 0], 'circular'));
  check('flip', () => [x(2, 3, 2), x(2, 3, 2)], (a, r) => [a!.flip(0).mul(r!), a!.flip([1, 2])]);
  check('slice with step and negative start', () => [x(3, 7)], (a) => [a!.slice(1, 1, 6, 2), a!.slice(0, -2), a!.slice(1, null, null, 3)]);
  check('narrow and select', () => [x(3, 5)], (a) => [a!.narrow(1, 1, 3), a!.select(0, 2), a!.select(1, -1)]);
  check('roll', () => [x(3, 4), x(3, 4)], (a, r) => a!.roll([1, -2], [0, 1]).mul(r!));
  check('tril triu', () => [x(3, 3)], (a) => [F.tril(a!), F.triu(a!, 1)]);
  check('pixelShuffle', () => [x(1, 4, 2, 2), x(1, 1, 4, 4)], (a, r) => F.pixelShuffle(a!, 2).mul(r!));
  check('einsum', () => [x(2, 3), x(3, 4)], (a, b) => F.einsum('ij,jk->ik', a!, b!));
});

describe('losses', () => {
  check('bceWithLogits (logits and target)', () => [x(2, 3), input([2, 3], 901, { range: [0, 1] })], (l, t) => F.bceWithLogits(l!, t!));
  check('bceWithLogits posWeight and weight, sum and none', () => [x(2, 3), input([2, 3], 902, { range: [0, 1] }), pos(3), pos(2, 3)],
    (l, t, pw, w) => [F.bceWithLogits(l!, t!, { posWeight: pw, weight: w, reduction: 'sum' }), F.bceWithLogits(l!, t!, { posWeight: pw, reduction: 'none' })],
    { wrt: [0, 1] }); // pos_weight and weight are not differentiable in libtorch
  check('crossEntropy with class indices (mean, sum, none, ignoreIndex)', () => [x(4, 3), ints([0, 2, 1, 2])],
    (l, t) => [F.crossEntropy(l!, t!), F.crossEntropy(l!, t!, { reduction: 'sum' }), F.crossEntropy(l!, t!, { reduction: 'none' }), F.crossEntropy(l!, t!, { ignoreIndex: 2 })]);
  check('crossEntropy label smoothing and class weights', () => [x(4, 3), ints([0, 2, 1, 2]), pos(3)],
    (l, t, w) => [F.crossEntropy(l!, t!, { labelSmoothing: 0.1 }), F.crossEntropy(l!, t!, { weight: w, labelSmoothing: 0.2 })], { wrt: [0] });
  check('crossEntropy spatial [N,C,H,W]', () => [x(2, 3, 2, 2), ints([0, 1, 2, 2, 1, 0, 0, 1], [2, 2, 2])], (l, t) => F.crossEntropy(l!, t!));
  check('crossEntropy with probability targets', () => [x(3, 4), input([3, 4], 903, { range: [0, 1] })], (l, p) => F.crossEntropy(l!, p!));
  check('nllLoss', () => [x(4, 3), ints([0, 2, 1, 1])], (l, t) => F.nllLoss(F.logSoftmax(l!, 1), t!, { ignoreIndex: 1 }));
  check('mseLoss', () => [x(3, 4), x(3, 4)], (a, b) => [F.mseLoss(a!, b!), F.mseLoss(a!, b!, 'sum'), F.mseLoss(a!, b!, 'none')]);
  check('l1Loss (differences away from 0)', () => [away(3, 4), input([3, 4], 904, { range: [-0.01, 0.01] })], (a, b) => [F.l1Loss(a!, b!), F.l1Loss(a!, b!, 'none')]);
});
