// The optimizer base: parameter groups, step() under noGrad + tidy, zeroGrad, and PyTorch-compatible state dicts.
//
// Conventions
// - Hyperparameters are camelCase in JS (weightDecay) and snake_case in state dicts (weight_decay), exactly as
//   torch 1.13 names them, so a state dict written here loads into torch.optim and vice versa.
// - Optimizer state (moments, momentum buffers) is kept (exempt from tidy) and owned by the optimizer: dispose()
//   frees it. step() frees every temporary it makes.
// - stateDict() returns fresh copies the caller owns (dispose(sd) frees them); loadStateDict() copies what it is
//   given (cast to each parameter's dtype, as torch does) and never takes ownership of the input.
import { Tensor } from '../tensor.ts';
import { keep, tidy } from '../scope.ts';
import { noGrad } from '../runtime.ts';
import { isFloating } from '../dtype.ts';
import { scalar } from '../creation.ts';
import { callT } from '../dispatch.ts';

/** What every group carries; initialLr is set by LR schedulers (torch's 'initial_lr'). */
export interface BaseGroup {
  params: Tensor[];
  lr: number;
  initialLr?: number;
  /** Keys of a loaded torch group this optimizer does not use; written back unchanged by stateDict(). */
  extra?: Record<string, unknown>;
}
export type ParamGroup<H> = BaseGroup & H;
/** A group as passed to a constructor: params plus any hyperparameter overrides. */
export type ParamGroupInput<H> = { params: Tensor[] } & Partial<H> & { lr?: number };
export type ParamsInput<H> = Tensor[] | ParamGroupInput<H>[];

/** A per-parameter state entry as torch stores it: tensors (step is a 0-d float32 tensor) or null. */
export type StateEntry = Record<string, Tensor | number | null>;
/** torch.optim.Optimizer.state_dict(): state keyed by the parameter's flat index over all groups. */
export interface OptimizerStateDict {
  state: Record<number, StateEntry>;
  param_groups: Record<string, unknown>[];
}

/**
 * How one group key appears in torch's state dict: mapped to a JS hyperparameter, or a fixed value torch writes
 * that samtutor does not implement (foreach is ignored on load; other fixed keys must hold the fixed value).
 */
export type GroupKey = { py: string; js: string } | { py: string; fixed: unknown; ignoreOnLoad?: boolean };

export abstract class Optimizer<H extends object, S> {
  readonly paramGroups: ParamGroup<H>[] = [];
  protected readonly state = new Map<Tensor, S>();
  /** torch's param_groups key layout for this optimizer, in torch's order (params is appended last). */
  protected abstract readonly groupKeys: readonly GroupKey[];

  constructor(params: ParamsInput<H>, readonly defaults: H & { lr: number }) {
    if (params.length === 0) throw new Error('optimizer got an empty parameter list');
    const groups = params[0] instanceof Tensor ? [{ params: params as Tensor[] }] : (params as ParamGroupInput<H>[]);
    for (const g of groups) this.addParamGroup(g as ParamGroupInput<H>);
  }

  /** Adds a group; missing hyperparameters come from the defaults (torch add_param_group). */
  addParamGroup(group: ParamGroupInput<H>): void {
    if (!Array.isArray(group.params)) throw new TypeError('a parameter group needs params: Tensor[]');
    const seen = new Set(this.paramGroups.flatMap((g) => g.params));
    for (const p of group.params) {
      if (!(p instanceof Tensor)) throw new TypeError(`optimizer can only optimize Tensors, but one of the params is ${typeof p}`);
      if (!p.isLeaf) throw new Error("can't optimize a non-leaf Tensor");
      if (!isFloating(p.dtype)) throw new TypeError(`optimizer params must be floating point, got ${p.dtype}`);
      if (seen.has(p)) throw new Error('some parameters appear in more than one parameter group (or twice in one)');
      seen.add(p);
    }
    this.paramGroups.push({ ...this.defaults, ...definedOnly(group), params: [...group.params] } as ParamGroup<H>);
  }

  /** Updates parameter p (with gradient grad) in place; temporaries are freed by the caller's tidy. */
  protected abstract update(p: Tensor, grad: Tensor, group: ParamGroup<H>): void;
  /** Per-parameter state for torch's state dict (fresh tensors) and back. */
  protected abstract exportState(s: S): StateEntry;
  protected abstract importState(p: Tensor, entry: StateEntry, group: ParamGroup<H>, where: string): S;
  protected abstract freeState(s: S): void;

  /** One optimization step over every parameter that has a gradient (torch's single-tensor path). */
  step(): void {
    noGrad(() => {
      for (const group of this.paramGroups) {
        for (const p of group.params) {
          tidy(() => {
            const g = p.grad;
            if (g) this.update(p, g, group);
          });
        }
      }
    });
  }

  /** Clears gradients: set to null (default, frees them) or zero them in place. */
  zeroGrad(setToNone = true): void {
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        if (setToNone) {
          p.grad = null;
          continue;
        }
        const g = p.grad;
        if (g) {
          g.zero_();
          g.dispose();
        }
      }
    }
  }

  /** torch-format state dict; the tensors are copies the caller owns. */
  stateDict(): OptimizerStateDict {
    const index = new Map<Tensor, number>();
    let next = 0;
    const paramGroups = this.paramGroups.map((group) => {
      const packed: Record<string, unknown> = {};
      const rec = group as unknown as Record<string, unknown>;
      for (const k of this.groupKeys) packed[k.py] = 'js' in k ? cloneValue(rec[k.js]) : k.fixed;
      if (group.initialLr !== undefined) packed.initial_lr = group.initialLr;
      Object.assign(packed, group.extra ?? {});
      packed.params = group.params.map((p) => {
        if (!index.has(p)) index.set(p, next++);
        return index.get(p)!;
      });
      return packed;
    });
    const state: Record<number, StateEntry> = {};
    for (const [p, s] of this.state) {
      const i = index.get(p);
      if (i !== undefined) state[i] = this.exportState(s);
    }
    return { state, param_groups: paramGroups };
  }

  /** Loads a torch-format state dict (from stateDict() or from torch.optim), replacing groups' hyperparameters. */
  loadStateDict(sd: OptimizerStateDict | { state: Map<number, StateEntry>; param_groups: Record<string, unknown>[] }): void {
    const saved = sd?.param_groups;
    if (!Array.isArray(saved) || typeof sd.state !== 'object' || sd.state === null) {
      throw new TypeError('loadStateDict: expected { state, param_groups } as written by stateDict() or torch');
    }
    if (saved.length !== this.paramGroups.length) {
      throw new Error(`loadStateDict: the state dict has ${saved.length} parameter group(s) but this optimizer has ${this.paramGroups.length}`);
    }
    const idMap = new Map<number, { p: Tensor; gi: number }>();
    saved.forEach((sg, gi) => {
      const ids = sg.params;
      const own = this.paramGroups[gi]!.params;
      if (!Array.isArray(ids) || ids.length !== own.length) {
        throw new Error(`loadStateDict: parameter group ${gi} has ${Array.isArray(ids) ? ids.length : 'no'} params in the state dict but ${own.length} here`);
      }
      ids.forEach((id, j) => idMap.set(Number(id), { p: own[j]!, gi }));
    });
    // Build every new group and state entry before touching this optimizer, so a bad state dict changes nothing.
    const groups = saved.map((sg, gi) => this.importGroup(sg, this.paramGroups[gi]!, gi));
    const entries: [Tensor, S][] = [];
    try {
      const stateEntries = sd.state instanceof Map ? [...sd.state.entries()] : Object.entries(sd.state);
      for (const [key, entry] of stateEntries) {
        const target = idMap.get(Number(key));
        if (!target) throw new Error(`loadStateDict: state has an entry for parameter ${key}, which no group lists`);
        if (typeof entry !== 'object' || entry === null) throw new TypeError(`loadStateDict: state[${key}] is not an object`);
        const where = `state[${key}] (group ${target.gi})`;
        for (const [name, v] of Object.entries(entry)) {
          if (v instanceof Tensor && name !== 'step' && !sameShape(v.shape, target.p.shape)) {
            throw new Error(`loadStateDict: ${where}.${name} has shape [${v.shape}] but the parameter has shape [${target.p.shape}]`);
          }
        }
        entries.push([target.p, tidy(() => this.importState(target.p, entry, groups[target.gi]!, where))]);
      }
    } catch (err) {
      for (const [, s] of entries) this.freeState(s);
      throw err;
    }
    for (const s of this.state.values()) this.freeState(s);
    this.state.clear();
    for (const [p, s] of entries) this.state.set(p, s);
    groups.forEach((g, gi) => (this.paramGroups[gi] = g));
  }

  private importGroup(sg: Record<string, unknown>, current: ParamGroup<H>, gi: number): ParamGroup<H> {
    const g: Record<string, unknown> = { ...this.defaults, params: current.params };
    const known = new Set(['params', 'initial_lr']);
    for (const k of this.groupKeys) {
      known.add(k.py);
      const v = sg[k.py];
      if ('js' in k) {
        if (v !== undefined) g[k.js] = cloneValue(v);
        else if (k.js === 'lr') throw new Error(`loadStateDict: parameter group ${gi} has no lr`);
      } else if (v !== undefined && !k.ignoreOnLoad && v !== k.fixed) {
        throw new Error(`loadStateDict: parameter group ${gi} sets ${k.py}=${String(v)}, which samtutor does not support (only ${String(k.fixed)})`);
      }
    }
    for (const flag of UNSUPPORTED_FLAGS) {
      if (sg[flag]) throw new Error(`loadStateDict: parameter group ${gi} sets ${flag}=${String(sg[flag])}, which samtutor does not support`);
    }
    if (typeof sg.initial_lr === 'number') g.initialLr = sg.initial_lr;
    const extra = Object.fromEntries(Object.entries(sg).filter(([k]) => !known.has(k)));
    if (Object.keys(extra).length > 0) g.extra = extra;
    return g as unknown as ParamGroup<H>;
  }

  /** Frees the optimizer state; the optimizer must not be used afterwards. */
  dispose(): void {
    for (const s of this.state.values()) this.freeState(s);
    this.state.clear();
  }
}

// ---- helpers for subclasses ----

/** The entries of o whose value is not undefined (so { lr: undefined } does not override a default). */
export function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A kept zero tensor shaped (and strided) like p: torch.zeros_like(p, memory_format=torch.preserve_format). */
export const keptZerosLike = (p: Tensor): Tensor => keep(callT('zeros_like', [p]));

/** step as torch keeps it: a float32 counter (so it saturates at 2^24 exactly like torch's tensor). */
export const incrementStep = (step: number): number => Math.fround(step + 1);
export const stepTensor = (step: number): Tensor => scalar(step);

/** Reads a torch step value (0-d tensor or, in old checkpoints, a number). */
export function readStep(v: unknown, where: string): number {
  if (typeof v === 'number') return Math.fround(v);
  if (v instanceof Tensor && v.numel === 1) return Math.fround(v.item());
  throw new TypeError(`loadStateDict: ${where}.step must be a one-element tensor or a number`);
}

/** A kept copy of a saved state tensor, cast to the parameter's dtype (torch's load_state_dict cast). */
export function importTensor(v: unknown, p: Tensor, where: string, name: string): Tensor {
  if (!(v instanceof Tensor)) throw new TypeError(`loadStateDict: ${where}.${name} is missing or not a tensor`);
  return keep(v.to({ dtype: p.dtype, copy: true }));
}

/** torch group flags for code paths samtutor does not have; a loaded group may carry them only as false. */
const UNSUPPORTED_FLAGS = ['capturable', 'differentiable', 'fused'];

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function cloneValue(v: unknown): unknown {
  return Array.isArray(v) ? [...v] : v;
}
