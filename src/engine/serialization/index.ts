// Checkpoint serialization: torch.save zip checkpoints (read and write), safetensors (read and write), and
// loadStateDict, which finds the weights in either format.
//
// Value conventions (pickle.ts): Python dict → PyDict, OrderedDict → OrderedDict (both Maps), list → array,
// tuple → frozen array, int → number (bigint beyond 2^53), float → number (integral floats remembered through
// pyFloatKeys), str → string, bytes → Uint8Array, None → null, set → Set, anything else → PyObject
// `{ __class__, args, state }`. Writing inverts this; a plain Map of only tensors is written as an OrderedDict.
import { closeSync } from 'node:fs';
import { Tensor } from '../tensor.ts';
import { isPyObject } from './pickle.ts';
import { detectFormat, disposeExcept, loadCheckpoint, type LoadOptions } from './pth.ts';
import { loadSafetensors } from './safetensors.ts';
import { openForReading } from './zip.ts';

export {
  OrderedDict, PyDict, PyFloat, PY_KIND, UNHANDLED, isPyObject, isTuple, pyFloatKeys, pyObject, tuple, unpickle,
  opcodeName, type PyKind, type PyObject, type UnpickleHooks,
} from './pickle.ts';
export { pickle, type PickleHooks } from './pickleWriter.ts';
export {
  STORAGE_DTYPES, StorageRef, detectFormat, loadCheckpoint, saveCheckpoint, type LoadOptions, type SaveOptions,
} from './pth.ts';
export {
  MAX_HEADER_BYTES, SAFETENSORS_DTYPES, isSafetensorsHead, loadSafetensors, saveSafetensors, type SafetensorsFile,
} from './safetensors.ts';
export { ZipReader, ZipWriter, writeFileAtomic, type ZipEntry } from './zip.ts';

export interface StateDictOptions extends LoadOptions {
  /**
   * Where the state dict sits in the checkpoint, as a '/'-separated key path (e.g. 'model' or 'ema/model').
   * Default: the top level if it holds tensors, else the first of 'model', 'state_dict', 'module',
   * 'model_state_dict', 'net' that is a dict, repeated while the result holds no tensors.
   */
  key?: string;
  /**
   * Prefix to remove from names. Default: 'module.' (DataParallel / DDP), removed only when every name has it.
   * A given string is removed from every name that starts with it (torch's consume_prefix_in_state_dict_if_present);
   * false keeps names as they are.
   */
  stripPrefix?: string | false;
}

export const STATE_DICT_KEYS = Object.freeze(['model', 'state_dict', 'module', 'model_state_dict', 'net']);

const kindOf = (v: unknown): string =>
  isPyObject(v) ? v.__class__ : v === null ? 'None' : typeof v === 'object' ? v.constructor.name : typeof v;
const hasTensors = (m: Map<unknown, unknown>): boolean => [...m.values()].some((v) => v instanceof Tensor);
const keyList = (m: Map<unknown, unknown>): string => [...m.keys()].slice(0, 12).map(String).join(', ');

function findStateDict(root: unknown, key: string | undefined, path: string): Map<unknown, unknown> {
  if (!(root instanceof Map)) throw new Error(`Expected a dict of tensors in ${path} but it holds a ${kindOf(root)}`);
  let cur: Map<unknown, unknown> = root;
  if (key !== undefined) {
    for (const part of key.split('/')) {
      const next = cur.has(part) ? cur.get(part) : cur.get(Number(part));
      if (!(next instanceof Map)) {
        throw new Error(next === undefined
          ? `no key '${part}' (of '${key}') in ${path}; available keys: ${keyList(cur)}`
          : `key '${part}' (of '${key}') in ${path} holds a ${kindOf(next)}, not a dict of tensors`);
      }
      cur = next;
    }
    return cur;
  }
  while (!hasTensors(cur)) {
    // A samtutor checkpoint ({format: 'samtutor-checkpoint', models: {name: state_dict}}) with one model.
    const models = cur.get('format') === 'samtutor-checkpoint' ? cur.get('models') : undefined;
    const only = models instanceof Map && models.size === 1 ? [...models.values()][0] : undefined;
    const next = (only instanceof Map ? only : STATE_DICT_KEYS.map((k) => cur.get(k)).find((v) => v instanceof Map)) as Map<unknown, unknown> | undefined;
    if (!next) {
      throw new Error(`no state dict found in ${path}: the dict has no tensors and none of the keys ${STATE_DICT_KEYS.join(', ')} (keys: ${keyList(cur) || 'none'}); pass { key } to choose one`);
    }
    cur = next;
  }
  return cur;
}

/**
 * The name → tensor map of a model's weights from a torch.save checkpoint or a safetensors file (detected from
 * the file's first bytes), in file order. The state dict is unwrapped from `model` / `state_dict` / `module`
 * (or `opts.key`), the DataParallel `module.` prefix is stripped, and entries that are not tensors (and tensors
 * outside the state dict, such as optimizer state) are dropped and disposed.
 */
export function loadStateDict(path: string, opts: StateDictOptions = {}): Map<string, Tensor> {
  const { fd, size } = openForReading(path);
  let format: 'zip' | 'safetensors';
  try { format = detectFormat(fd, size, path); } finally { closeSync(fd); }
  const root: unknown = format === 'safetensors' ? loadSafetensors(path).tensors : loadCheckpoint(path, opts);
  const out = new Map<string, Tensor>();
  try {
    const sd = findStateDict(root, opts.key, path);
    const entries = [...sd].filter((e): e is [string, Tensor] => typeof e[0] === 'string' && e[1] instanceof Tensor);
    const strip = opts.stripPrefix ?? (entries.length && entries.every(([k]) => k.startsWith('module.')) ? 'module.' : false);
    for (const [k, t] of entries) {
      const name = strip && k.startsWith(strip) ? k.slice(strip.length) : k;
      if (out.has(name)) throw new Error(`two state-dict entries become '${name}' after stripping the prefix '${strip}' in ${path}`);
      out.set(name, t);
    }
  } catch (err) {
    disposeExcept(root, new Set());
    throw err;
  }
  disposeExcept(root, new Set(out.values()));
  return out;
}
