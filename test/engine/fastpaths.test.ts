// The engine's inference fast paths give libtorch's values, and the addon runs on the BLAS it was built for.
// A transposed convolution whose kernel equals its stride runs as one GEMM outside autograd and autocast; these
// tests compare it with libtorch's own op (called by name, which has no fast path) and check that training and
// autocast still go through libtorch.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type Tensor, F, autocast, blasLibrary, callT, inferenceMode, manualSeed, noGrad, openmpBlasDir, randn, tidy,
} from '../../src/engine/index.ts';

const OPS = { 1: 'conv_transpose1d', 2: 'conv_transpose2d.input', 3: 'conv_transpose3d.input' } as const;
const FNS = { 1: F.convTranspose1d, 2: F.convTranspose2d, 3: F.convTranspose3d } as const;

/** libtorch's conv_transpose with kernel = stride, no padding, dilation 1, groups 1. */
function reference(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  const n = (x.ndim - 2) as 1 | 2 | 3;
  const k = w.shape.slice(2), zeros = k.map(() => 0);
  return callT(OPS[n], [x, w, b, k, zeros, zeros, 1, k.map(() => 1)]);
}

const maxAbs = (a: Tensor, b: Tensor): number => tidy(() => a.sub(b).abs().max().item());

describe('transposed convolution with kernel = stride (inference)', () => {
  const cases: { name: string; x: number[]; w: number[]; channelsLast?: boolean }[] = [
    { name: '2d, SAM upscaling', x: [1, 32, 16, 16], w: [32, 8, 2, 2] },
    { name: '2d, channels-last input', x: [2, 16, 6, 5], w: [16, 4, 2, 2], channelsLast: true },
    { name: '2d, non-square kernel, batch 3', x: [3, 6, 5, 7], w: [6, 3, 3, 2] },
    { name: '3d, U-Net up block', x: [2, 8, 4, 5, 3], w: [8, 4, 2, 2, 2] },
    { name: '3d, channels-last input', x: [1, 8, 3, 4, 5], w: [8, 2, 2, 2, 2], channelsLast: true },
    { name: '1d', x: [2, 5, 9], w: [5, 3, 4] },
  ];
  for (const c of cases) {
    test(`${c.name}: equals libtorch's op, with and without bias; output is contiguous`, () => {
      manualSeed(11);
      noGrad(() => tidy(() => {
        const n = (c.x.length - 2) as 1 | 2 | 3;
        let x = randn(c.x);
        if (c.channelsLast) x = x.contiguous(n === 2 ? 'channelsLast' : 'channelsLast3d');
        const w = randn(c.w), b = randn([c.w[1]!]);
        const stride = c.w.slice(2);
        for (const bias of [b, null]) {
          const got = FNS[n](x, w, bias, { stride });
          const want = reference(x, w, bias);
          assert.deepEqual(got.shape, want.shape);
          assert.ok(maxAbs(got, want) <= 1e-5, `max |diff| ${maxAbs(got, want)}`);
          assert.ok(got.isContiguous(), 'contiguous NCHW output');
        }
      }));
    });
  }

  test('in inference mode and on float64 too', () => {
    manualSeed(12);
    inferenceMode(() => tidy(() => {
      const x = randn([1, 4, 3, 3], { dtype: 'float64' }), w = randn([4, 2, 2, 2], { dtype: 'float64' });
      assert.ok(maxAbs(F.convTranspose2d(x, w, null, { stride: 2 }), reference(x, w, null)) <= 1e-12);
    }));
  });

  test('with gradients recorded it is libtorch\'s op, and gradients flow', () => {
    manualSeed(13);
    tidy(() => {
      const x = randn([1, 4, 3, 3]), w = randn([4, 2, 2, 2]).requiresGrad_(), b = randn([2]).requiresGrad_();
      const y = F.convTranspose2d(x.contiguous('channelsLast'), w, b, { stride: 2 });
      // libtorch's node, not the reshape that ends the GEMM path.
      assert.match(y.gradFn ?? '', /ConvTranspose|Convolution/);
      y.sum().backward();
      assert.deepEqual(w.grad?.shape, [4, 2, 2, 2]);
      // d(sum)/d(bias) = number of output pixels per channel.
      assert.deepEqual(b.grad?.toArray(), [36, 36]);
    });
  });

  test('under autocast it is libtorch\'s op (fp32 on CPU autocast\'s list), not a bf16 GEMM', () => {
    manualSeed(14);
    noGrad(() => tidy(() => {
      const x = randn([1, 8, 4, 4]), w = randn([8, 4, 2, 2]);
      const y = autocast(() => F.convTranspose2d(x, w, null, { stride: 2 }));
      assert.equal(y.dtype, 'float32');
      assert.ok(maxAbs(y, reference(x, w, null)) <= 1e-5);
    }));
  });
});

test('the addon runs on OpenBLAS\'s OpenMP build when it is installed (one thread pool with libtorch)', () => {
  const blas = blasLibrary();
  assert.ok(blas, 'a BLAS library is mapped');
  const dir = openmpBlasDir();
  if (dir) {
    assert.ok(blas.startsWith(`${dir}/`), `mapped BLAS: ${blas}`);
  } else {
    assert.match(blas, /lib(open)?blas|mkl/);
  }
});
