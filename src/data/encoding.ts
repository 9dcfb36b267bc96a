// Mask encodings: how stored mask values become a label map (0 = background).
import { tidy, type Tensor } from '../engine/index.ts';
import { DataError } from './errors.ts';

/**
 * - 'auto': JPEG masks → threshold; else 0/1 kept, 0/255 → 0/1, anything else kept as label indices.
 * - '0/1': kept as is (values above 1 are an error).
 * - '0/255': value >= 128 → 1 (tolerates a little noise).
 * - 'threshold': value >= threshold (default 128) → 1, for JPEG-compressed masks.
 * - 'nonzero': value != 0 → 1.
 * - 'labels': integer label indices kept (multi-label; volumes).
 */
export type MaskEncoding = 'auto' | '0/1' | '0/255' | 'threshold' | 'nonzero' | 'labels';
export const MASK_ENCODINGS: readonly MaskEncoding[] = ['auto', '0/1', '0/255', 'threshold', 'nonzero', 'labels'];

export interface EncodingSpec {
  kind: MaskEncoding;
  /** For 'threshold' (and 'auto' on lossy files): foreground is value >= threshold. Default 128. */
  threshold?: number;
}

export function toSpec(e: MaskEncoding | EncodingSpec | undefined): EncodingSpec {
  const spec = typeof e === 'string' ? { kind: e } : e ?? { kind: 'auto' as const };
  if (!MASK_ENCODINGS.includes(spec.kind)) {
    throw new DataError('INVALID', `Expected one of ${MASK_ENCODINGS.join(', ')} for encoding but received ${String(spec.kind)} of type ${typeof spec.kind}`);
  }
  if (spec.threshold !== undefined && !Number.isFinite(spec.threshold)) {
    throw new DataError('INVALID', `Expected a finite number for encoding.threshold but received ${String(spec.threshold)}`);
  }
  return spec;
}

/**
 * Turns raw integer mask values (any integer or float dtype, any shape) into a label map: uint8 for binary
 * encodings; for 'labels' uint8 when every label fits in 0..255, else int64. `lossy` marks JPEG sources.
 */
export function decodeMask(raw: Tensor, encoding: EncodingSpec, ctx: { path: string; lossy?: boolean }): Tensor {
  return tidy(() => {
    let kind = encoding.kind;
    const t = encoding.threshold ?? 128;
    const [lo, hi] = [raw.min().item(), raw.max().item()];
    if (kind === 'auto') {
      if (ctx.lossy) kind = 'threshold';
      else if (hi <= 1 && lo >= 0) kind = '0/1';
      else if (lo >= 0 && raw.eq(0).logicalOr(raw.eq(255)).all().item()) kind = '0/255';
      else kind = 'labels';
    }
    switch (kind) {
      case '0/1':
        if (lo < 0 || hi > 1) throw new DataError('INVALID', `mask ${ctx.path} has values ${lo}..${hi} but the encoding is 0/1 (use '0/255', 'threshold' or 'labels')`, ctx.path);
        return raw.to('uint8');
      case '0/255': return raw.ge(128).to('uint8');
      case 'threshold': return raw.ge(t).to('uint8');
      case 'nonzero': return raw.ne(0).to('uint8');
      default: {
        const rounded = raw.dtype === 'float32' || raw.dtype === 'float64' ? raw.round() : raw;
        if (rounded !== raw && rounded.ne(raw).any().item()) {
          throw new DataError('INVALID', `mask ${ctx.path} holds non-integer values; label maps must be integers`, ctx.path);
        }
        if (lo < 0) throw new DataError('INVALID', `mask ${ctx.path} holds negative labels (min ${lo})`, ctx.path);
        return rounded.to(hi <= 255 ? 'uint8' : 'int64');
      }
    }
  });
}
