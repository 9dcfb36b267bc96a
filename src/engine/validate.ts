// Argument checks in the manner of sharp's lib/is: one error format everywhere, raised before any native call.
// "Expected integer between 1 and 1024 for imageSize but received 0 of type number"
import { Tensor } from './tensor.ts';

export function invalid(expected: string, name: string, value: unknown): TypeError {
  const shown = typeof value === 'string' ? value : Array.isArray(value) ? `[${value.join(', ')}]` : String(value);
  return new TypeError(`Expected ${expected} for ${name} but received ${shown} of type ${typeof value}`);
}

/** Tensor arguments of ops with JS-side checks: fail with the argument's name before touching .shape. */
export function checkTensor(v: unknown, name: string): void {
  if (!(v instanceof Tensor)) throw invalid('a Tensor', name, v);
}

export const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
export const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export function checkInt(v: unknown, name: string, min = -Infinity, max = Infinity): number {
  if (!isInt(v) || v < min || v > max) {
    const range = min === -Infinity && max === Infinity ? 'integer'
      : max === Infinity ? `integer >= ${min}` : `integer between ${min} and ${max}`;
    throw invalid(range, name, v);
  }
  return v;
}

export function checkNumber(v: unknown, name: string, min = -Infinity, max = Infinity): number {
  if (!isFiniteNumber(v) || v < min || v > max) {
    throw invalid(min === -Infinity && max === Infinity ? 'finite number' : `number between ${min} and ${max}`, name, v);
  }
  return v;
}

export function checkOneOf<T extends string>(v: unknown, name: string, options: readonly T[]): T {
  if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) throw invalid(`one of ${options.join(', ')}`, name, v);
  return v as T;
}

/** An int or a list of `n` ints (PyTorch's `int[n]` arguments), expanded to a list. */
export function intTuple(v: number | number[], n: number, name: string, min = 0): number[] {
  const list = typeof v === 'number' ? Array<number>(n).fill(v) : v;
  if (!Array.isArray(list) || list.length !== n || !list.every((x) => isInt(x) && x >= min)) {
    throw invalid(`an integer >= ${min} or a list of ${n} such integers`, name, v);
  }
  return list;
}

export function checkRank(shape: number[], ranks: number[], op: string, arg = 'input'): void {
  if (!ranks.includes(shape.length)) {
    throw new RangeError(`${op}: expected a ${ranks.join('-d or ')}-d tensor for ${arg} but received shape [${shape.join(', ')}]`);
  }
}
