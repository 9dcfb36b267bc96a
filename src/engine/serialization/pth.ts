// torch.save / torch.load checkpoints (`.pth`, `.pt`, `.ckpt`): the zip format of PyTorch ≥ 1.6.
//
// Layout: a zip archive (stored) whose entries share one top folder (`archive/`, or the file stem as torch 1.13
// writes it): `data.pkl` (the pickled object), `data/<key>` (the raw little-endian bytes of each storage),
// `version` ("3\n") and, from torch 2.1 on, `byteorder` ("little"). In data.pkl a tensor is
// `torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks)`, a
// Parameter wraps one with `torch._utils._rebuild_parameter(tensor, requires_grad, hooks)`, and each storage is
// the persistent id `('storage', torch.<Type>Storage, key, location, numel)`. Views share a storage key.
//
// Reading (like `torch.load(path, map_location='cpu')`): each storage is read once, lazily, into a flat tensor;
// every tensor on it is an as_strided view of that storage (same offset and strides, so `sharesStorageWith`
// holds, and tied weights stay tied). Other Python values follow the convention in pickle.ts (dicts are Maps,
// state dicts OrderedDicts, tuples frozen arrays, unknown objects opaque PyObjects). Device locations are ignored.
//
// Writing (`saveCheckpoint`): what `torch.save(obj, path)` of torch 1.13 writes, plus `byteorder`: protocol-2
// data.pkl, storages `data/0, data/1, ...` (numbered in pickling order, written in sorted-name order) aligned to
// 64 bytes, then `version`. Tensors sharing a storage are written once; the storage written is the span their
// views reach (offset 0 up to the furthest element). The file is written atomically (temp file, fsync, rename).
import { closeSync } from 'node:fs';
import { basename } from 'node:path';
import { Tensor } from '../tensor.ts';
import { native } from '../native.ts';
import { type DType, dtypeCode, ELEMENT_SIZE } from '../dtype.ts';
import { ZipReader, ZipWriter, openForReading, readAt, writeFileAtomic } from './zip.ts';
import { OrderedDict, UNHANDLED, isPyObject, pyObject, tuple, unpickle } from './pickle.ts';
import { pickle } from './pickleWriter.ts';
import { isSafetensorsHead } from './safetensors.ts';

/** torch.<Name>Storage class → dtype (UntypedStorage holds bytes). */
export const STORAGE_DTYPES: Readonly<Record<string, DType>> = Object.freeze({
  FloatStorage: 'float32', DoubleStorage: 'float64', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8',
  BoolStorage: 'bool', UntypedStorage: 'uint8',
});
const STORAGE_OF = Object.fromEntries(Object.entries(STORAGE_DTYPES).filter(([k]) => k !== 'UntypedStorage').map(([k, v]) => [v, k])) as Record<DType, string>;

/** A storage named by a persistent id; its bytes are read when the first tensor on it is rebuilt. */
export class StorageRef {
  constructor(readonly dtype: DType, readonly key: string, readonly location: string, readonly numel: number) {}
}

const LEGACY_MAGIC = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]; // 0x1950a86a20f9469cfc6c
const LEGACY_MESSAGE = 'legacy (pre-1.6, non-zip) PyTorch checkpoint format is not supported; re-save it with torch.save in a current PyTorch';
const SIGNATURES: [string, number[]][] = [
  ['PNG', [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]], ['HDF5', [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]],
  ['NumPy .npy', [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]], ['GIF', [0x47, 0x49, 0x46, 0x38]], ['JPEG', [0xff, 0xd8, 0xff]],
  ['gzip', [0x1f, 0x8b]],
];
const hexBytes = (b: ArrayLike<number>): string => Array.from(b, (x) => x.toString(16).toUpperCase().padStart(2, '0')).join(' ');

/**
 * What a file holds, judged from its first bytes: 'zip' (torch.save) or 'safetensors'; anything else throws a
 * one-line error saying what the file looks like (legacy torch format, PNG, gzip, a Git LFS pointer, ...).
 */
export function detectFormat(fd: number, size: number, label: string): 'zip' | 'safetensors' {
  if (size === 0) throw new Error(`not a PyTorch checkpoint: the file is empty: ${label}`);
  const head = readAt(fd, 0, Math.min(size, 512), 'the file header');
  const starts = (sig: number[]): boolean => sig.every((b, i) => head[i] === b);
  if (starts([0x50, 0x4b, 0x03, 0x04]) || starts([0x50, 0x4b, 0x05, 0x06])) return 'zip';
  if (isSafetensorsHead(head, size)) return 'safetensors';
  const not = 'not a PyTorch checkpoint: the file starts with';
  const neither = 'neither a zip local-file header (50 4B 03 04) nor a legacy pickle';
  if (head[0] === 0x80) {
    if (head[2] === 0x8a && head[3] === 0x0a && LEGACY_MAGIC.every((b, i) => head[4 + i] === b)) throw new Error(`${LEGACY_MESSAGE}: ${label}`);
    throw new Error(`not a PyTorch checkpoint: the file is a bare Python pickle (protocol ${head[1]}), not a torch.save zip archive: ${label}`);
  }
  for (const [name, sig] of SIGNATURES) {
    if (starts(sig)) throw new Error(`${not} the ${name} signature ${hexBytes(sig)}, ${neither}: ${label}`);
  }
  const text = head.toString('latin1', 0, Math.min(head.length, 64));
  if (text.startsWith('version https://git-lfs')) {
    throw new Error(`not a PyTorch checkpoint: the file is a Git LFS pointer, not the checkpoint itself (run git lfs pull): ${label}`);
  }
  if (head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar') {
    throw new Error(`not a PyTorch checkpoint: the file is a tar archive (the pre-1.0 torch.save tar format is not supported): ${label}`);
  }
  throw new Error(`${not} bytes ${hexBytes(head.subarray(0, 8))}, ${neither}: ${label}`);
}

export interface LoadOptions {
  /** Check each zip entry's CRC-32 (default true; about 1 s per GB). */
  verifyCrc?: boolean;
}

const describe = (v: unknown): string =>
  isPyObject(v) ? v.__class__ : v === null ? 'None' : typeof v === 'object' ? v.constructor.name : typeof v;
function intList(v: unknown, what: string, cls: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x) && x >= 0)) {
    throw new Error(`${cls}: expected a tuple of non-negative ints for ${what} but received ${describe(v)}`);
  }
  return v as number[];
}

/** Extent of a strided view in its storage: one past the furthest element it reaches (its offset if empty). */
function extentOf(shape: number[], stride: number[], offset: number): number {
  if (shape.some((s) => s === 0)) return offset;
  return shape.reduce((acc, s, i) => acc + (s - 1) * stride[i]!, offset) + 1;
}

/**
 * Reads a torch.save checkpoint as torch.load(path, map_location='cpu') would, returning the nested value
 * (see pickle.ts for how Python values map to JS). Tensors are new handles owned by the caller (they join the
 * current tidy scope, if any).
 */
export function loadCheckpoint(path: string, opts: LoadOptions = {}): unknown {
  const { fd, size } = openForReading(path);
  const flats = new Map<string, Tensor>();
  const created: Tensor[] = [];
  try {
    if (detectFormat(fd, size, path) === 'safetensors') {
      throw new Error(`not a torch.save checkpoint: ${path} is a safetensors file; use loadSafetensors or loadStateDict`);
    }
    const zip = ZipReader.fromFd(fd, path);
    const pkl = zip.entries.find((e) => /^([^/]+\/)?data\.pkl$/.test(e.name));
    if (!pkl) {
      const names = zip.entries.slice(0, 5).map((e) => e.name).join(', ');
      throw new Error(`not a torch.save checkpoint: the zip archive has no <folder>/data.pkl entry (entries: ${names || 'none'}): ${path}`);
    }
    const prefix = pkl.name.slice(0, -'data.pkl'.length);
    const order = zip.get(`${prefix}byteorder`);
    if (order && zip.read(order, opts).toString('latin1').trim() !== 'little') {
      throw new Error(`big-endian checkpoints are not supported (the byteorder record says "${zip.read(order).toString('latin1')}"): ${path}`);
    }
    const loadStorage = (ref: StorageRef): Tensor => {
      let flat = flats.get(ref.key);
      if (flat) return flat;
      const name = `${prefix}data/${ref.key}`;
      const entry = zip.get(name);
      if (!entry) throw new Error(`storage ${name} is missing from the archive: ${path}`);
      const need = ref.numel * ELEMENT_SIZE[ref.dtype];
      if (entry.size < need) {
        throw new Error(`storage ${name} holds ${entry.size} bytes but ${ref.numel} ${ref.dtype} elements need ${need}: ${path}`);
      }
      const bytes = zip.read(entry, opts);
      flat = Tensor.fromNative(native.fromBytes(bytes.subarray(0, need), dtypeCode(ref.dtype), [ref.numel]));
      flats.set(ref.key, flat);
      return flat;
    };
    const rebuild = (cls: string, args: unknown[]): Tensor => {
      const [storage, offset, size, stride, requiresGrad] = args;
      if (!(storage instanceof StorageRef)) throw new Error(`${cls}: expected a storage but received ${describe(storage)}: ${path}`);
      const shape = intList(size, 'size', cls);
      const strides = intList(stride, 'stride', cls);
      const off = Number(offset);
      if (shape.length !== strides.length || !Number.isInteger(off) || off < 0) {
        throw new Error(`${cls}: malformed tensor (size [${shape}], stride [${strides}], offset ${String(offset)}): ${path}`);
      }
      const extent = extentOf(shape, strides, off);
      if (extent > storage.numel && shape.every((s) => s > 0)) {
        throw new Error(`tensor of size [${shape}], stride [${strides}], offset ${off} reaches element ${extent - 1} of storage data/${storage.key}, which has ${storage.numel}: ${path}`);
      }
      const t = loadStorage(storage).asStrided(shape, strides, off);
      created.push(t);
      if (requiresGrad === true) t.requiresGrad = true;
      return t;
    };
    const call = (cls: string, args: unknown[]): unknown => {
      switch (cls) {
        case 'torch._utils._rebuild_tensor_v2':
        case 'torch._utils._rebuild_tensor':
          return rebuild(cls, args);
        case 'torch._utils._rebuild_parameter':
        case 'torch._utils._rebuild_parameter_with_state': {
          const t = args[0];
          if (!(t instanceof Tensor)) throw new Error(`${cls}: expected a tensor but received ${describe(t)}: ${path}`);
          if (args[1] === true) t.requiresGrad = true;
          return t;
        }
        case 'torch._tensor._rebuild_from_type_v2':
        case 'torch._tensor._rebuild_from_type': // (func, subclass, args, state): rebuild the plain tensor
          return isPyObject(args[0]) && Array.isArray(args[2]) ? call(args[0].__class__, args[2] as unknown[]) : UNHANDLED;
        case 'torch.Size':
          return tuple([...((args[0] ?? []) as unknown[])]);
        default:
          return UNHANDLED;
      }
    };
    const persistentLoad = (pid: unknown): unknown => {
      if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) return pyObject('persistent_id', [pid]);
      const [, type, key, location, numel] = pid as unknown[];
      const cls = isPyObject(type) ? type.__class__ : String(type);
      const dtype = STORAGE_DTYPES[cls.replace(/^torch\.(storage\.)?/, '')];
      if (!dtype) {
        const known = Object.keys(STORAGE_DTYPES).join(', ');
        throw new Error(`unsupported storage type ${cls} for storage data/${String(key)} (supported: ${known}): ${path}`);
      }
      return new StorageRef(dtype, String(key), String(location), Number(numel));
    };
    return unpickle(zip.read(pkl, opts), { label: `${pkl.name} in ${path}`, persistentLoad, call });
  } catch (err) {
    for (const t of created) t.dispose();
    throw err;
  } finally {
    for (const t of flats.values()) t.dispose();
    closeSync(fd);
  }
}

export interface SaveOptions {
  /** The archive's top folder (default: the file name without its extension, as torch.save does). */
  archiveName?: string;
  /** Write ZIP64 extra fields even for small entries (tests of the > 4 GiB code paths). */
  forceZip64?: boolean;
}

interface StorageGroup { dtype: DType; rep: Tensor; extent: number; key: string | null }

/** A plain Map (not a PyDict read from a dict) whose values are all tensors is a state dict: an OrderedDict. */
const isStateDictMap = (m: Map<unknown, unknown>): boolean => m.size > 0 && [...m.values()].every((v) => v instanceof Tensor);

/**
 * Writes `value` as torch.save would, readable by torch.load. Accepts tensors, Maps, OrderedDicts, plain objects,
 * arrays (frozen arrays → tuples), numbers (integers → int, others → float; PyFloat forces float), strings,
 * booleans, null, bigint, Uint8Array and PyObjects (see pickleWriter.ts). OrderedDict, and a plain Map of only
 * tensors, are written as collections.OrderedDict like Module.state_dict(); PyDict, other Maps and plain objects
 * as dict. Values read by loadCheckpoint are written back as they were read.
 */
export function saveCheckpoint(path: string, value: unknown, opts: SaveOptions = {}): void {
  const groups = new Map<string, StorageGroup>();
  const groupOf = new Map<Tensor, StorageGroup>();
  for (const t of collectAllTensors(value)) {
    if (t.device !== 'cpu') throw new Error(`saveCheckpoint: tensor on ${t.device}; move it to the CPU first`);
    const extent = extentOf(t.shape, t.strides, t.storageOffset);
    const dtype = t.dtype;
    // Tensors on one storage (views, tied weights) share one storage entry, keyed by storage identity and dtype.
    const id = `${t.storageId ?? `empty:${groupOf.size}`}:${dtype}`;
    let g = groups.get(id);
    if (g) g.extent = Math.max(g.extent, extent);
    else groups.set(id, (g = { dtype, rep: t, extent, key: null }));
    groupOf.set(t, g);
  }
  const used: StorageGroup[] = [];
  const data = pickle(value, {
    orderedDict: isStateDictMap,
    persistentId: (v) => {
      if (!(v instanceof StorageGroupRef)) return undefined;
      const g = v.group;
      if (g.key === null) { g.key = String(used.length); used.push(g); }
      return tuple(['storage', pyObject(`torch.${STORAGE_OF[g.dtype]}`), g.key, 'cpu', g.extent]);
    },
    reduce: (v) => {
      if (!(v instanceof Tensor)) return undefined;
      return {
        func: 'torch._utils._rebuild_tensor_v2',
        args: [new StorageGroupRef(groupOf.get(v)!), v.storageOffset, tuple(v.shape), tuple(v.strides), v.requiresGrad, new OrderedDict()],
      };
    },
  });
  const stem = opts.archiveName ?? (basename(path).replace(/\.[^.]*$/, '') || 'archive');
  writeFileAtomic(path, (fd) => {
    const zip = new ZipWriter(fd, { forceZip64: opts.forceZip64 });
    zip.add(`${stem}/data.pkl`, data);
    zip.add(`${stem}/byteorder`, Buffer.from('little'));
    for (const g of [...used].sort((a, b) => (a.key! < b.key! ? -1 : 1))) zip.add(`${stem}/data/${g.key}`, storageBytes(g));
    zip.add(`${stem}/version`, Buffer.from('3\n'));
    zip.finish();
  });
}

class StorageGroupRef {
  constructor(readonly group: StorageGroup) {}
}

/** The bytes of a storage span [0, extent) of the group's storage. */
function storageBytes(g: StorageGroup): Uint8Array {
  const r = g.rep;
  if (r.storageOffset === 0 && r.numel === g.extent && r.isContiguous()) return new Uint8Array(r.data().buffer);
  const base = r.detach();
  const flat = base.asStrided([g.extent], [1], 0);
  try { return new Uint8Array(flat.data().buffer); } finally { flat.dispose(); base.dispose(); }
}

/** Every distinct tensor reachable from a value, including inside PyObjects and OrderedDict attributes. */
function collectAllTensors(value: unknown, out = new Set<Tensor>(), seen = new Set<object>()): Set<Tensor> {
  if (value === null || typeof value !== 'object' || seen.has(value)) return out;
  seen.add(value);
  if (value instanceof Tensor) out.add(value);
  else if (isPyObject(value)) { collectAllTensors(value.args, out, seen); collectAllTensors(value.state, out, seen); }
  else if (value instanceof Map) {
    for (const [k, v] of value) { collectAllTensors(k, out, seen); collectAllTensors(v, out, seen); }
    if (value instanceof OrderedDict) collectAllTensors(value.attrs, out, seen);
  } else if (Array.isArray(value) || value instanceof Set) for (const v of value) collectAllTensors(v, out, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null) {
    for (const v of Object.values(value)) collectAllTensors(v, out, seen);
  }
  return out;
}

/** Disposes every tensor reachable from a loaded value except those in `keep`. */
export function disposeExcept(value: unknown, keep: Set<Tensor>): void {
  for (const t of collectAllTensors(value)) if (!keep.has(t)) t.dispose();
}
