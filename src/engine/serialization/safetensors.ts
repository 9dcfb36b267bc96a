// safetensors files (Hugging Face): an 8-byte little-endian unsigned header length N, N bytes of UTF-8 JSON, then
// the raw little-endian tensor bytes. The JSON maps each tensor name to
// `{"dtype": "F32", "shape": [4, 3], "data_offsets": [begin, end]}` with [begin, end) relative to the first byte
// after the header, plus an optional `"__metadata__": {string: string}`. The header is padded with spaces so the
// data starts on an 8-byte boundary. Tensors are contiguous, row-major, never share memory, and together cover
// the data section exactly (no gaps, no overlaps), which the reader checks as the reference implementation does.
//
// Dtypes: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL (others, e.g. F8_E4M3 or U16, are rejected with their name).
// Order: loadSafetensors returns tensors in file (data offset) order; saveSafetensors writes them in the order
// given. Tensors sharing storage are written as separate copies (the format has no views).
import { closeSync, writeSync } from 'node:fs';
import { Tensor } from '../tensor.ts';
import { native } from '../native.ts';
import { type DType, dtypeCode, ELEMENT_SIZE } from '../dtype.ts';
import { openForReading, readAt, writeFileAtomic } from './zip.ts';

export const SAFETENSORS_DTYPES: Readonly<Record<string, DType>> = Object.freeze({
  F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16',
  I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
});
const CODE_OF = Object.fromEntries(Object.entries(SAFETENSORS_DTYPES).map(([k, v]) => [v, k])) as Record<DType, string>;

/** The reference implementation's limit on the JSON header. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

interface HeaderEntry { name: string; dtype: DType; shape: number[]; begin: number; end: number }

/** Whether the first bytes of a file of `size` bytes look like a safetensors header (length, then `{`). */
export function isSafetensorsHead(head: Uint8Array, size: number): boolean {
  if (head.length < 9 || head[8] !== 0x7b) return false;
  const n = new DataView(head.buffer, head.byteOffset, head.byteLength).getBigUint64(0, true);
  return n >= 2n && n <= BigInt(Math.min(MAX_HEADER_BYTES, size - 8));
}

/** Parses and validates the header of an open safetensors file. */
function readHeader(fd: number, size: number, label: string): { entries: HeaderEntry[]; metadata: Record<string, string>; dataStart: number } {
  const bad = (msg: string): never => { throw new Error(`invalid safetensors file: ${msg}: ${label}`); };
  if (size < 8) bad(`it has ${size} bytes, fewer than the 8-byte header length`);
  const n = readAt(fd, 0, 8, 'the header length').readBigUInt64LE(0);
  if (n > BigInt(MAX_HEADER_BYTES)) bad(`the header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (n + 8n > BigInt(size)) bad(`the header length says ${n} bytes but only ${size - 8} follow it (truncated file?)`);
  const dataStart = 8 + Number(n);
  const dataLength = size - dataStart;
  let header: unknown;
  try {
    header = JSON.parse(readAt(fd, 8, Number(n), 'the JSON header').toString('utf8'));
  } catch (err) {
    bad(`the header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) bad('the header is not a JSON object');
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof info !== 'object' || info === null || Array.isArray(info)) bad('__metadata__ is not an object');
      for (const [k, v] of Object.entries(info as object)) {
        if (typeof v !== 'string') bad(`__metadata__.${k} is a ${typeof v}, but metadata values must be strings`);
        metadata[k] = v as string;
      }
      continue;
    }
    const e = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) bad(`tensor ${name} has no dtype/shape/data_offsets object`);
    const dtype = SAFETENSORS_DTYPES[String(e.dtype)];
    if (!dtype) bad(`tensor ${name} has unsupported dtype ${JSON.stringify(e.dtype)} (supported: ${Object.keys(SAFETENSORS_DTYPES).join(', ')})`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) bad(`tensor ${name} has an invalid shape ${JSON.stringify(shape)}`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]) {
      bad(`tensor ${name} has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    if (end > dataLength) bad(`tensor ${name}'s data_offsets [${begin}, ${end}] lie outside the ${dataLength}-byte data section`);
    const need = (shape as number[]).reduce((a, b) => a * b, 1) * ELEMENT_SIZE[dtype!];
    if (end - begin !== need) {
      bad(`tensor ${name}'s data_offsets span ${end - begin} bytes but dtype ${String(e.dtype)} and shape [${shape}] need ${need}`);
    }
    entries.push({ name, dtype: dtype!, shape: shape as number[], begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of entries) {
    if (e.begin !== cursor) {
      bad(e.begin < cursor ? `tensor ${e.name} overlaps the previous tensor (starts at ${e.begin}, before ${cursor})` : `the data section has a gap of ${e.begin - cursor} bytes before tensor ${e.name}`);
    }
    cursor = e.end;
  }
  if (cursor !== dataLength) bad(`the data section has ${dataLength - cursor} bytes after the last tensor`);
  return { entries, metadata, dataStart };
}

/** Reads every tensor of a safetensors file (new handles owned by the caller) and its string metadata. */
export function loadSafetensors(path: string): SafetensorsFile {
  const { fd, size } = openForReading(path, 'safetensors file');
  const tensors = new Map<string, Tensor>();
  try {
    const { entries, metadata, dataStart } = readHeader(fd, size, path);
    for (const e of entries) {
      const bytes = readAt(fd, dataStart + e.begin, e.end - e.begin, `tensor ${e.name}`);
      tensors.set(e.name, Tensor.fromNative(native.fromBytes(bytes, dtypeCode(e.dtype), e.shape)));
    }
    return { tensors, metadata };
  } catch (err) {
    for (const t of tensors.values()) t.dispose();
    throw err;
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes tensors (a Map or a record, in its order) and optional string metadata as a safetensors file, atomically.
 */
export function saveSafetensors(path: string, tensors: Map<string, Tensor> | Record<string, Tensor>, metadata?: Record<string, string>): void {
  const list = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const parts: string[] = [];
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new TypeError(`Expected string for metadata.${k} but received ${String(v)} of type ${typeof v}`);
    }
    parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const [name, t] of list) {
    if (!(t instanceof Tensor)) throw new TypeError(`Expected Tensor for tensors[${JSON.stringify(name)}] but received ${String(t)} of type ${typeof t}`);
    if (name === '__metadata__') throw new TypeError('the tensor name __metadata__ is reserved by the safetensors format');
    const bytes = t.numel * ELEMENT_SIZE[t.dtype];
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype: CODE_OF[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes] })}`);
    offset += bytes;
  }
  let json = `{${parts.join(',')}}`;
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const header = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(header.length));
  writeFileAtomic(path, (fd) => {
    const write = (b: Uint8Array): void => { for (let done = 0; done < b.length;) done += writeSync(fd, b, done, b.length - done); };
    write(prefix);
    write(header);
    for (const [, t] of list) write(new Uint8Array(t.data().buffer));
  });
}
