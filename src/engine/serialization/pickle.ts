// A Python pickle reader (protocols 0-5) producing JS values, with hooks for persistent ids and for calling globals
// (the torch-specific ones live in pth.ts). It never executes code: unknown globals become opaque PyObject values.
//
// Python → JS value convention (shared by the writer in pickleWriter.ts, so load → save round-trips):
// - dict → PyDict and collections.OrderedDict → OrderedDict, both Map subclasses (insertion order, keys of any
//   type: str → string, int → number/bigint, tuple → frozen array). An OrderedDict keeps its instance __dict__
//   (e.g. a state dict's `_metadata`) in `.attrs`.
// - list → array; tuple → frozen array (Object.isFrozen(v) distinguishes them; use `tuple()` to make one).
// - int → number when |v| ≤ 2^53 - 1, else bigint. float → number; a float with an integral value (2.0) also
//   becomes a number but its container records the key in `pyFloatKeys`, so writing it back gives a float again.
// - str → string; bytes / bytearray → Uint8Array; None → null; bool → boolean; set / frozenset → Set.
// - any other global, and objects built from one by REDUCE / NEWOBJ / BUILD → PyObject
//   `{ __class__: 'module.Name', args, state }` (args null for a bare reference such as `torch.float32`).
/** Marks PyObject values; its value tells how the object was made ('global', 'reduce' or 'newobj'). */
export const PY_KIND = Symbol.for('samtutor.serialization.pyKind');
export type PyKind = 'global' | 'reduce' | 'newobj';

/** An opaque Python object (argparse.Namespace, numpy scalars, classes, functions...). A plain object, branded. */
export interface PyObject {
  __class__: string;
  args: unknown[] | null;
  state: unknown;
  [PY_KIND]: PyKind;
}

export function pyObject(cls: string, args: unknown[] | null = null, state: unknown = null, kind: PyKind = args ? 'reduce' : 'global'): PyObject {
  return { __class__: cls, args, state, [PY_KIND]: kind };
}
export const isPyObject = (v: unknown): v is PyObject => typeof v === 'object' && v !== null && PY_KIND in v;

/** A Python dict (a Map that is written back as dict even when it holds only tensors). */
export class PyDict<K = unknown, V = unknown> extends Map<K, V> {}

/** collections.OrderedDict (a torch state dict). `attrs` holds the instance __dict__ (e.g. `_metadata`). */
export class OrderedDict<K = unknown, V = unknown> extends Map<K, V> {
  attrs: Map<unknown, unknown> | null = null;
}

/** Forces a Python float when writing a number with an integral value: `new PyFloat(1)` pickles as `1.0`. */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** Containers (Map, array, plain object) → keys whose integral number values were Python floats in the pickle. */
export const pyFloatKeys = new WeakMap<object, Set<unknown>>();

/** A Python tuple: a frozen array. */
export const tuple = <T>(items: T[]): readonly T[] => Object.freeze(items);
export const isTuple = (v: unknown): boolean => Array.isArray(v) && Object.isFrozen(v);

/** Returned by UnpickleHooks.call when it does not handle a global. */
export const UNHANDLED = Symbol('unhandled');

export interface UnpickleHooks {
  /** Resolves a persistent id (BINPERSID / PERSID); torch.save uses ('storage', StorageClass, key, location, numel). */
  persistentLoad?: (pid: unknown) => unknown;
  /** Calls a global (REDUCE / NEWOBJ) such as torch._utils._rebuild_tensor_v2; returns UNHANDLED to fall back. */
  call?: (cls: string, args: unknown[]) => unknown;
  /** Names the data in error messages (e.g. `plain/data.pkl`). */
  label?: string;
}

/** Opcode names (for messages) by byte value. */
const NAMES: Record<number, string> = {};
'MARK ( STOP . POP 0 POP_MARK 1 DUP 2 FLOAT F INT I BININT J BININT1 K LONG L BININT2 M NONE N PERSID P BINPERSID Q REDUCE R STRING S BINSTRING T SHORT_BINSTRING U UNICODE V BINUNICODE X APPEND a BUILD b GLOBAL c DICT d EMPTY_DICT } APPENDS e GET g BINGET h INST i LONG_BINGET j LIST l EMPTY_LIST ] OBJ o PUT p BINPUT q LONG_BINPUT r SETITEM s TUPLE t EMPTY_TUPLE ) SETITEMS u BINFLOAT G'
  .split(' ').forEach((w, i, a) => { if (i % 2 === 0) NAMES[a[i + 1]!.charCodeAt(0)] = w; });
Object.assign(NAMES, {
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2', 0x87: 'TUPLE3',
  0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES',
  0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET',
  0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
});
export const opcodeName = (op: number): string => NAMES[op] ?? `0x${op.toString(16).padStart(2, '0')}`;

const MARK = Symbol('mark');
const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

/** Python int from little-endian two's complement bytes: number when safe, else bigint. */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return normInt(v);
}
const normInt = (v: bigint): number | bigint =>
  v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;

/** Removes the float wrapper from a value entering a container, recording integral floats under their key. */
function unwrap(v: unknown, container?: object, key?: unknown): unknown {
  if (!(v instanceof PyFloat)) return v;
  if (container) {
    let s = pyFloatKeys.get(container);
    if (!s) pyFloatKeys.set(container, (s = new Set()));
    s.add(key);
  }
  return v.value;
}
function tupleOf(items: unknown[]): readonly unknown[] {
  for (let i = 0; i < items.length; i++) items[i] = unwrap(items[i], items, i);
  return tuple(items);
}

/** Decodes a protocol-0 STRING literal (a Python 2 repr: quoted, with backslash escapes). */
function pyStringLiteral(s: string): string {
  const body = s.slice(1, -1);
  const esc: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0', '\\': '\\', "'": "'", '"': '"' };
  return body.replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_m, e: string) =>
    e.length === 3 ? String.fromCharCode(parseInt(e.slice(1), 16)) : esc[e] ?? `\\${e}`);
}

function setItem(target: unknown, k: unknown, v: unknown): void {
  const key = unwrap(k);
  if (target instanceof Map) target.set(key, unwrap(v, target, key));
  else if (isPyObject(target)) {
    // dict items appended to a PyObject (a dict subclass): keep them in its state Map.
    if (!(target.state instanceof Map)) target.state = new PyDict();
    (target.state as Map<unknown, unknown>).set(key, unwrap(v, target.state as object, key));
  } else throw new Error(`SETITEM on a ${describe(target)}`);
}
function append(target: unknown, v: unknown): void {
  if (Array.isArray(target) && !Object.isFrozen(target)) target.push(unwrap(v, target, target.length));
  else if (target instanceof Set) target.add(unwrap(v));
  else throw new Error(`APPEND on a ${describe(target)}`);
}
const describe = (v: unknown): string => (isPyObject(v) ? v.__class__ : v === null ? 'None' : typeof v === 'object' ? v.constructor.name : typeof v);

/** Built-in globals handled without hooks; UNHANDLED otherwise. */
function builtinCall(cls: string, args: unknown[]): unknown {
  switch (cls) {
    case 'collections.OrderedDict': {
      const d = new OrderedDict();
      for (const pair of (args[0] ?? []) as unknown[][]) d.set(pair[0], pair[1]);
      return d;
    }
    case 'builtins.set': case 'builtins.frozenset': return new Set((args[0] ?? []) as unknown[]);
    case 'builtins.list': return [...((args[0] ?? []) as unknown[])];
    case 'builtins.tuple': return tuple([...((args[0] ?? []) as unknown[])]);
    case 'builtins.dict': return new PyDict(args[0] instanceof Map ? args[0] : ((args[0] ?? []) as [unknown, unknown][]));
    case 'builtins.bytearray': case 'builtins.bytes':
      if (args.length === 0) return new Uint8Array(0);
      if (args[0] instanceof Uint8Array) return new Uint8Array(args[0]);
      if (typeof args[0] === 'string') return new Uint8Array(Buffer.from(args[0], 'latin1'));
      return UNHANDLED;
    case '_codecs.encode': // protocol 2 writes bytes as _codecs.encode(str, 'latin1')
      return typeof args[0] === 'string' && (args[1] === 'latin1' || args[1] === 'latin-1')
        ? new Uint8Array(Buffer.from(args[0], 'latin1')) : UNHANDLED;
    case 'copyreg._reconstructor': // protocol 0/1 objects: _reconstructor(cls, object, None)
      return isPyObject(args[0]) ? pyObject(args[0].__class__, [], null, 'newobj') : UNHANDLED;
    default: return UNHANDLED;
  }
}

/** Unpickles `data` (one pickle, up to its STOP). */
export function unpickle(data: Uint8Array, hooks: UnpickleHooks = {}): unknown {
  const label = hooks.label ?? 'pickle';
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  let op = 0;
  const fail = (msg: string): never => { throw new Error(`${msg} at byte ${pos} of ${label}`); };
  const need = (n: number): number => {
    if (pos + n > data.length) fail(`pickle data is truncated (opcode ${opcodeName(op)} needs ${n} more bytes)`);
    const at = pos;
    pos += n;
    return at;
  };
  const bytes = (n: number): Uint8Array => { const at = need(n); return data.subarray(at, at + n); };
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) fail(`pickle data is truncated (opcode ${opcodeName(op)} has no newline)`);
    const s = latin1.decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const u32 = (): number => view.getUint32(need(4), true);
  const u64 = (): number => {
    const v = view.getBigUint64(need(8), true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`length ${v} is too large`);
    return Number(v);
  };
  const pop = (): unknown => (stack.length ? stack.pop() : fail(`opcode ${opcodeName(op)} found an empty stack`));
  const top = (): unknown => (stack.length ? stack[stack.length - 1] : fail(`opcode ${opcodeName(op)} found an empty stack`));
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fail(`opcode ${opcodeName(op)} found no MARK`);
    return stack.splice(m!);
  };
  const memoGet = (i: number): unknown => (memo.has(i) ? memo.get(i) : fail(`memo key ${i} is missing`));
  const callGlobal = (cls: unknown, args: unknown[], kind: PyKind): unknown => {
    if (!isPyObject(cls) || cls[PY_KIND] !== 'global') return pyObject(`${describe(cls)}()`, args, null, kind);
    if (kind === 'reduce') {
      const r = hooks.call ? hooks.call(cls.__class__, args) : UNHANDLED;
      if (r !== UNHANDLED) return r;
      const b = builtinCall(cls.__class__, args);
      if (b !== UNHANDLED) return b;
    } else if (cls.__class__ === 'collections.OrderedDict') {
      return new OrderedDict();
    }
    return pyObject(cls.__class__, args as unknown[], null, kind);
  };
  const argTuple = (v: unknown): unknown[] => (Array.isArray(v) ? (v as unknown[]) : fail(`opcode ${opcodeName(op)} expects an argument tuple but found a ${describe(v)}`));
  // Python 2 module names, as protocol < 3 pickles spell them (fix_imports), are read as their Python 3 names.
  const global = (module: string, name: string): PyObject =>
    pyObject(`${module === '__builtin__' ? 'builtins' : module === 'copy_reg' ? 'copyreg' : module}.${name}`);
  const str = (b: Uint8Array): string => utf8.decode(b);
  const parseIntLine = (s: string): number | bigint | boolean => {
    if (s === '00') return false;
    if (s === '01') return true;
    return normInt(BigInt(s.replace(/L$/, '')));
  };

  for (;;) {
    if (pos >= data.length) fail('pickle data ends without a STOP opcode');
    op = data[pos++]!;
    switch (op) {
      case 0x80: need(1); break; // PROTO
      case 0x95: need(8); break; // FRAME (frames are only a buffering hint)
      case 0x2e: { // STOP
        const v = pop();
        return unwrap(v);
      }
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break;
      case 0x89: stack.push(false); break;
      case 0x4b: stack.push(data[need(1)]!); break; // BININT1
      case 0x4d: stack.push(view.getUint16(need(2), true)); break; // BININT2
      case 0x4a: stack.push(view.getInt32(need(4), true)); break; // BININT
      case 0x8a: stack.push(decodeLong(bytes(data[need(1)]!))); break; // LONG1
      case 0x8b: stack.push(decodeLong(bytes(u32()))); break; // LONG4
      case 0x49: stack.push(parseIntLine(line())); break; // INT
      case 0x4c: stack.push(parseIntLine(line())); break; // LONG
      case 0x47: { const f = view.getFloat64(need(8), false); stack.push(Number.isInteger(f) ? new PyFloat(f) : f); break; }
      case 0x46: { const f = Number(line()); stack.push(Number.isInteger(f) ? new PyFloat(f) : f); break; }
      case 0x58: stack.push(str(bytes(u32()))); break; // BINUNICODE
      case 0x8c: stack.push(str(bytes(data[need(1)]!))); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(str(bytes(u64()))); break; // BINUNICODE8
      case 0x56: stack.push(line().replace(/\\u([0-9a-fA-F]{4})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)))); break;
      case 0x54: stack.push(latin1.decode(bytes(view.getInt32(need(4), true)))); break; // BINSTRING (py2 str)
      case 0x55: stack.push(latin1.decode(bytes(data[need(1)]!))); break; // SHORT_BINSTRING
      case 0x53: stack.push(pyStringLiteral(line())); break; // STRING
      case 0x42: stack.push(bytes(u32()).slice()); break; // BINBYTES
      case 0x43: stack.push(bytes(data[need(1)]!).slice()); break; // SHORT_BINBYTES
      case 0x8e: case 0x96: stack.push(bytes(u64()).slice()); break; // BINBYTES8, BYTEARRAY8
      case 0x98: break; // READONLY_BUFFER: a no-op on an in-band buffer
      case 0x7d: stack.push(new PyDict()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push(tuple([])); break; // EMPTY_TUPLE
      case 0x8f: stack.push(new Set()); break; // EMPTY_SET
      case 0x64: { // DICT
        const items = popMark();
        const d = new PyDict();
        for (let i = 0; i + 1 < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        stack.push(d);
        break;
      }
      case 0x6c: { const items = popMark(); const l: unknown[] = []; for (const v of items) append(l, v); stack.push(l); break; }
      case 0x74: stack.push(tupleOf(popMark())); break; // TUPLE
      case 0x85: stack.push(tupleOf([pop()])); break;
      case 0x86: { const b = pop(); stack.push(tupleOf([pop(), b])); break; }
      case 0x87: { const c = pop(); const b = pop(); stack.push(tupleOf([pop(), b, c])); break; }
      case 0x91: stack.push(new Set(popMark().map((v) => unwrap(v)))); break; // FROZENSET
      case 0x90: { const items = popMark(); for (const v of items) append(top(), v); break; } // ADDITEMS
      case 0x61: { const v = pop(); append(top(), v); break; } // APPEND
      case 0x65: { const items = popMark(); const t = top(); for (const v of items) append(t, v); break; } // APPENDS
      case 0x73: { const v = pop(); const k = pop(); setItem(top(), k, v); break; } // SETITEM
      case 0x75: { // SETITEMS
        const items = popMark();
        const t = top();
        for (let i = 0; i + 1 < items.length; i += 2) setItem(t, items[i], items[i + 1]);
        break;
      }
      case 0x71: memo.set(data[need(1)]!, top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x70: memo.set(Number(line()), top()); break; // PUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: stack.push(memoGet(data[need(1)]!)); break; // BINGET
      case 0x6a: stack.push(memoGet(u32())); break; // LONG_BINGET
      case 0x67: stack.push(memoGet(Number(line()))); break; // GET
      case 0x63: { const module = line(); stack.push(global(module, line())); break; } // GLOBAL
      case 0x93: { const name = pop(); const module = pop(); stack.push(global(String(module), String(name))); break; }
      case 0x52: { const args = argTuple(pop()); stack.push(callGlobal(pop(), args, 'reduce')); break; } // REDUCE
      case 0x81: { const args = argTuple(pop()); stack.push(callGlobal(pop(), args, 'newobj')); break; } // NEWOBJ
      case 0x92: { // NEWOBJ_EX (cls, args, kwargs)
        const kwargs = pop();
        const args = argTuple(pop());
        const obj = callGlobal(pop(), args, 'newobj');
        if (isPyObject(obj) && kwargs instanceof Map && kwargs.size) obj.state = kwargs;
        stack.push(obj);
        break;
      }
      case 0x6f: { const items = popMark(); stack.push(callGlobal(items[0], items.slice(1), 'newobj')); break; } // OBJ
      case 0x69: { const module = line(); const name = line(); stack.push(callGlobal(global(module, name), popMark(), 'newobj')); break; }
      case 0x62: { // BUILD
        const state = unwrap(pop());
        const obj = top();
        if (isPyObject(obj)) obj.state = state;
        else if (obj instanceof OrderedDict) obj.attrs = state instanceof Map ? state : new Map([['__state__', state]]);
        // BUILD on tensors (tensor subclasses' __dict__) and other values is ignored.
        break;
      }
      case 0x51: stack.push(hooks.persistentLoad ? hooks.persistentLoad(pop()) : fail('a persistent id needs a persistent_load hook')); break;
      case 0x50: { const pid = line(); stack.push(hooks.persistentLoad ? hooks.persistentLoad(pid) : fail('a persistent id needs a persistent_load hook')); break; }
      default:
        if (NAMES[op]) fail(`unsupported pickle opcode ${NAMES[op]} (0x${op.toString(16)})`);
        fail(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')} (not a pickle, or corrupt data)`);
    }
  }
}
