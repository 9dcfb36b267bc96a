// Argument checks shared by the metric functions (sharp-style messages, raised before any native work).
import { Tensor, isFloating } from '../engine/index.ts';
import { invalid } from '../engine/validate.ts';

/**
 * Per-axis spacing in the mask's axis order: [sy, sx] for a 2D [H, W] mask, [sz, sy, sx] for a 3D [D, H, W] mask
 * (NumPy/MedPy/MONAI/DeepMind order, NOT SimpleITK's (x, y, z)). A scalar means isotropic; undefined means 1.
 * Distances, HD, ASSD and the NSD tolerance are in these units (mm when spacing is in mm).
 */
export type Spacing = number | readonly number[];

export function normalizeSpacing(spacing: Spacing | undefined, ndim: number, name = 'spacing'): number[] {
  const list = spacing === undefined ? Array<number>(ndim).fill(1) : typeof spacing === 'number' ? Array<number>(ndim).fill(spacing) : [...spacing];
  if (!Array.isArray(list) || list.length !== ndim || !list.every((s) => typeof s === 'number' && Number.isFinite(s) && s > 0)) {
    throw invalid(`a positive number or a list of ${ndim} positive numbers (one per axis of a ${ndim}D mask)`, name, spacing);
  }
  return list;
}

export function checkMaskPair(pred: unknown, gt: unknown, op: string): void {
  if (!(pred instanceof Tensor)) throw invalid('a Tensor', `${op} pred`, pred);
  if (!(gt instanceof Tensor)) throw invalid('a Tensor', `${op} gt`, gt);
  const ps = pred.shape, gs = gt.shape;
  if (ps.length !== 2 && ps.length !== 3) {
    throw new RangeError(`${op}: expected a 2D [H, W] or 3D [D, H, W] mask for pred but received shape [${ps.join(', ')}]`);
  }
  if (ps.length !== gs.length || ps.some((s, i) => s !== gs[i])) {
    throw new RangeError(`${op}: pred shape [${ps.join(', ')}] and gt shape [${gs.join(', ')}] differ`);
  }
  if (ps.some((s) => s === 0)) throw new RangeError(`${op}: masks of shape [${ps.join(', ')}] have no pixels`);
}

/** Throws if a floating-point label map holds non-integer values (a probability map passed by mistake). */
export function checkIntegerLabels(mask: Tensor, name: string): void {
  if (!isFloating(mask.dtype)) return;
  const rounded = mask.round();
  const same = rounded.eq(mask);
  const ok = Boolean(same.all().item());
  rounded.dispose();
  same.dispose();
  if (!ok) throw invalid('an integer or boolean label map (threshold probabilities first)', name, `a ${mask.dtype} tensor with fractional values`);
}

/** A binary mask as bool: for a label map, mask == label. */
export function binaryOf(mask: Tensor, label: number): Tensor {
  return mask.eq(label);
}
