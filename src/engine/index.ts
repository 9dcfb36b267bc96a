// The tensor engine's public surface.
import { setNumThreads, defaultThreads, applyHeapPolicyFromEnv, setHeapPolicy } from './runtime.ts';

export { Tensor, type Scalar, type TensorOrScalar, type Dims } from './tensor.ts';
export { type DType, DTYPES, dtypeCode, isDType, isFloating, type MemoryFormatName } from './dtype.ts';
export { tidy, keep, dispose } from './scope.ts';
export { call, callT, callTs, schemaOf } from './dispatch.ts';
export * from './creation.ts';
export * from './random.ts';
export * from './runtime.ts';
export * from './autograd.ts';
export { EngineWorker } from './worker.ts';
export { native } from './native.ts';
export * as F from './ops/index.ts';

// libtorch here defaults to one intra-op thread: use the machine's cores unless SAMTUTOR_THREADS says otherwise.
setNumThreads(defaultThreads());

// Keep freed tensor memory for reuse rather than page-faulting it in anew every step (see setHeapPolicy).
try {
  applyHeapPolicyFromEnv();
} catch (err) {
  process.emitWarning(`${(err as Error).message}; using the default heap policy`);
  setHeapPolicy();
}
