// Convolutions, 1d/2d/3d and transposed. Weights are [out, in/groups, *kernel] ([in, out/groups, *kernel] when
// transposed), as in PyTorch.
import { callT } from '../dispatch.ts';
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
  return callT(n === 1 ? op : `${op}.input`, [x, weight, bias ?? null, intTuple(o.stride ?? 1, n, 'stride', 1), intTuple(o.padding ?? 0, n, 'padding'),
    intTuple(o.outputPadding ?? 0, n, 'outputPadding'), groups, intTuple(o.dilation ?? 1, n, 'dilation', 1)]);
}

export const conv1d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvOptions = {}): Tensor => conv(1, x, w, b, o);
export const conv2d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvOptions = {}): Tensor => conv(2, x, w, b, o);
export const conv3d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvOptions = {}): Tensor => conv(3, x, w, b, o);
export const convTranspose1d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvTransposeOptions = {}): Tensor => convTranspose(1, x, w, b, o);
export const convTranspose2d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvTransposeOptions = {}): Tensor => convTranspose(2, x, w, b, o);
export const convTranspose3d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvTransposeOptions = {}): Tensor => convTranspose(3, x, w, b, o);
