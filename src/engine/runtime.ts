// Threads, memory counters, and the grad / inference / autocast scopes.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { native } from './native.ts';
import { type DType, dtypeCode } from './dtype.ts';

/** Intra-op threads. libtorch on Debian defaults to one; samtutor sets the available cores at start-up. */
export function setNumThreads(n: number): void {
  // OpenMP would try to start every thread asked for; far more than the cores only thrashes (1e6 hangs).
  const max = 4 * availableParallelism();
  if (!Number.isInteger(n) || n < 1 || n > max) throw new RangeError(`Expected integer between 1 and ${max} for threads but received ${n} of type ${typeof n}`);
  native.setNumThreads(n);
}
export const getNumThreads = (): number => native.getNumThreads();
export function defaultThreads(): number {
  const env = Number(process.env.SAMTUTOR_THREADS);
  return Number.isInteger(env) && env > 0 ? env : availableParallelism();
}

/**
 * The BLAS library libtorch's matmuls run on in this process (the mapped libopenblas / libblas / MKL file), or
 * null where it cannot be read (not Linux). The addon links OpenBLAS's OpenMP build when it is installed; see
 * native/binding.gyp for why.
 */
export function blasLibrary(): string | null {
  let maps: string;
  try {
    maps = readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return null;
  }
  const files = [...new Set(maps.split('\n').map((line) => line.slice(line.indexOf('/'))).filter((f) => f.startsWith('/')))];
  return files.find((f) => /\/lib(openblas|mkl_rt|mkl_core)[^/]*\.so/.test(f)) ?? files.find((f) => /\/libblas\.so/.test(f)) ?? null;
}

/** Where Debian keeps OpenBLAS's OpenMP build (libopenblas0-openmp), or null if it is not installed. */
export function openmpBlasDir(): string | null {
  let multiarch: string;
  try {
    multiarch = execFileSync('gcc', ['-print-multiarch'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return null;
  }
  const dir = `/usr/lib/${multiarch}/openblas-openmp`;
  return existsSync(`${dir}/libblas.so.3`) ? dir : null;
}

export interface MemoryInfo {
  /** Tensors alive in this thread's table (not yet disposed or collected). */
  liveTensors: number;
  /** Bytes held by libtorch's CPU allocator right now, and the peak since the last reset. */
  nativeBytes: number;
  peakNativeBytes: number;
  rssBytes: number;
}
export function memory(): MemoryInfo {
  return {
    liveTensors: native.liveTensors(),
    nativeBytes: native.nativeBytes(),
    peakNativeBytes: native.peakNativeBytes(),
    rssBytes: process.memoryUsage.rss(),
  };
}
export const resetPeakMemory = (): void => native.resetPeakNativeBytes();

export interface HeapPolicy {
  /** Free memory kept in the heap for reuse before any is returned to the OS (glibc's M_TRIM_THRESHOLD). */
  keepBytes: number;
  /** Blocks above this are mapped and unmapped one by one (glibc's M_MMAP_THRESHOLD; glibc caps it at 32 MiB). */
  mmapThresholdBytes: number;
}
const MIB = 1024 * 1024;
export const DEFAULT_HEAP_POLICY: HeapPolicy = { keepBytes: 1024 * MIB, mmapThresholdBytes: 32 * MIB };

/**
 * How the CPU heap treats freed tensor memory. glibc's defaults unmap large blocks and trim the heap as soon as
 * 128 KiB are free, so each training step page-faults its whole activation working set anew; samtutor keeps up to
 * keepBytes for reuse instead (RSS then stays at the peak working set). Returns false if glibc refused a value.
 */
export function setHeapPolicy(policy: Partial<HeapPolicy> = {}): boolean {
  const p = { ...DEFAULT_HEAP_POLICY, ...policy };
  for (const [k, v] of Object.entries(p)) {
    if (!Number.isInteger(v) || v < 0 || v > 2 ** 31 - 1) throw new RangeError(`Expected integer between 0 and ${2 ** 31 - 1} for ${k} but received ${v}`);
  }
  return native.setHeapPolicy(p.keepBytes, p.mmapThresholdBytes);
}

/**
 * The start-up policy: SAMTUTOR_HEAP=glibc leaves glibc's defaults alone; SAMTUTOR_HEAP_KEEP_MB sets keepBytes.
 * Returns the policy applied, or null for glibc's defaults.
 */
export function applyHeapPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): HeapPolicy | null {
  if (env.SAMTUTOR_HEAP === 'glibc') return null;
  const mb = env.SAMTUTOR_HEAP_KEEP_MB;
  const keep = mb === undefined || mb === '' ? DEFAULT_HEAP_POLICY.keepBytes : Number(mb) * MIB;
  if (!Number.isInteger(keep) || keep < 0 || keep > 2 ** 31 - 1) {
    throw new RangeError(`SAMTUTOR_HEAP_KEEP_MB must be an integer between 0 and 2047, got ${JSON.stringify(mb)}`);
  }
  const policy = { ...DEFAULT_HEAP_POLICY, keepBytes: keep };
  setHeapPolicy(policy);
  return policy;
}

/** Returns the heap's free memory to the OS now (after a large job, say). True if anything was released. */
export const releaseFreeMemory = (): boolean => native.trimHeap();

/** Runs fn with gradient recording off (torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}
export function enableGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(true);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}
export const isGradEnabled = (): boolean => native.isGradEnabled();

/** Runs fn in torch.inference_mode: no autograd bookkeeping at all; results cannot enter autograd later. */
export function inferenceMode<T>(fn: () => T): T {
  native.enterInferenceMode();
  try {
    const result = fn();
    if (result instanceof Promise) throw new Error('inferenceMode: fn must be synchronous');
    return result;
  } finally {
    native.exitInferenceMode();
  }
}

/**
 * Runs fn under CPU autocast (torch.autocast('cpu', dtype=torch.bfloat16)): matmuls and convolutions run in bf16.
 * The cast-weight cache is cleared on the outermost exit, so updated weights are never served stale.
 */
export function autocast<T>(fn: () => T, opts: { dtype?: DType; enabled?: boolean } = {}): T {
  const dtype = opts.dtype ?? 'bfloat16';
  // libtorch 1.13's CPU autocast supports bfloat16 only.
  if (dtype !== 'bfloat16') throw new TypeError(`Expected bfloat16 for autocast dtype but received ${String(dtype)} of type ${typeof dtype}`);
  const prev = native.autocastEnter(opts.enabled ?? true, dtypeCode(dtype));
  try {
    const result = fn();
    if (result instanceof Promise) throw new Error('autocast: fn must be synchronous');
    return result;
  } finally {
    native.autocastExit(prev.enabled, prev.dtype);
  }
}
export const isAutocastEnabled = (): boolean => native.autocastState().enabled;

