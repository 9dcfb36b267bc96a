// Functional autograd entry points (Tensor.backward covers the common case).
import { native } from './native.ts';
import { Tensor, checkGradShapes } from './tensor.ts';

/** Accumulates gradients of several outputs into the leaves' .grad (torch.autograd.backward). */
export function backward(outputs: Tensor[], grads?: (Tensor | null)[], opts: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
  if (grads) checkGradShapes(outputs, grads);
  native.backward(outputs.map((t) => t.native), grads ? grads.map((g) => g?.native ?? null) : null, opts.retainGraph, opts.createGraph ?? false);
}

/** Gradients of outputs with respect to inputs, returned rather than accumulated (torch.autograd.grad). */
export function grad(
  outputs: Tensor[], inputs: Tensor[],
  opts: { gradOutputs?: Tensor[]; retainGraph?: boolean; createGraph?: boolean; allowUnused?: boolean } = {},
): (Tensor | null)[] {
  if (opts.gradOutputs) checkGradShapes(outputs, opts.gradOutputs);
  const res = native.autogradGrad(
    outputs.map((t) => t.native), inputs.map((t) => t.native), opts.gradOutputs ? opts.gradOutputs.map((t) => t.native) : null,
    opts.retainGraph, opts.createGraph ?? false, opts.allowUnused ?? false,
  );
  return res.map((h) => (h ? Tensor.fromNative(h) : null));
}
