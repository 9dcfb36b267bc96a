// Threads, memory counters, and the grad / inference / autocast scopes.
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

