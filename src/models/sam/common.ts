// Pieces every SAM part shares (segment_anything/modeling/common.py): the channel-wise LayerNorm2d and the two
// MLPs live in src/nn and are re-exported here; this file adds SAM's argument checks and the index tensors the
// parts build from JS numbers.
import { type Tensor, tensor } from '../../engine/index.ts';
import { checkInt, invalid } from '../../engine/validate.ts';

export { LayerNorm2d, MLP, MLPBlock } from '../../nn/index.ts';

/** sharp-style argument error: "Expected <what> for <name> but received <value> of type <type>". */
export const expected = invalid;

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;

/** An integer >= 1, else an `expected` error naming the argument. */
export const checkPositiveInt = (v: unknown, name: string): number => checkInt(v, name, 1);

/** A pair of integers >= 1 ((H, W) sizes). */
export function checkSize(v: unknown, name: string): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || !v.every(isPosInt)) throw expected('a pair of integers >= 1 as (H, W)', name, v);
  return [v[0] as number, v[1] as number];
}

/** Throws unless t has exactly `rank` dims and, where `dims` gives a number, that size. */
export function checkShape(t: Tensor, name: string, dims: (number | null)[], letters: string): void {
  const s = t.shape;
  if (s.length !== dims.length || dims.some((d, i) => d !== null && s[i] !== d)) {
    throw new RangeError(`Expected a ${letters} tensor for ${name} but received shape [${s.join(', ')}]`);
  }
}

/** An int64 tensor from JS integers (row-major), for gather-style indexing. */
export function int64Tensor(values: ArrayLike<number>, shape: number[]): Tensor {
  return tensor(BigInt64Array.from(Array.from(values, (v) => BigInt(v))), shape);
}
