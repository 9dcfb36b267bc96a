// Loads the libtorch addon once and explains a failed load (addon not built, libtorch missing, ABI mismatch).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/**
 * A tensor as the addon knows it: an id into the per-thread tensor table (the slot and a generation counter, so a
 * released id is never mistaken for a live one). Only Tensor holds these.
 */
export type NativeTensor = number;

export interface NativeGenerator {
  seed(seed: number | bigint): void;
  getState(): NativeTensor;
  setState(state: NativeTensor): void;
}

export interface OpSchemaArg {
  name: string;
  type: string;
  hasDefault: boolean;
  kwargOnly: boolean;
}

export interface NativeAddon {
  GeneratorHandle: new (seed?: number | bigint) => NativeGenerator;
  fromBytes(bytes: ArrayBufferView, dtype: number, shape: number[]): NativeTensor;
  toBytes(t: NativeTensor): ArrayBuffer;
  copyBytesInto(dst: NativeTensor, bytes: ArrayBufferView): void;
  /** Counts the tensor's bytes as external memory for V8's GC heuristics (for tensors no tidy scope owns). */
  reportToGc(t: NativeTensor): boolean;
  release(t: NativeTensor): boolean;
  isLive(t: NativeTensor): boolean;
  liveTensors(): number;
  shape(t: NativeTensor): number[];
  strides(t: NativeTensor): number[];
  dtype(t: NativeTensor): number;
  device(t: NativeTensor): string;
  numel(t: NativeTensor): number;
  storageOffset(t: NativeTensor): number;
  /** Identity of the underlying storage (equal for views of one storage), and its size in bytes. */
  storageId(t: NativeTensor): string | null;
  storageBytes(t: NativeTensor): number;
  isContiguous(t: NativeTensor, memoryFormat?: number): boolean;
  sameStorage(a: NativeTensor, b: NativeTensor): boolean;
  resolveOp(name: string, overload: string): { id: number; schema: string; args: OpSchemaArg[]; returns: string[] };
  callOp(id: number, positional: unknown[], named?: Record<string, unknown>): unknown;
  backward(tensors: NativeTensor[], grads: (NativeTensor | null)[] | null, retainGraph?: boolean, createGraph?: boolean): void;
  autogradGrad(
    outputs: NativeTensor[], inputs: NativeTensor[], gradOutputs: NativeTensor[] | null,
    retainGraph: boolean | undefined, createGraph: boolean, allowUnused: boolean,
  ): (NativeTensor | null)[];
  getGrad(t: NativeTensor): NativeTensor | null;
  setGrad(t: NativeTensor, grad: NativeTensor | null): void;
  requiresGrad(t: NativeTensor): boolean;
  setRequiresGrad(t: NativeTensor, value: boolean): void;
  retainGrad(t: NativeTensor): void;
  isLeaf(t: NativeTensor): boolean;
  gradFnName(t: NativeTensor): string | null;
  setGradEnabled(enabled: boolean): boolean;
  isGradEnabled(): boolean;
  enterInferenceMode(): number;
  exitInferenceMode(): void;
  isInferenceTensor(t: NativeTensor): boolean;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  nativeBytes(): number;
  peakNativeBytes(): number;
  resetPeakNativeBytes(): void;
  setHeapPolicy(trimThreshold: number, mmapThreshold: number): boolean;
  trimHeap(): boolean;
  autocastEnter(enabled: boolean, dtype: number): { enabled: boolean; dtype: number };
  autocastExit(enabled: boolean, dtype: number): void;
  autocastState(): { enabled: boolean; dtype: number };
  parallelInfo(): string;
  torchVersion: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const addonPath = join(here, '..', '..', 'native', 'build', 'Release', 'samtutor.node');

function load(): NativeAddon {
  if (!existsSync(addonPath)) {
    throw new Error(
      `samtutor's native addon is not built (${addonPath} is missing). Run: bash scripts/setup.sh`,
    );
  }
  try {
    return createRequire(import.meta.url)(addonPath) as NativeAddon;
  } catch (err) {
    const msg = (err as Error).message;
    const hint = /libtorch|libc10|libtorch_cpu/.test(msg)
      ? 'libtorch is not installed or not on the library path: apt-get install libtorch-dev libopenblas0-openmp'
      : /NODE_MODULE_VERSION|undefined symbol/.test(msg)
        ? 'the addon was built for another Node or libtorch: rebuild with npm run build:native'
        : 'rebuild with npm run build:native';
    throw new Error(`cannot load samtutor's native addon: ${msg.split('\n')[0]} (${hint})`);
  }
}

export const native: NativeAddon = load();
