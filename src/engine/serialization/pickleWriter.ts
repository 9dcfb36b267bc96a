// A pickle writer producing protocol 2 (what torch.save uses by default), following CPython's Pickler output:
// memoized objects (BINPUT / LONG_BINPUT, then BINGET on repeats), batched SETITEMS / APPENDS of up to 1000,
// GLOBAL + args + REDUCE for reduced objects, and `__builtin__` / `copy_reg` module names as fix_imports writes them.
//
// JS → Python value convention (the inverse of pickle.ts):
// - null / undefined → None; boolean → bool; string → str; bigint → int.
// - number → int when it is an integer (and not -0), else float; a `PyFloat` wrapper, or a key recorded in
//   `pyFloatKeys` for its container (what the reader does for floats like 2.0), forces float.
// - OrderedDict (or a Map, not a PyDict, that the `orderedDict` hook accepts) → collections.OrderedDict, with
//   `.attrs` written as its __dict__ via BUILD; PyDict and other Maps → dict;
//   plain object → dict with str keys; array → list; frozen array → tuple; Set → set; Uint8Array → bytes.
// - PyObject → its global (args null), GLOBAL + args + REDUCE, or GLOBAL + args + NEWOBJ; a non-null state → BUILD.
// - anything else (e.g. a Tensor) must be handled by the hooks: `persistentId` (emitted with BINPERSID) or `reduce`.
import { OrderedDict, PY_KIND, PyDict, PyFloat, isPyObject, isTuple, pyFloatKeys, type PyObject } from './pickle.ts';

export interface PickleHooks {
  /** A persistent id for v (pickled, then BINPERSID), or undefined to pickle v normally. */
  persistentId?: (v: unknown) => unknown;
  /** A reduction `func(*args)` for a value the writer does not know, e.g. a tensor; func is 'module.name'. */
  reduce?: (v: unknown) => { func: string; args: unknown[] } | undefined;
  /** Whether a Map that is not an OrderedDict should still be written as collections.OrderedDict. */
  orderedDict?: (m: Map<unknown, unknown>) => boolean;
}

const BATCH = 1000;
const MAX_DEPTH = 2000;

/** Growable byte buffer. */
class Bytes {
  buf = new Uint8Array(1024);
  view = new DataView(this.buf.buffer);
  length = 0;
  reserve(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  // reserve() may replace buf and view, so it runs before they are read.
  op(...codes: number[]): void { for (const c of codes) { const at = this.reserve(1); this.buf[at] = c; } }
  raw(b: Uint8Array): void { const at = this.reserve(b.length); this.buf.set(b, at); }
  u32(v: number): void { const at = this.reserve(4); this.view.setUint32(at, v, true); }
  u16(v: number): void { const at = this.reserve(2); this.view.setUint16(at, v, true); }
  i32(v: number): void { const at = this.reserve(4); this.view.setInt32(at, v, true); }
  f64be(v: number): void { const at = this.reserve(8); this.view.setFloat64(at, v, false); }
}

/** Python's encode_long: minimal little-endian two's complement bytes. */
function encodeLong(x: bigint): Uint8Array {
  if (x === 0n) return new Uint8Array(0);
  const out: number[] = [];
  let v = x;
  for (;;) {
    const byte = Number(v & 0xffn);
    out.push(byte);
    v >>= 8n;
    if ((v === 0n && (byte & 0x80) === 0) || (v === -1n && (byte & 0x80) !== 0)) break;
  }
  return Uint8Array.from(out);
}

const describe = (v: unknown): string =>
  v === null ? 'null' : typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v;

const isPlainObject = (v: object): boolean => {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/** Pickles `value` with protocol 2. */
export function pickle(value: unknown, hooks: PickleHooks = {}): Uint8Array {
  const out = new Bytes();
  const memo = new Map<unknown, number>();
  const path: string[] = [];
  const encoder = new TextEncoder();

  const put = (key: unknown): void => {
    const i = memo.size;
    memo.set(key, i);
    if (i < 256) out.op(0x71, i); // BINPUT
    else { out.op(0x72); out.u32(i); } // LONG_BINPUT
  };
  const get = (key: unknown): boolean => {
    const i = memo.get(key);
    if (i === undefined) return false;
    if (i < 256) out.op(0x68, i); // BINGET
    else { out.op(0x6a); out.u32(i); } // LONG_BINGET
    return true;
  };
  const int = (v: bigint): void => {
    if (v >= 0n && v < 256n) out.op(0x4b, Number(v));
    else if (v >= 0n && v < 65536n) { out.op(0x4d); out.u16(Number(v)); }
    else if (v >= -(2n ** 31n) && v < 2n ** 31n) { out.op(0x4a); out.i32(Number(v)); }
    else {
      const b = encodeLong(v);
      if (b.length < 256) out.op(0x8a, b.length); // LONG1
      else { out.op(0x8b); out.u32(b.length); } // LONG4
      out.raw(b);
    }
  };
  const float = (v: number): void => { out.op(0x47); out.f64be(v); };
  const str = (s: string): void => {
    if (get(s)) return;
    const b = encoder.encode(s);
    out.op(0x58); // BINUNICODE
    out.u32(b.length);
    out.raw(b);
    put(s);
  };
  const global = (qualified: string): void => {
    const key = `\0global:${qualified}`;
    if (get(key)) return;
    const dot = qualified.lastIndexOf('.');
    if (dot <= 0) throw new TypeError(`Expected a qualified 'module.name' global but received '${qualified}'`);
    const py3 = qualified.slice(0, dot);
    const module = py3 === 'builtins' ? '__builtin__' : py3 === 'copyreg' ? 'copy_reg' : py3;
    out.op(0x63);
    out.raw(encoder.encode(`${module}\n${qualified.slice(dot + 1)}\n`));
    put(key);
  };
  const child = (v: unknown, depth: number, container: object | undefined, key: unknown): void => {
    path.push(String(key));
    save(v, depth + 1, container, key);
    path.pop();
  };
  const tupleOf = (items: readonly unknown[], depth: number): void => {
    if (items.length === 0) { out.op(0x29); return; }
    if (get(items)) return;
    if (items.length > 3) out.op(0x28);
    items.forEach((v, i) => child(v, depth, items, i));
    out.op(items.length > 3 ? 0x74 : 0x84 + items.length); // TUPLE or TUPLE1..3
    put(items);
  };
  const setItems = (entries: Iterable<[unknown, unknown]>, container: object, depth: number): void => {
    let batch: [unknown, unknown][] = [];
    const flush = (): void => {
      if (batch.length > 1) out.op(0x28);
      for (const [k, v] of batch) { save(k, depth + 1); child(v, depth, container, k); }
      if (batch.length) out.op(batch.length > 1 ? 0x75 : 0x73); // SETITEMS or SETITEM
      batch = [];
    };
    for (const e of entries) { batch.push(e); if (batch.length === BATCH) flush(); }
    flush();
  };
  const appends = (items: readonly unknown[], depth: number): void => {
    for (let s = 0; s < items.length; s += BATCH) {
      const n = Math.min(BATCH, items.length - s);
      if (n > 1) out.op(0x28);
      for (let i = s; i < s + n; i++) child(items[i], depth, items, i);
      out.op(n > 1 ? 0x65 : 0x61); // APPENDS or APPEND
    }
  };
  const reduce = (func: string, args: readonly unknown[], depth: number, memoKey: object, newobj = false): void => {
    global(func);
    tupleOf(Object.isFrozen(args) ? args : Object.freeze([...args]), depth);
    out.op(newobj ? 0x81 : 0x52); // NEWOBJ or REDUCE
    put(memoKey);
  };

  function save(v: unknown, depth: number, container?: object, key?: unknown): void {
    if (depth > MAX_DEPTH) throw new RangeError(`cannot pickle: value nested deeper than ${MAX_DEPTH} levels at ${path.join('/')} (a cycle through a tuple?)`);
    if (v === null || v === undefined) { out.op(0x4e); return; }
    switch (typeof v) {
      case 'boolean': out.op(v ? 0x88 : 0x89); return;
      case 'bigint': int(v); return;
      case 'string': str(v); return;
      case 'number':
        if (Number.isInteger(v) && !Object.is(v, -0) && !(container && pyFloatKeys.get(container)?.has(key))) int(BigInt(v));
        else float(v);
        return;
      case 'object': break;
      default: throw new TypeError(`cannot pickle a ${typeof v} at ${path.join('/') || '<root>'}`);
    }
    const obj = v as object;
    const pid = hooks.persistentId?.(obj);
    if (pid !== undefined) { save(pid, depth + 1); out.op(0x51); return; }
    if (obj instanceof PyFloat) { float(obj.value); return; }
    if (get(obj)) return;
    if (isPyObject(obj)) { savePyObject(obj, depth); return; }
    if (obj instanceof OrderedDict || (obj instanceof Map && !(obj instanceof PyDict) && hooks.orderedDict?.(obj))) {
      reduce('collections.OrderedDict', [], depth, obj);
      setItems(obj.entries(), obj, depth);
      const attrs = obj instanceof OrderedDict ? obj.attrs : null;
      if (attrs && attrs.size) { child(attrs, depth, undefined, '__dict__'); out.op(0x62); }
      return;
    }
    if (obj instanceof Map) { out.op(0x7d); put(obj); setItems(obj.entries(), obj, depth); return; }
    if (Array.isArray(obj)) {
      if (isTuple(obj)) { tupleOf(obj, depth); return; }
      out.op(0x5d);
      put(obj);
      appends(obj, depth);
      return;
    }
    if (obj instanceof Set) { reduce('builtins.set', [[...obj]], depth, obj); return; }
    if (obj instanceof Uint8Array) {
      // Protocol 2 has no bytes opcode: CPython writes _codecs.encode(latin-1 text, 'latin1').
      if (obj.length === 0) reduce('builtins.bytes', [], depth, obj);
      else reduce('_codecs.encode', [Buffer.from(obj.buffer, obj.byteOffset, obj.length).toString('latin1'), 'latin1'], depth, obj);
      return;
    }
    const custom = hooks.reduce?.(obj);
    if (custom) { reduce(custom.func, custom.args, depth, obj); return; }
    if (isPlainObject(obj)) { out.op(0x7d); put(obj); setItems(Object.entries(obj), obj, depth); return; }
    throw new TypeError(`cannot pickle a ${describe(obj)} at ${path.join('/') || '<root>'} (supported: Tensor, Map, plain objects, arrays, Set, Uint8Array, numbers, strings, booleans, null, bigint, PyObject)`);
  }

  function savePyObject(o: PyObject, depth: number): void {
    if (o[PY_KIND] === 'global' || o.args === null) {
      global(o.__class__);
      memo.set(o, memo.get(`\0global:${o.__class__}`)!);
      return;
    }
    reduce(o.__class__, o.args, depth, o, o[PY_KIND] === 'newobj');
    if (o.state !== null && o.state !== undefined) { child(o.state, depth, undefined, '__state__'); out.op(0x62); }
  }

  out.op(0x80, 2); // PROTO 2
  save(value, 0);
  out.op(0x2e); // STOP
  return out.buf.slice(0, out.length);
}
