// Explicit tensor lifetimes, in the manner of tfjs: tidy(fn) frees what fn made except what it returns or keeps.
import type { Tensor } from './tensor.ts';

type Scope = Set<Tensor>;
const stack: Scope[] = [];

/** Called by Tensor's constructor: the tensor belongs to the innermost open scope, if any. */
export function track(t: Tensor): Scope | null {
  const top = stack[stack.length - 1];
  if (!top) return null;
  top.add(t);
  return top;
}

export function untrack(t: Tensor, scope: Scope | null): void {
  scope?.delete(t);
}

/** Tensors reachable from a value (a tensor, or arrays / plain objects / Maps holding tensors). */
export function collectTensors(value: unknown, out: Set<Tensor> = new Set(), isTensor = tensorPredicate): Set<Tensor> {
  if (value === null || value === undefined) return out;
  if (isTensor(value)) {
    out.add(value);
  } else if (Array.isArray(value)) {
    for (const v of value) collectTensors(v, out, isTensor);
  } else if (value instanceof Map) {
    for (const v of value.values()) collectTensors(v, out, isTensor);
  } else if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, out, isTensor);
  }
  return out;
}

let tensorPredicate: (v: unknown) => v is Tensor = (_v: unknown): _v is Tensor => false;
export function setTensorPredicate(p: (v: unknown) => v is Tensor): void {
  tensorPredicate = p;
}

/**
 * Runs fn in a new scope. Tensors created inside are disposed when it returns, except those reachable from the
 * result (which move to the enclosing scope) and those passed to keep(). fn must be synchronous.
 */
export function tidy<T>(fn: () => T): T {
  const scope: Scope = new Set();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    stack.pop();
    for (const t of scope) t.dispose();
    throw err;
  }
  stack.pop();
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    throw new Error('tidy: fn must be synchronous (it returned a Promise); tensors made inside were disposed');
  }
  const survivors = collectTensors(result);
  const parent = stack[stack.length - 1] ?? null;
  for (const t of scope) {
    if (survivors.has(t)) t.reassignScope(parent);
    else t.dispose();
  }
  return result;
}

/** Exempts a tensor from disposal by any enclosing tidy; you own it (call dispose()). */
export function keep<T extends Tensor>(t: T): T {
  t.reassignScope(null);
  return t;
}

/** Disposes every tensor reachable from value. */
export function dispose(value: unknown): void {
  for (const t of collectTensors(value)) t.dispose();
}

export function scopeDepth(): number {
  return stack.length;
}
