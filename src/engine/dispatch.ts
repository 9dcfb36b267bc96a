// Calls ATen operators by schema name through the native dispatcher binding. Tensor arguments are unwrapped to
// their native handles; tensors in the results are wrapped (and join the current tidy scope).
import { native, type NativeTensor } from './native.ts';
import { Tensor } from './tensor.ts';

interface ResolvedOp {
  id: number;
  schema: string;
  /** Per formal argument (by position, and by name for named arguments): throws a TypeError for a wrong JS type. */
  checks: ((v: unknown) => void)[];
  checksByName: Map<string, (v: unknown) => void>;
  /** Turns the addon's result (tensor ids, numbers, arrays) into JS values by the op's declared return types. */
  convert: (raw: unknown) => unknown;
}
const resolved = new Map<string, ResolvedOp>();

function resolve(qualified: string): ResolvedOp {
  let r = resolved.get(qualified);
  if (!r) {
    const dot = qualified.indexOf('.', qualified.indexOf('::') + 2);
    const name = dot < 0 ? qualified : qualified.slice(0, dot);
    const overload = dot < 0 ? '' : qualified.slice(dot + 1);
    const info = native.resolveOp(name.includes('::') ? name : `aten::${name}`, overload);
    const checks = info.args.map((a) => checkerFor(a.type, a.name));
    r = {
      id: info.id, schema: info.schema, convert: converterFor(info.returns), checks,
      checksByName: new Map(info.args.map((a, i) => [a.name, checks[i]!])),
    };
    resolved.set(qualified, r);
  }
  return r;
}

// Tensors cross to the addon as numeric ids, so a stray JS number must never reach a Tensor slot; and int slots
// must not silently truncate 0.5 or NaN. Checked from the op's schema before the native call.
const isInteger = (v: unknown): boolean => (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint' || typeof v === 'boolean';
function describe(v: unknown): string {
  return `${typeof v === 'string' ? v : Array.isArray(v) ? `[${v.join(', ')}]` : String(v)} of type ${typeof v}`;
}
function checkerFor(type: string, name: string): (v: unknown) => void {
  const optional = type.endsWith('?');
  const base = optional ? type.slice(0, -1) : type;
  const skip = (v: unknown): boolean => v === undefined || (optional && v === null);
  switch (base) {
    case 'Tensor':
      return (v) => { if (!skip(v) && !(v instanceof Tensor)) throw new TypeError(`expected a tensor for ${name} but received ${describe(v)}`); };
    case 'Tensor[]': case 'Tensor?[]': {
      const nullable = base === 'Tensor?[]';
      return (v) => {
        if (skip(v)) return;
        if (!Array.isArray(v)) throw new TypeError(`expected an array of tensors for ${name} but received ${describe(v)}`);
        for (const e of v) if (!(e instanceof Tensor) && !(nullable && e == null)) throw new TypeError(`expected a tensor for ${name} but received ${describe(e)}`);
      };
    }
    case 'int': case 'SymInt':
      return (v) => { if (!skip(v) && !isInteger(v)) throw new TypeError(`expected an integer for ${name} but received ${describe(v)}`); };
    case 'int[]': case 'SymInt[]':
      return (v) => {
        if (skip(v)) return;
        if (Array.isArray(v) ? !v.every(isInteger) : !isInteger(v)) throw new TypeError(`expected integers for ${name} but received ${describe(v)}`);
      };
    default:
      return () => undefined;
  }
}

function toNativeArg(v: unknown): unknown {
  if (v instanceof Tensor) return v.native;
  if (Array.isArray(v)) return v.map(toNativeArg);
  return v;
}

const wrap = (v: unknown): Tensor | null => (v === null ? null : Tensor.fromNative(v as NativeTensor));

function converterForType(type: string): (v: unknown) => unknown {
  if (type === 'Tensor' || type === 'Tensor?') return wrap;
  if (type === 'Tensor[]' || type === 'Tensor?[]') return (v) => (v as unknown[]).map(wrap);
  return (v) => v;
}

function converterFor(returns: string[]): (raw: unknown) => unknown {
  if (returns.length === 0) return () => undefined;
  if (returns.length === 1) return converterForType(returns[0]!);
  const each = returns.map(converterForType);
  return (raw) => (raw as unknown[]).map((v, i) => each[i]!(v));
}

/**
 * call('conv2d', [x, w, b, [1, 1]], { groups: 2 }) runs aten::conv2d. Name an overload after a dot
 * ('add.Tensor'). Returns what the op returns: a Tensor, an array for multiple or list results, or a number.
 */
export function call(op: string, args: unknown[], named?: Record<string, unknown>): unknown {
  const { id, convert, checks, checksByName } = resolve(op);
  for (let i = 0; i < args.length && i < checks.length; i++) checks[i]!(args[i]);
  if (named) for (const k in named) checksByName.get(k)?.(named[k]);
  const nativeNamed = named ? Object.fromEntries(Object.entries(named).map(([k, v]) => [k, toNativeArg(v)])) : undefined;
  try {
    return convert(native.callOp(id, args.map(toNativeArg), nativeNamed));
  } catch (err) {
    throw explain(err);
  }
}

// libtorch's message for a device its build lacks lists every dispatch key; say what it means in one line.
function explain(err: unknown): unknown {
  const msg = err instanceof Error ? err.message : '';
  const backend = /^([^:]+(?:::[^:]+)?): (?:Could not run '[^']+' with arguments from the '(\w+)' backend|PyTorch is not linked with support for (\w+) devices)/.exec(msg);
  if (!backend) return err;
  const op = backend[1]!;
  const name = (backend[2] ?? backend[3]!).toUpperCase();
  return new Error(`${op}: this libtorch build has no ${name} support; build samtutor against a libtorch with ${name} (LIBTORCH=/path/to/libtorch npm run build:native)`);
}

/** call() for ops that return one tensor. */
export function callT(op: string, args: unknown[], named?: Record<string, unknown>): Tensor {
  return call(op, args, named) as Tensor;
}

/** call() for ops that return several tensors (tuples and lists). */
export function callTs(op: string, args: unknown[], named?: Record<string, unknown>): Tensor[] {
  return call(op, args, named) as Tensor[];
}

/** The schema string of an op, e.g. for error messages and docs. */
export function schemaOf(op: string): string {
  return resolve(op).schema;
}
