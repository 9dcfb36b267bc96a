// Resampling with F.interpolate's semantics: give `size` or `scaleFactor`; modes nearest, linear (1d), bilinear
// (2d), bicubic (2d), trilinear (3d); alignCorners for the (bi/tri)linear and bicubic modes; antialias for
// bilinear/bicubic downsampling (libtorch's _aa kernels, as torchvision's Resize(antialias=True)).
import { callT } from '../dispatch.ts';
import type { Tensor } from '../tensor.ts';
import { checkOneOf, checkTensor, invalid } from '../validate.ts';

export type InterpolateMode = 'nearest' | 'linear' | 'bilinear' | 'bicubic' | 'trilinear' | 'nearest-exact';
const MODES: readonly InterpolateMode[] = ['nearest', 'linear', 'bilinear', 'bicubic', 'trilinear', 'nearest-exact'];
const SPATIAL: Record<InterpolateMode, number | null> = { nearest: null, 'nearest-exact': null, linear: 1, bilinear: 2, bicubic: 2, trilinear: 3 };

export interface InterpolateOptions {
  size?: number | number[];
  scaleFactor?: number | number[];
  mode?: InterpolateMode;
  alignCorners?: boolean;
  antialias?: boolean;
}

export function interpolate(x: Tensor, o: InterpolateOptions): Tensor {
  checkTensor(x, 'input');
  const mode = checkOneOf(o.mode ?? 'nearest', 'mode', MODES);
  const n = x.ndim - 2;
  if (n < 1 || n > 3) throw new RangeError(`interpolate: expected a 3-d, 4-d or 5-d input but received shape [${x.shape.join(', ')}]`);
  const want = SPATIAL[mode];
  if (want !== null && want !== n) throw new RangeError(`interpolate: mode ${mode} needs a ${want + 2}-d input but received ${x.ndim}-d`);
  if ((o.size === undefined) === (o.scaleFactor === undefined)) throw invalid('exactly one of size or scaleFactor', 'interpolate options', JSON.stringify(o));
  const size = o.size === undefined ? null : typeof o.size === 'number' ? Array<number>(n).fill(o.size) : o.size;
  const scale = o.scaleFactor === undefined ? null : typeof o.scaleFactor === 'number' ? Array<number>(n).fill(o.scaleFactor) : o.scaleFactor;
  if (size && size.length !== n) throw invalid(`${n} sizes`, 'size', size);
  if (scale && scale.length !== n) throw invalid(`${n} scale factors`, 'scaleFactor', scale);
  const nearest = mode === 'nearest' || mode === 'nearest-exact';
  if (nearest && o.alignCorners) throw new TypeError('interpolate: alignCorners only applies to linear, bilinear, bicubic and trilinear modes');
  if (o.antialias && mode !== 'bilinear' && mode !== 'bicubic') throw new TypeError('interpolate: antialias only applies to bilinear and bicubic modes');
  if (nearest) {
    const op = mode === 'nearest' ? `upsample_nearest${n}d.vec` : `_upsample_nearest_exact${n}d.vec`;
    return callT(op, [x, size, scale]);
  }
  const base = { linear: 'upsample_linear1d', bilinear: 'upsample_bilinear2d', bicubic: 'upsample_bicubic2d', trilinear: 'upsample_trilinear3d' }[mode];
  const op = o.antialias ? `_${base}_aa.vec` : `${base}.vec`;
  return callT(op, [x, size, o.alignCorners ?? false, scale]);
}
