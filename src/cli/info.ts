import { blasLibrary, getNumThreads, native } from '../engine/index.ts';

export function runInfo(): void {
  console.log(`samtutor engine: libtorch ${native.torchVersion}, node ${process.versions.node}`);
  console.log(`intra-op threads: ${getNumThreads()}`);
  console.log(`BLAS: ${blasLibrary() ?? 'unknown'}`);
  console.log(native.parallelInfo().trim());
}
