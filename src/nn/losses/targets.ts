// Shared input handling of the segmentation losses: shape checks, activations, and turning a label-map target
// into the dense one-hot (or binary) target the overlap losses need.
//
// Layout conventions (every loss in this folder):
// - logits: raw network outputs [N, C, *spatial] (2D [N,C,H,W] or 3D [N,C,D,H,W]), float32 (cast bf16 first).
// - target: either a label map of integer labels [N, *spatial] or [N, 1, *spatial] (any integer or bool dtype;
//   0 = background), or a dense float target [N, C, *spatial] of per-class probabilities (soft labels).
// - C = 1 means binary segmentation (sigmoid; label map > 0 is foreground); C ≥ 2 means C classes (softmax;
//   label map values are class indices 0..C-1).
import { type Tensor, F } from '../../engine/index.ts';
import { checkTensor, invalid } from '../../engine/validate.ts';

export type Activation = 'sigmoid' | 'softmax' | 'none';
export type Reduction = 'mean' | 'sum' | 'none';

/** Per-pixel weights from the target (a label map or dense target, with the logits for its layout): float [N, *spatial]. */
export type PixelWeightFn = (target: Tensor, logits: Tensor) => Tensor;

/** Throws unless logits are [N, C, *spatial] with 1 to 3 spatial dims; returns C. */
export function checkLogits(logits: Tensor, loss: string): number {
  checkTensor(logits, 'logits');
  if (logits.ndim < 3 || logits.ndim > 5) {
    throw new RangeError(`${loss}: expected logits [N, C, *spatial] with 1 to 3 spatial dims but received shape [${logits.shape.join(', ')}]`);
  }
  return logits.shape[1]!;
}

const FLOATS = ['float32', 'float64', 'bfloat16', 'float16'];
const isDense = (target: Tensor, logits: Tensor): boolean =>
  target.ndim === logits.ndim && target.shape[1] === logits.shape[1] && FLOATS.includes(target.dtype);

/** A label-map target as [N, *spatial] (drops a singleton channel dim); throws if the spatial shape differs from the logits'. */
export function labelMap(target: Tensor, logits: Tensor, loss: string): Tensor {
  checkTensor(target, 'target');
  const spatial = logits.shape.slice(2);
  const t = target.ndim === logits.ndim && target.shape[1] === 1 ? target.squeeze(1) : target;
  const ok = t.ndim === logits.ndim - 1 && t.shape[0] === logits.shape[0] && t.shape.slice(1).every((d, i) => d === spatial[i]);
  if (!ok) {
    if (t !== target) t.dispose();
    throw new RangeError(`${loss}: target shape [${target.shape.join(', ')}] does not fit logits [${logits.shape.join(', ')}]; ` +
      "expected a label map [N, *spatial] or [N, 1, *spatial], or a dense target of the logits' shape");
  }
  return t;
}

/**
 * The dense float target [N, C, *spatial] for overlap losses: a dense target passes through (as float32);
 * a label map becomes (label > 0) for C = 1, or one-hot over C classes for C ≥ 2.
 */
export function denseTarget(target: Tensor, logits: Tensor, loss: string): Tensor {
  if (isDense(target, logits)) return target.float();
  const c = logits.shape[1]!;
  const labels = labelMap(target, logits, loss);
  if (c === 1) return labels.gt(0).float().unsqueeze(1);
  // one_hot puts classes last: [N, *spatial, C] -> [N, C, *spatial].
  const oneHot = F.oneHot(labels.long(), c);
  const order = [0, oneHot.ndim - 1, ...Array.from({ length: oneHot.ndim - 2 }, (_, i) => i + 1)];
  return oneHot.permute(...order).float();
}

/** Probabilities from logits: sigmoid for one channel, softmax over channels otherwise (or as asked). */
export function activate(logits: Tensor, activation: Activation | undefined): Tensor {
  const act = activation ?? (logits.shape[1] === 1 ? 'sigmoid' : 'softmax');
  if (act === 'sigmoid') return logits.sigmoid();
  if (act === 'softmax') return F.softmax(logits, 1);
  if (act === 'none') return logits;
  throw invalid('one of sigmoid, softmax, none', 'activation', act);
}

/** Applies a reduction to per-element losses. */
export function reduce(values: Tensor, reduction: Reduction = 'mean'): Tensor {
  if (reduction === 'mean') return values.mean();
  if (reduction === 'sum') return values.sum();
  if (reduction === 'none') return values;
  throw invalid('one of mean, sum, none', 'reduction', reduction);
}

/** Per-pixel weights [N, *spatial] from a function or a given tensor, checked against the logits' shape. */
export function pixelWeightsFor(weights: PixelWeightFn | Tensor, target: Tensor, logits: Tensor, loss: string): Tensor {
  const w = typeof weights === 'function' ? weights(target, logits) : weights;
  const want = [logits.shape[0]!, ...logits.shape.slice(2)];
  const shape = w.ndim === logits.ndim && w.shape[1] === 1 ? [w.shape[0]!, ...w.shape.slice(2)] : w.shape;
  if (shape.length !== want.length || shape.some((d, i) => d !== want[i])) {
    throw new RangeError(`${loss}: pixel weights [${w.shape.join(', ')}] must be [${want.join(', ')}] (or with a channel dim of 1)`);
  }
  return w.reshape(...want).float();
}
