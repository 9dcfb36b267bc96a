// loadStateDict's checking (missing / unexpected keys, shape mismatches, PyTorch-style error text) and the
// parameter-name patterns used by freeze().
import type { Tensor } from '../engine/index.ts';

/** A state dict to load: a Map (as stateDict() returns) or a plain object keyed by name. */
export type StateDictInput = Map<string, Tensor> | Record<string, Tensor>;

export interface ShapeMismatch {
  key: string;
  /** The shape in the module. */
  expected: number[];
  /** The shape in the state dict given. */
  got: number[];
}

export interface LoadStateDictResult {
  /** Keys the module has but the state dict lacks. */
  missing: string[];
  /** Keys in the state dict the module does not have. */
  unexpected: string[];
  /** Keys present in both with different shapes (not copied). */
  shapeMismatch: ShapeMismatch[];
}

const SHOWN = 10;

function list(keys: string[]): string {
  const shown = keys.slice(0, SHOWN).map((k) => `"${k}"`).join(', ');
  return keys.length > SHOWN ? `${shown}, ... (${keys.length - SHOWN} more)` : shown;
}

const sameShape = (a: number[], b: number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** Matches own keys against the given dict; in strict mode any discrepancy becomes one Error, as in PyTorch. */
export function planLoad(
  moduleName: string, own: Map<string, Tensor>, given: StateDictInput, strict: boolean,
): { result: LoadStateDictResult; copies: [Tensor, Tensor][]; error: Error | null } {
  const entries = given instanceof Map ? given : new Map(Object.entries(given));
  const result: LoadStateDictResult = { missing: [], unexpected: [], shapeMismatch: [] };
  const copies: [Tensor, Tensor][] = [];
  for (const [key, dst] of own) {
    const src = entries.get(key);
    if (src === undefined) {
      result.missing.push(key);
      continue;
    }
    if (!src || typeof src !== 'object' || typeof (src as Tensor).shape === 'undefined') {
      throw new TypeError(`loadStateDict: the value for "${key}" is not a Tensor`);
    }
    if (!sameShape(dst.shape, src.shape)) result.shapeMismatch.push({ key, expected: dst.shape, got: src.shape });
    else copies.push([dst, src]);
  }
  for (const key of entries.keys()) if (!own.has(key)) result.unexpected.push(key);

  let error: Error | null = null;
  if (strict && (result.missing.length || result.unexpected.length || result.shapeMismatch.length)) {
    const parts: string[] = [];
    if (result.missing.length) parts.push(`Missing key(s) in state_dict: ${list(result.missing)}.`);
    if (result.unexpected.length) parts.push(`Unexpected key(s) in state_dict: ${list(result.unexpected)}.`);
    for (const m of result.shapeMismatch.slice(0, SHOWN)) {
      parts.push(`size mismatch for ${m.key}: copying a param with shape [${m.got.join(', ')}] from checkpoint, the shape in current model is [${m.expected.join(', ')}].`);
    }
    if (result.shapeMismatch.length > SHOWN) parts.push(`... and ${result.shapeMismatch.length - SHOWN} more size mismatches.`);
    error = new Error(`Error(s) in loading state_dict for ${moduleName}:\n\t${parts.join('\n\t')}`);
  }
  return { result, copies, error };
}

const escape = (s: string): string => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

/** See Module.freeze for the pattern rules. */
export function matchesPattern(name: string, pattern: string | RegExp): boolean {
  if (pattern instanceof RegExp) {
    pattern.lastIndex = 0;
    return pattern.test(name);
  }
  if (typeof pattern !== 'string' || pattern === '') throw new TypeError(`Expected a non-empty string or RegExp for pattern but received ${String(pattern)} of type ${typeof pattern}`);
  if (pattern.includes('*')) return new RegExp(`^${pattern.split('*').map(escape).join('.*')}$`).test(name);
  return name === pattern || name.startsWith(`${pattern}.`);
}
