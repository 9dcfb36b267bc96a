// Sequential, ModuleList and ModuleDict. Children are named '0', '1', ... (or by key), so parameter names read
// 'layers.0.weight' exactly as in PyTorch.
import { type Tensor, tidy } from '../engine/index.ts';
import { Module, type UnaryModule } from './module.ts';

/** An ordered list of child modules (torch.nn.ModuleList); it has no forward. */
export class ModuleList<T extends Module = Module> extends Module implements Iterable<T> {
  readonly #items: T[] = [];

  constructor(modules: Iterable<T> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  append(m: T): this {
    this.registerModule(String(this.#items.length), m);
    this.#items.push(m);
    return this;
  }
  extend(modules: Iterable<T>): this {
    for (const m of modules) this.append(m);
    return this;
  }
  get length(): number {
    return this.#items.length;
  }
  /** The i-th module; negative i counts from the end. */
  at(i: number): T {
    const m = this.#items[i < 0 ? i + this.#items.length : i];
    if (!m) throw new RangeError(`index ${i} is out of range for a ModuleList of length ${this.#items.length}`);
    return m;
  }
  [Symbol.iterator](): Iterator<T> {
    return this.#items[Symbol.iterator]();
  }
  map<R>(fn: (m: T, i: number) => R): R[] {
    return this.#items.map(fn);
  }

  forward(): never {
    throw new Error('ModuleList has no forward: iterate over its modules');
  }
}

/** Modules applied in order to one tensor (torch.nn.Sequential); intermediate results are freed. */
export class Sequential extends Module implements Iterable<UnaryModule> {
  readonly #items: UnaryModule[] = [];

  constructor(...modules: UnaryModule[]) {
    super();
    for (const m of modules) this.append(m);
  }

  /** A Sequential with named children (torch's Sequential(OrderedDict(...))). */
  static fromEntries(entries: Iterable<[string, UnaryModule]>): Sequential {
    const s = new Sequential();
    for (const [name, m] of entries) {
      s.registerModule(name, m);
      s.#items.push(m);
    }
    return s;
  }

  append(m: UnaryModule): this {
    this.registerModule(String(this.#items.length), m);
    this.#items.push(m);
    return this;
  }
  get length(): number {
    return this.#items.length;
  }
  at(i: number): UnaryModule {
    const m = this.#items[i < 0 ? i + this.#items.length : i];
    if (!m) throw new RangeError(`index ${i} is out of range for a Sequential of length ${this.#items.length}`);
    return m;
  }
  [Symbol.iterator](): Iterator<UnaryModule> {
    return this.#items[Symbol.iterator]();
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      let y = x;
      for (const m of this.#items) y = m.forward(y);
      return y;
    });
  }
}

/** Modules by name (torch.nn.ModuleDict), in insertion order. */
export class ModuleDict<T extends Module = Module> extends Module {
  readonly #items = new Map<string, T>();

  constructor(entries: Iterable<[string, T]> | Record<string, T> = []) {
    super();
    const list = Symbol.iterator in entries ? entries as Iterable<[string, T]> : Object.entries(entries);
    for (const [k, m] of list) this.set(k, m);
  }

  set(key: string, m: T): this {
    this.registerModule(key, m);
    this.#items.set(key, m);
    return this;
  }
  get(key: string): T {
    const m = this.#items.get(key);
    if (!m) throw new Error(`ModuleDict has no key "${key}" (keys: ${[...this.#items.keys()].join(', ')})`);
    return m;
  }
  has(key: string): boolean {
    return this.#items.has(key);
  }
  keys(): string[] {
    return [...this.#items.keys()];
  }
  entries(): [string, T][] {
    return [...this.#items];
  }
  get size(): number {
    return this.#items.size;
  }

  forward(): never {
    throw new Error('ModuleDict has no forward: look its modules up by key');
  }
}
