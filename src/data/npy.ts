// NumPy's .npy and .npz files (numpy/lib/format.py, NEP 1): read into tensors, write from tensors.
//
// An .npy file is the magic "\x93NUMPY", a major and minor version byte, the header length (uint16 LE for 1.0,
// uint32 LE for 2.0 and 3.0), then the header, a Python dict literal such as
// `{'descr': '<f4', 'fortran_order': False, 'shape': (1, 256, 64, 64), }` padded with spaces and a final '\n' so the
// data starts on a 64-byte boundary (latin-1 text in 1.0/2.0, UTF-8 in 3.0), then the raw elements.
// Supported element types: <f4 <f8 <f2 <i8 <i4 <i2 |i1 |u1 |b1 (little-endian, or byte order irrelevant); big-endian
// data, unsigned types wider than a byte, complex, object and structured dtypes are rejected with a clear error.
// Fortran-order files are read into the same logical array (row-major tensor); files are always written C-order.
// An .npz is a zip of .npy members (stored or deflated); readNpz names each array after its member without ".npy".
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { type DType, type Tensor, tensor, tidy } from '../engine/index.ts';
import { ZipReader, writeFileAtomic } from '../engine/serialization/index.ts';
import { DataError, reason } from './errors.ts';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
const ALIGN = 64;
/** numpy leaves room after the header so the growing axis can be rewritten in place (format.py). */
const GROWTH_AXIS_MAX_DIGITS = 21;

/** numpy descr (without byte order) → engine dtype, and the element size. */
const BY_KIND: Record<string, { dtype: DType; size: number }> = {
  f4: { dtype: 'float32', size: 4 },
  f8: { dtype: 'float64', size: 8 },
  f2: { dtype: 'float16', size: 2 },
  i8: { dtype: 'int64', size: 8 },
  i4: { dtype: 'int32', size: 4 },
  i2: { dtype: 'int16', size: 2 },
  i1: { dtype: 'int8', size: 1 },
  u1: { dtype: 'uint8', size: 1 },
  b1: { dtype: 'bool', size: 1 },
};

/** engine dtype → numpy descr as np.save writes it. bfloat16 has no numpy type. */
const DESCR: Partial<Record<DType, string>> = {
  float32: '<f4', float64: '<f8', float16: '<f2', int64: '<i8', int32: '<i4', int16: '<i2', int8: '|i1', uint8: '|u1', bool: '|b1',
};

/** The parsed header of one .npy file. */
export interface NpyHeader {
  /** [major, minor]: [1, 0], [2, 0] or [3, 0]. */
  version: [number, number];
  /** numpy's type string as stored, e.g. '<f4'. */
  descr: string;
  dtype: DType;
  /** Bytes per element. */
  itemSize: number;
  shape: number[];
  fortranOrder: boolean;
  /** Byte offset of the first element. */
  dataOffset: number;
}

// ---- the header's Python literal ----

type PyLit = string | number | boolean | null | PyLit[] | Map<string, PyLit>;

/** Parses the subset of Python literals numpy headers use: dict, tuple, list, str, int, True/False/None. */
function parsePyLiteral(text: string): PyLit {
  let i = 0;
  const fail = (what: string): never => { throw new Error(`${what} at character ${i} of the header ${JSON.stringify(text.slice(0, 200))}`); };
  const ws = (): void => { while (i < text.length && /\s/.test(text[i]!)) i++; };
  const value = (): PyLit => {
    ws();
    const ch = text[i];
    if (ch === '{') return dict();
    if (ch === '(' || ch === '[') return seq(ch === '(' ? ')' : ']');
    if (ch === "'" || ch === '"') return str();
    const m = /^(-?\d+|True|False|None)/.exec(text.slice(i));
    if (!m) return fail('unexpected text');
    i += m[0].length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    const n = Number(m[0]);
    if (!Number.isSafeInteger(n)) fail(`integer ${m[0]} is too large`);
    // numpy 1.x on some platforms writes 3L: skip a long suffix.
    if (text[i] === 'L') i++;
    return n;
  };
  const str = (): string => {
    const q = text[i++];
    let out = '';
    while (i < text.length && text[i] !== q) {
      if (text[i] === '\\') { out += text[i + 1] ?? ''; i += 2; } else out += text[i++];
    }
    if (text[i] !== q) fail('unterminated string');
    i++;
    return out;
  };
  const seq = (close: string): PyLit[] => {
    i++;
    const out: PyLit[] = [];
    for (;;) {
      ws();
      if (text[i] === close) { i++; return out; }
      out.push(value());
      ws();
      if (text[i] === ',') i++;
      else if (text[i] !== close) fail(`expected ',' or '${close}'`);
    }
  };
  const dict = (): Map<string, PyLit> => {
    i++;
    const out = new Map<string, PyLit>();
    for (;;) {
      ws();
      if (text[i] === '}') { i++; return out; }
      const k = value();
      if (typeof k !== 'string') fail('expected a string key');
      ws();
      if (text[i] !== ':') fail("expected ':'");
      i++;
      out.set(k as string, value());
      ws();
      if (text[i] === ',') i++;
      else if (text[i] !== '}') fail("expected ',' or '}'");
    }
  };
  const v = value();
  ws();
  if (i !== text.length) fail('trailing text');
  return v;
}

function dtypeOfDescr(descr: PyLit, label: string): { dtype: DType; size: number } {
  if (typeof descr !== 'string') {
    throw new DataError('UNSUPPORTED', `cannot read ${label}: structured (record) arrays are not supported, only plain numeric and bool arrays`, label);
  }
  const m = /^([<>|=]?)([a-zA-Z])(\d*)$/.exec(descr);
  const kind = m ? `${m[2]}${m[3]}` : descr;
  const known = BY_KIND[kind];
  if (!m || !known) {
    throw new DataError('UNSUPPORTED', `cannot read ${label}: numpy dtype '${descr}' is not supported (supported: ${Object.keys(BY_KIND).join(', ')}, little-endian)`, label);
  }
  if (m[1] === '>' && known.size > 1) {
    throw new DataError('UNSUPPORTED', `cannot read ${label}: big-endian data ('${descr}') is not supported; save it little-endian (arr.astype(arr.dtype.newbyteorder('<')))`, label);
  }
  return known;
}

/** Parses and checks an .npy header; `label` names the file in errors. */
export function parseNpyHeader(bytes: Uint8Array, label = 'npy data'): NpyHeader {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new DataError('UNREADABLE', `cannot read ${label}: not a NumPy .npy file (it does not start with \\x93NUMPY)`, label);
  }
  if (buf.length < 10) throw new DataError('UNREADABLE', `cannot read ${label}: truncated .npy file (${buf.length} bytes, the header is incomplete)`, label);
  const major = buf[6]!, minor = buf[7]!;
  if (major < 1 || major > 3 || minor !== 0) {
    throw new DataError('UNSUPPORTED', `cannot read ${label}: .npy format version ${major}.${minor} is not supported (1.0, 2.0 and 3.0 are)`, label);
  }
  const lenBytes = major === 1 ? 2 : 4;
  if (buf.length < 8 + lenBytes) throw new DataError('UNREADABLE', `cannot read ${label}: truncated .npy file (the header length is incomplete)`, label);
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const dataOffset = 8 + lenBytes + headerLen;
  if (buf.length < dataOffset) {
    throw new DataError('UNREADABLE', `cannot read ${label}: truncated .npy file (the header says ${headerLen} bytes but the file ends after ${buf.length - 8 - lenBytes})`, label);
  }
  const text = buf.toString(major === 3 ? 'utf8' : 'latin1', 8 + lenBytes, dataOffset);
  let lit: PyLit;
  try {
    lit = parsePyLiteral(text.trim());
  } catch (err) {
    throw new DataError('UNREADABLE', `cannot read ${label}: the .npy header is not a valid dict literal: ${reason(err)}`, label);
  }
  if (!(lit instanceof Map) || !lit.has('descr') || !lit.has('fortran_order') || !lit.has('shape')) {
    throw new DataError('UNREADABLE', `cannot read ${label}: the .npy header must be a dict with 'descr', 'fortran_order' and 'shape' (got ${text.trim().slice(0, 120)})`, label);
  }
  const shape = lit.get('shape');
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw new DataError('UNREADABLE', `cannot read ${label}: the .npy header's shape is not a tuple of non-negative integers`, label);
  }
  const fortran = lit.get('fortran_order');
  if (typeof fortran !== 'boolean') throw new DataError('UNREADABLE', `cannot read ${label}: the .npy header's fortran_order is not True or False`, label);
  const descr = lit.get('descr')!;
  const { dtype, size } = dtypeOfDescr(descr, label);
  return { version: [major, minor], descr: descr as string, dtype, itemSize: size, shape: shape as number[], fortranOrder: fortran, dataOffset };
}

// ---- reading ----

/**
 * An .npy file (a path, or its bytes) as a tensor of the stored dtype and shape (0-d and empty arrays included).
 * Fortran-order data is returned in the same logical layout (a row-major copy). Throws a DataError for a file that
 * is not .npy, is truncated, or uses an unsupported dtype (big-endian, unsigned > 8 bits, complex, structured).
 */
export function readNpy(source: string | Uint8Array, opts: { label?: string } = {}): Tensor {
  const label = opts.label ?? (typeof source === 'string' ? source : 'npy data');
  const bytes = typeof source === 'string' ? readBytes(source, 'npy file') : source;
  const h = parseNpyHeader(bytes, label);
  const need = h.shape.reduce((a, b) => a * b, 1) * h.itemSize;
  if (bytes.byteLength - h.dataOffset < need) {
    throw new DataError('UNREADABLE', `cannot read ${label}: truncated .npy file (shape [${h.shape.join(', ')}] of ${h.descr} needs ${need} data bytes but only ${bytes.byteLength - h.dataOffset} follow the header)`, label);
  }
  // Copy into a fresh, aligned buffer (the data offset need not be a multiple of the element size).
  const raw = new Uint8Array(need);
  raw.set(bytes.subarray(h.dataOffset, h.dataOffset + need));
  const values = typedView(h.dtype, raw.buffer);
  // Fortran order: the bytes are the transpose laid out row-major; reverse the dims back.
  const fileShape = h.fortranOrder ? [...h.shape].reverse() : h.shape;
  const opt = h.dtype === 'float16' || h.dtype === 'bool' ? { dtype: h.dtype } : {};
  if (!h.fortranOrder || h.shape.length < 2) return tensor(values, fileShape, opt);
  return tidy(() => tensor(values, fileShape, opt).permute(...fileShape.map((_, i) => fileShape.length - 1 - i)).contiguous());
}

function typedView(dtype: DType, buf: ArrayBuffer): ArrayBufferView {
  switch (dtype) {
    case 'float32': return new Float32Array(buf);
    case 'float64': return new Float64Array(buf);
    case 'float16': return new Uint16Array(buf);
    case 'int64': return new BigInt64Array(buf);
    case 'int32': return new Int32Array(buf);
    case 'int16': return new Int16Array(buf);
    case 'int8': return new Int8Array(buf);
    default: return new Uint8Array(buf); // uint8, bool
  }
}

function readBytes(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError('NOT_FOUND', `${what} not found: ${path}`, path);
    if (code === 'EISDIR') throw new DataError('UNREADABLE', `${what} path is a directory, not a file: ${path}`, path);
    throw new DataError('UNREADABLE', `cannot read ${what} ${path}: ${reason(err)}`, path);
  }
}

/**
 * The arrays of an .npz archive (np.savez / np.savez_compressed), by name (the member name without ".npy"), in
 * archive order. Members that are not .npy files are skipped.
 */
export function readNpz(path: string): Map<string, Tensor> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError('NOT_FOUND', `npz file not found: ${path}`, path);
    throw new DataError('UNREADABLE', `cannot read npz file ${path}: ${reason(err)}`, path);
  }
  const out = new Map<string, Tensor>();
  try {
    const zip = ZipReader.fromFd(fd, path);
    for (const entry of zip.entries) {
      if (!entry.name.endsWith('.npy')) continue;
      const name = entry.name.slice(0, -4);
      out.set(name, readNpy(zip.read(entry), { label: `${path}[${name}]` }));
    }
  } catch (err) {
    for (const t of out.values()) t.dispose();
    if (err instanceof DataError) throw err;
    throw new DataError('UNREADABLE', `cannot read npz file ${path}: ${reason(err)}`, path);
  } finally {
    closeSync(fd);
  }
  return out;
}

// ---- writing ----

const pyShape = (shape: number[]): string => (shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`);

/** The header block (magic, version, length, padded dict) numpy's np.save writes for this dtype and shape. */
export function npyHeader(descr: string, shape: number[]): Buffer {
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${pyShape(shape)}, }`;
  // Spare room for growing the first axis in place, as numpy >= 1.24 writes.
  if (shape.length > 0) dict += ' '.repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length));
  for (const [major, lenBytes] of [[1, 2], [2, 4]] as const) {
    const unpadded = MAGIC.length + 2 + lenBytes + dict.length + 1;
    const total = Math.ceil(unpadded / ALIGN) * ALIGN;
    const headerLen = total - MAGIC.length - 2 - lenBytes;
    if (major === 1 && headerLen > 0xffff) continue;
    const out = Buffer.alloc(total, 0x20);
    MAGIC.copy(out, 0);
    out[6] = major;
    out[7] = 0;
    if (major === 1) out.writeUInt16LE(headerLen, 8);
    else out.writeUInt32LE(headerLen, 8);
    out.write(dict, 8 + lenBytes, 'latin1');
    out[total - 1] = 0x0a;
    return out;
  }
  throw new RangeError('unreachable: a version 2.0 header always fits');
}

/** A tensor as the bytes of an .npy file (C order; version 1.0, or 2.0 when the header exceeds 64 KiB). */
export function encodeNpy(t: Tensor): Buffer {
  const descr = DESCR[t.dtype];
  if (!descr) {
    throw new DataError('UNSUPPORTED', `cannot write a ${t.dtype} tensor as .npy: NumPy has no ${t.dtype} type (convert it first, e.g. t.float())`);
  }
  const data = t.data(); // row-major elements, whatever the tensor's strides
  return Buffer.concat([npyHeader(descr, t.shape), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/**
 * Writes a tensor as an .npy file that np.load reads with the same dtype, shape and values. The parent folder is
 * created; the file is replaced atomically (a crash leaves the old file or the complete new one).
 */
export function writeNpy(path: string, t: Tensor): void {
  const bytes = encodeNpy(t);
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileAtomic(path, (fd) => {
      for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done);
    });
  } catch (err) {
    throw new Error(`cannot write npy file ${path}: ${reason(err)}`);
  }
}
