// Argument checks and the tuple formatting that layers share.

/** An integer >= min (1 unless given), or a TypeError in the engine's wording. */
export function positiveInt(v: unknown, name: string, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new TypeError(`Expected integer >= ${min} for ${name} but received ${String(v)} of type ${typeof v}`);
  }
  return v;
}

/** A number in [min, max]. */
export function numberIn(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new TypeError(`Expected number between ${min} and ${max} for ${name} but received ${String(v)} of type ${typeof v}`);
  }
  return v;
}

/** An int or a list of n ints (torch's _single/_pair/_triple), as a list. */
export function ntuple(v: number | number[], n: number, name: string, min = 0): number[] {
  const list = typeof v === 'number' ? Array<number>(n).fill(v) : v;
  if (!Array.isArray(list) || list.length !== n || !list.every((x) => Number.isInteger(x) && x >= min)) {
    throw new TypeError(`Expected an integer >= ${min} or a list of ${n} such integers for ${name} but received ${String(v)} of type ${typeof v}`);
  }
  return [...list];
}

/** Python's tuple repr: (3,) or (3, 3). */
export const pyTuple = (v: number[]): string => (v.length === 1 ? `(${v[0]},)` : `(${v.join(', ')})`);
export const pyBool = (v: boolean): string => (v ? 'True' : 'False');

/** Python's float repr: 1e-05, 0.1, 1.0. */
export function pyFloat(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return `${v}.0`;
  if (v !== 0 && Math.abs(v) < 1e-4) {
    const [m, e] = v.toExponential().split('e') as [string, string];
    const n = Number(e);
    return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  return String(v);
}
