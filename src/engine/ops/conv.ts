// Convolutions, 1d/2d/3d and transposed. Weights are [out, in/groups, *kernel] ([in, out/groups, *kernel] when
// transposed), as in PyTorch.
import { callT } from '../dispatch.ts';
import { isAutocastEnabled, isGradEnabled } from '../runtime.ts';
import { tidy } from '../scope.ts';
import type { Tensor } from '../tensor.ts';
import { checkInt, checkRank, checkTensor, intTuple } from '../validate.ts';

export interface ConvOptions {
  stride?: number | number[];
  padding?: number | number[];
  dilation?: number | number[];
  groups?: number;
}
export interface ConvTransposeOptions extends ConvOptions {
  outputPadding?: number | number[];
}

function conv(n: 1 | 2 | 3, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, o: ConvOptions): Tensor {
  const op = `conv${n}d`;
  checkTensor(x, 'input');
  checkTensor(weight, 'weight');
  checkRank(x.shape, [n + 1, n + 2], op);
  checkRank(weight.shape, [n + 2], op, 'weight');
  const groups = checkInt(o.groups ?? 1, 'groups', 1);
  const inChannels = x.shape[x.ndim - n - 1]!;
  if (inChannels !== weight.shape[1]! * groups) {
    throw new RangeError(`${op}: input has ${inChannels} channels but weight expects ${weight.shape[1]! * groups} (weight [${weight.shape.join(', ')}], groups ${groups})`);
  }
  return callT(op, [x, weight, bias ?? null, intTuple(o.stride ?? 1, n, 'stride', 1), intTuple(o.padding ?? 0, n, 'padding'),
    intTuple(o.dilation ?? 1, n, 'dilation', 1), groups]);
}

function convTranspose(n: 1 | 2 | 3, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, o: ConvTransposeOptions): Tensor {
  const op = `conv_transpose${n}d`;
  checkTensor(x, 'input');
  checkTensor(weight, 'weight');
  checkRank(x.shape, [n + 1, n + 2], op);
  const groups = checkInt(o.groups ?? 1, 'groups', 1);
  const inChannels = x.shape[x.ndim - n - 1]!;
  if (inChannels !== weight.shape[0]) {
    throw new RangeError(`${op}: input has ${inChannels} channels but weight expects ${weight.shape[0]} (weight [${weight.shape.join(', ')}])`);
  }
  const stride = intTuple(o.stride ?? 1, n, 'stride', 1), padding = intTuple(o.padding ?? 0, n, 'padding');
  const outputPadding = intTuple(o.outputPadding ?? 0, n, 'outputPadding'), dilation = intTuple(o.dilation ?? 1, n, 'dilation', 1);
  const kernel = weight.shape.slice(2);
  if (x.ndim === n + 2 && groups === 1 && kernel.every((k, i) => k === stride[i] && padding[i] === 0 && outputPadding[i] === 0 && dilation[i] === 1)
    && (x.dtype === 'float32' || x.dtype === 'float64') && !recordsGradient(x, weight, bias) && !isAutocastEnabled()) {
    return nonOverlappingConvTranspose(x, weight, bias ?? null);
  }
  return callT(n === 1 ? op : `${op}.input`, [x, weight, bias ?? null, stride, padding, outputPadding, groups, dilation]);
}

const recordsGradient = (...ts: (Tensor | null | undefined)[]): boolean => isGradEnabled() && ts.some((t) => t?.requiresGrad);

/**
 * A transposed convolution whose kernel equals its stride (no padding, dilation or groups) places each input
 * pixel's kernel-sized patch without overlap, so it is one GEMM, [N·spatial, Cin] @ [Cin, Cout·kernel], and a
 * reshuffle. libtorch 1.13 runs it as slow_conv_transpose (GEMM + col2im) in fp32: 10-11 ms for SAM's 2×2/2
 * upscaling of 1×256×64×64 against 7-9 ms this way, with the same values. The result is contiguous NCHW
 * whatever the input's memory format (the GELU that follows in SAM is 4× slower on channels-last). Inference
 * only: no autograd, and not under autocast, whose bf16 kernels are already fast; training runs libtorch's op.
 */
function nonOverlappingConvTranspose(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  const n = x.ndim - 2;
  const [batch, cin] = x.shape as [number, number];
  const spatial = x.shape.slice(2), kernel = weight.shape.slice(2), cout = weight.shape[1]!;
  const taps = kernel.reduce((a, b) => a * b, 1);
  return tidy(() => {
    // [N, Cin, *S] -> [N·S, Cin] (a view when channels-last); weight [Cin, Cout, *K] -> [Cin, Cout·K].
    const axes = Array.from({ length: n }, (_, i) => 2 + i);
    const rows = x.permute(0, ...axes, 1).reshape(-1, cin);
    const w = weight.reshape(cin, cout * taps);
    const cols = bias ? callT('addmm', [callT('repeat_interleave.self_int', [bias, taps, 0]), rows, w]) : rows.matmul(w);
    // [N, S1..Sn, Cout, K1..Kn] -> interleave each spatial axis with its kernel axis.
    const interleaved = Array.from({ length: n }, (_, i) => [1 + i, n + 2 + i]).flat();
    const out = spatial.map((s, i) => s * kernel[i]!);
    return cols.view(batch, ...spatial, cout, ...kernel).permute(0, n + 1, ...interleaved).reshape(batch, cout, ...out);
  });
}

export const conv1d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvOptions = {}): Tensor => conv(1, x, w, b, o);
export const conv2d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvOptions = {}): Tensor => conv(2, x, w, b, o);
export const conv3d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvOptions = {}): Tensor => conv(3, x, w, b, o);
export const convTranspose1d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvTransposeOptions = {}): Tensor => convTranspose(1, x, w, b, o);
export const convTranspose2d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvTransposeOptions = {}): Tensor => convTranspose(2, x, w, b, o);
export const convTranspose3d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvTransposeOptions = {}): Tensor => convTranspose(3, x, w, b, o);
