// Boundary-aware pixel weights: pixels near a label boundary weigh more in BCE / CE (in the spirit of the U-Net
// paper's border weights), computed with max-pool morphology only, so it runs as a few native ops per batch.
//
// A pixel is on the boundary when its 3×3 (3×3×3) neighbourhood holds another label, on either side of the edge
// (max-pool of the label map ≠ min-pool). Distance d is the chessboard (Chebyshev) distance in pixels to the
// nearest boundary pixel, found by dilating the boundary `radius` times; beyond the radius d = radius + 1.
// The image border is not a boundary (max-pool pads with −∞). Weights: w = 1 + weight · exp(−d² / (2σ²)) for
// d ≤ radius, else 1.
import { type Tensor, F, tidy } from '../../engine/index.ts';
import { checkInt, checkNumber } from '../../engine/validate.ts';
import { type PixelWeightFn, labelMap } from './targets.ts';

export interface BoundaryWeightOptions {
  /** Band half-width in pixels: pixels farther than this from a boundary get weight 1. Default 3. */
  radius?: number;
  /** Extra weight on the boundary itself (d = 0): w = 1 + weight there. Default 5. */
  weight?: number;
  /** Gaussian fall-off σ in pixels. Default radius / 2. */
  sigma?: number;
}

const pool = (x: Tensor, spatialDims: number): Tensor =>
  spatialDims === 2 ? F.maxPool2d(x, 3, { stride: 1, padding: 1 }) : F.maxPool3d(x, 3, { stride: 1, padding: 1 });

/**
 * Chessboard distance to the nearest label boundary, capped at radius + 1: float [N, *spatial] for a label map
 * [N, H, W] or [N, D, H, W] (integer labels, any dtype).
 */
export function boundaryDistance(labels: Tensor, radius = 3): Tensor {
  checkInt(radius, 'radius', 0);
  const spatialDims = labels.ndim - 1;
  if (spatialDims !== 2 && spatialDims !== 3) throw new RangeError(`boundaryDistance: expected a [N, H, W] or [N, D, H, W] label map but received shape [${labels.shape.join(', ')}]`);
  return tidy(() => {
    const l = labels.unsqueeze(1).float();
    let reached = pool(l, spatialDims).ne(pool(l.neg(), spatialDims).neg()).float();
    let count = reached;
    for (let k = 1; k <= radius; k++) {
      reached = pool(reached, spatialDims);
      count = count.add(reached);
    }
    return count.neg().add(radius + 1).squeeze(1);
  });
}

/** A PixelWeightFn for bceLoss / crossEntropyLoss: 1 + weight · exp(−d²/(2σ²)) within `radius` of a boundary. */
export function boundaryWeights(o: BoundaryWeightOptions = {}): PixelWeightFn {
  const radius = checkInt(o.radius ?? 3, 'radius', 0);
  const weight = checkNumber(o.weight ?? 5, 'weight', 0);
  const sigma = checkNumber(o.sigma ?? Math.max(radius, 1) / 2, 'sigma', Number.MIN_VALUE);
  return (target: Tensor, logits: Tensor): Tensor => tidy(() => {
    const dense = target.ndim === logits.ndim && target.shape[1] === logits.shape[1] && logits.shape[1]! > 1 && target.dtype.startsWith('float');
    const labels = dense ? target.argmax(1) : labelMap(target, logits, 'boundaryWeights');
    const d = boundaryDistance(labels, radius);
    const bump = d.square().div(-2 * sigma * sigma).exp().mul(weight);
    return bump.where(d.le(radius), 0).add(1);
  });
}
