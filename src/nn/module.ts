// Module: the base of every layer and model, after torch.nn.Module. Children, parameters and buffers are
// registered explicitly in the constructor, and the registration order is the state_dict order, as in PyTorch:
//
//   class Block extends Module {
//     readonly conv: Conv2d;
//     readonly scale: Tensor;
//     constructor() {
//       super();
//       this.conv = this.registerModule('conv', new Conv2d(3, 8, 3));
//       this.scale = this.registerParameter('scale', ones([8]));
//     }
//     forward(x: Tensor): Tensor { return tidy(() => this.conv.forward(x).mul(this.scale.view(1, -1, 1, 1))); }
//   }
//
// A module owns its parameters and buffers: they are keep()-ed (exempt from any enclosing tidy) and freed by
// module.dispose(). stateDict() hands out the module's own tensors (not copies): do not dispose them.
import { Tensor, keep, noGrad, isFloating, type DType } from '../engine/index.ts';
import { type LoadStateDictResult, type StateDictInput, matchesPattern, planLoad } from './state_dict.ts';

export type { LoadStateDictResult, StateDictInput } from './state_dict.ts';
export type NamePattern = string | RegExp;

const NAME_RE = /^[^.]+$/;

/**
 * Takes ownership of t as a parameter: a leaf tensor with requiresGrad (torch.nn.Parameter). t is keep()-ed.
 * Throws for a tensor that is not a leaf (the result of an op that records gradients), as PyTorch does.
 */
export function parameter(t: Tensor, requiresGrad = true): Tensor {
  if (!t.isLeaf) throw new TypeError('cannot make a parameter of a non-leaf tensor: detach() it first (or create it under noGrad)');
  keep(t);
  t.requiresGrad_(requiresGrad);
  return t;
}

export abstract class Module {
  /** True in training mode (the default), false after eval(). */
  training = true;
  readonly #params = new Map<string, Tensor | null>();
  readonly #buffers = new Map<string, Tensor | null>();
  readonly #nonPersistent = new Set<string>();
  readonly #modules = new Map<string, Module | null>();

  /** The computation. Subclasses narrow the signature, e.g. forward(x: Tensor): Tensor. */
  abstract forward(...args: any[]): unknown;

  // ---- registration ----

  /** Registers a parameter (null: an absent one, like bias=False) and returns it; the module takes ownership. */
  registerParameter<T extends Tensor | null>(name: string, t: T, requiresGrad = true): T {
    this.#checkNewName(name);
    if (t) parameter(t, requiresGrad);
    this.#params.set(name, t);
    return t;
  }

  /** Registers a buffer (running statistics and other state that is not trained); persistent ones are in stateDict(). */
  registerBuffer<T extends Tensor | null>(name: string, t: T, persistent = true): T {
    this.#checkNewName(name);
    if (t) {
      keep(t);
      if (t.requiresGrad && t.isLeaf) t.requiresGrad_(false);
    }
    this.#buffers.set(name, t);
    if (!persistent) this.#nonPersistent.add(name);
    return t;
  }

  /** Registers a child module (null: an absent optional child) and returns it. */
  registerModule<M extends Module | null>(name: string, m: M): M {
    this.#checkNewName(name);
    if (m !== null && !(m instanceof Module)) throw new TypeError(`registerModule: ${name} is not a Module`);
    this.#modules.set(name, m);
    return m;
  }

  #checkNewName(name: string): void {
    if (typeof name !== 'string' || !NAME_RE.test(name)) {
      throw new TypeError(`Expected a non-empty name without dots but received ${String(name)} of type ${typeof name}`);
    }
    if (this.#params.has(name) || this.#buffers.has(name) || this.#modules.has(name)) {
      throw new Error(`${this.constructor.name}: "${name}" is already registered (use setParameter / setBuffer to replace a tensor)`);
    }
  }

  /**
   * Replaces a registered parameter (or buffer) by t, which the module takes ownership of. Own fields that held the
   * old tensor are updated. The old tensor is disposed unless disposeOld is false (keep it if it is shared).
   * requiresGrad defaults to the old parameter's (true if there was none).
   */
  setParameter(name: string, t: Tensor | null, opts: { disposeOld?: boolean; requiresGrad?: boolean } = {}): void {
    if (!this.#params.has(name)) throw new Error(`${this.constructor.name} has no parameter "${name}"`);
    const old = this.#params.get(name) ?? null;
    const disposeOld = opts.disposeOld ?? true;
    if (t) parameter(t, opts.requiresGrad ?? old?.requiresGrad ?? true);
    this.#params.set(name, t);
    this.#replaceFields(old, t);
    if (disposeOld && old && old !== t) old.dispose();
  }

  setBuffer(name: string, t: Tensor | null, opts: { disposeOld?: boolean } = {}): void {
    const disposeOld = opts.disposeOld ?? true;
    if (!this.#buffers.has(name)) throw new Error(`${this.constructor.name} has no buffer "${name}"`);
    const old = this.#buffers.get(name) ?? null;
    if (t) keep(t);
    this.#buffers.set(name, t);
    this.#replaceFields(old, t);
    if (disposeOld && old && old !== t) old.dispose();
  }

  /**
   * Replaces a registered child (a Linear by a LoRA-wrapped one, say). Own fields that held the old child are
   * updated; the old child is returned, not disposed.
   */
  replaceModule(name: string, m: Module | null): Module | null {
    if (!this.#modules.has(name)) throw new Error(`${this.constructor.name} has no submodule "${name}"`);
    if (m !== null && !(m instanceof Module)) throw new TypeError(`replaceModule: ${name} is not a Module`);
    const old = this.#modules.get(name) ?? null;
    this.#modules.set(name, m);
    this.#replaceFields(old, m);
    return old;
  }

  #replaceFields(old: Tensor | Module | null, t: Tensor | Module | null): void {
    if (!old) return;
    const self = this as unknown as Record<string, unknown>;
    for (const key of Object.keys(self)) if (self[key] === old) self[key] = t;
  }

  // ---- traversal (arrays, in registration order) ----

  /** [name, tensor] for this module's own parameters (no children); absent (null) ones are skipped. */
  ownParameters(): [string, Tensor][] {
    return [...this.#params].filter((e): e is [string, Tensor] => e[1] !== null);
  }
  ownBuffers(opts: { persistentOnly?: boolean } = {}): [string, Tensor][] {
    return [...this.#buffers].filter((e): e is [string, Tensor] => e[1] !== null && !(opts.persistentOnly && this.#nonPersistent.has(e[0])));
  }

  namedChildren(): [string, Module][] {
    return [...this.#modules].filter((e): e is [string, Module] => e[1] !== null);
  }
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** This module ('' prefix) and all descendants, each once, depth first as PyTorch. */
  namedModules(prefix = '', memo: Set<Module> = new Set()): [string, Module][] {
    if (memo.has(this)) return [];
    memo.add(this);
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.namedChildren()) out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name, memo));
    return out;
  }
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Parameters with dotted names ('layers.0.weight'); a tensor shared by several modules is listed once. */
  namedParameters(opts: { prefix?: string; recurse?: boolean } = {}): [string, Tensor][] {
    return this.#collect(opts, (m) => m.ownParameters());
  }
  parameters(opts: { recurse?: boolean } = {}): Tensor[] {
    return this.namedParameters(opts).map(([, p]) => p);
  }
  namedBuffers(opts: { prefix?: string; recurse?: boolean } = {}): [string, Tensor][] {
    return this.#collect(opts, (m) => m.ownBuffers());
  }
  buffers(opts: { recurse?: boolean } = {}): Tensor[] {
    return this.namedBuffers(opts).map(([, b]) => b);
  }

  #collect(opts: { prefix?: string; recurse?: boolean }, own: (m: Module) => [string, Tensor][]): [string, Tensor][] {
    const seen = new Set<Tensor>();
    const out: [string, Tensor][] = [];
    const mods: [string, Module][] = opts.recurse === false ? [[opts.prefix ?? '', this]] : this.namedModules(opts.prefix ?? '');
    for (const [prefix, m] of mods) {
      for (const [name, t] of own(m)) {
        if (seen.has(t)) continue;
        seen.add(t);
        out.push([prefix ? `${prefix}.${name}` : name, t]);
      }
    }
    return out;
  }

  /** The child at a dotted path ('encoder.0.convs'); throws naming the missing part. */
  getSubmodule(target: string): Module {
    if (target === '') return this;
    let m: Module = this;
    for (const part of target.split('.')) {
      const next = m.#modules.get(part);
      if (!next) throw new Error(`${m.constructor.name} has no submodule "${part}" (looking up "${target}")`);
      m = next;
    }
    return m;
  }
  getParameter(target: string): Tensor {
    const dot = target.lastIndexOf('.');
    const owner = this.getSubmodule(dot < 0 ? '' : target.slice(0, dot));
    const p = owner.#params.get(target.slice(dot + 1));
    if (!p) throw new Error(`${owner.constructor.name} has no parameter "${target.slice(dot + 1)}" (looking up "${target}")`);
    return p;
  }

  // ---- state dict ----

  /**
   * Parameters and persistent buffers under PyTorch's names and order (each module's parameters, then its buffers,
   * then its children); unlike namedParameters, shared tensors appear under every name. The values are the
   * module's own tensors: read or copy them, do not dispose them.
   */
  stateDict(prefix = ''): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    const visit = (m: Module, p: string): void => {
      for (const [name, t] of m.ownParameters()) out.set(p + name, t);
      for (const [name, t] of m.ownBuffers({ persistentOnly: true })) out.set(p + name, t);
      for (const [name, child] of m.namedChildren()) visit(child, `${p}${name}.`);
    };
    visit(this, prefix);
    return out;
  }

  /**
   * Copies values into the module's tensors (in place, under noGrad, converting dtype as torch's copy_). strict
   * (the default) throws before copying anything if keys are missing or unexpected or shapes differ, listing the
   * first offenders; non-strict copies what matches and reports the rest (shape-mismatched entries are skipped).
   */
  loadStateDict(stateDict: StateDictInput, opts: { strict?: boolean } = {}): LoadStateDictResult {
    const own = this.stateDict();
    const { result, copies, error } = planLoad(this.constructor.name, own, stateDict, opts.strict ?? true);
    if (error) throw error;
    noGrad(() => {
      for (const [dst, src] of copies) if (dst !== src) dst.copy_(src);
    });
    return result;
  }

  // ---- modes and gradients ----

  /** Sets training mode on this module and all descendants. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /** The number of parameter elements (shared tensors counted once). */
  numParameters(opts: { trainableOnly?: boolean } = {}): number {
    let n = 0;
    for (const p of this.parameters()) if (!opts.trainableOnly || p.requiresGrad) n += p.numel;
    return n;
  }

  requiresGrad_(requiresGrad = true): this {
    for (const p of this.parameters()) p.requiresGrad_(requiresGrad);
    return this;
  }

  /**
   * Stops gradients for parameters whose names match: a RegExp is tested against the full name; a string is an
   * exact name or a module prefix ('encoder' matches 'encoder.0.convs.0.conv.weight'), and `*` in it matches any
   * run of characters (dots included) against the full name. Returns the frozen names; throws if a pattern
   * matches nothing (a typo would otherwise freeze nothing silently).
   */
  freeze(patterns: NamePattern | NamePattern[]): string[] {
    return this.#setTrainable(patterns, false);
  }
  unfreeze(patterns: NamePattern | NamePattern[]): string[] {
    return this.#setTrainable(patterns, true);
  }
  #setTrainable(patterns: NamePattern | NamePattern[], value: boolean): string[] {
    const list = Array.isArray(patterns) ? patterns : [patterns];
    const named = this.namedParameters();
    const hit = new Set<string>();
    for (const pat of list) {
      const names = named.filter(([n]) => matchesPattern(n, pat)).map(([n]) => n);
      if (names.length === 0) throw new Error(`${value ? 'unfreeze' : 'freeze'}: pattern ${String(pat)} matches no parameter of ${this.constructor.name}`);
      for (const n of names) hit.add(n);
    }
    const out: string[] = [];
    for (const [n, p] of named) if (hit.has(n)) { p.requiresGrad_(value); out.push(n); }
    return out;
  }

  /** Drops accumulated gradients (optimizer.zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /** Calls fn on every descendant, then on this module (torch's Module.apply). */
  apply(fn: (m: Module) => void): this {
    for (const child of this.children()) child.apply(fn);
    fn(this);
    return this;
  }

  /**
   * Casts floating-point parameters and buffers to dtype (integer buffers such as num_batches_tracked keep
   * theirs, as in torch). The tensors are replaced (their fields updated), gradients dropped, requiresGrad kept.
   */
  to(dtype: DType | { dtype: DType }): this {
    const target = typeof dtype === 'string' ? dtype : dtype.dtype;
    const converted = new Map<Tensor, Tensor>();
    const convert = (t: Tensor): Tensor => {
      let c = converted.get(t);
      if (!c) {
        if (!isFloating(t.dtype) || t.dtype === target) return t;
        c = noGrad(() => t.to(target));
        converted.set(t, c);
      }
      return c;
    };
    for (const m of this.modules()) {
      for (const [name, p] of m.ownParameters()) if (convert(p) !== p) m.setParameter(name, convert(p), { disposeOld: false });
      for (const [name, b] of m.ownBuffers()) if (convert(b) !== b) m.setBuffer(name, convert(b), { disposeOld: false });
    }
    for (const old of converted.keys()) old.dispose();
    return this;
  }

  /** Frees every parameter and buffer (each once). The module cannot be used afterwards. */
  dispose(): void {
    const all = new Set<Tensor>();
    for (const m of this.modules()) {
      for (const [, t] of m.ownParameters()) all.add(t);
      for (const [, t] of m.ownBuffers()) all.add(t);
    }
    for (const t of all) t.dispose();
  }

  // ---- printing ----

  /** The constructor arguments shown by toString(), e.g. "3, 16, kernel_size=(3, 3)". */
  extraRepr(): string {
    return '';
  }

  /** PyTorch's repr: the module tree with each layer's configuration. */
  toString(): string {
    const kids = this.namedChildren();
    const extra = this.extraRepr();
    if (kids.length === 0) return `${this.constructor.name}(${extra})`;
    const lines = extra ? extra.split('\n') : [];
    for (const [name, child] of kids) lines.push(`(${name}): ${child.toString().replace(/\n/g, '\n  ')}`);
    return `${this.constructor.name}(\n  ${lines.join('\n  ')}\n)`;
  }
}

/** A module whose forward maps one tensor to one tensor (what Sequential chains). */
export interface UnaryModule extends Module {
  forward(x: Tensor): Tensor;
}
