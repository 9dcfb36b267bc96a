// Random streams. The global generator is what ops use by default; Generators are independent, seedable streams
// whose state can be saved and restored (for exact resume of data order and augmentation).
import { native, type NativeGenerator } from './native.ts';
import { Tensor } from './tensor.ts';

export class Generator {
  readonly native: NativeGenerator;
  /** new Generator(seed) is an independent stream; Generator.global() is libtorch's default CPU generator. */
  constructor(seed?: number | bigint) {
    this.native = new native.GeneratorHandle(seed === undefined ? 0 : seed);
  }
  static global(): Generator {
    const g = Object.create(Generator.prototype) as Generator;
    (g as { native: NativeGenerator }).native = new native.GeneratorHandle();
    return g;
  }
  manualSeed(seed: number | bigint): this {
    this.native.seed(seed);
    return this;
  }
  /** The generator state as a uint8 tensor (torch.Generator.get_state). */
  getState(): Tensor {
    return Tensor.fromNative(this.native.getState());
  }
  setState(state: Tensor): void {
    this.native.setState(state.native);
  }
}

let globalGenerator: Generator | null = null;
export const defaultGenerator = (): Generator => (globalGenerator ??= Generator.global());

/** Seeds the global generator (torch.manual_seed). */
export function manualSeed(seed: number | bigint): void {
  defaultGenerator().manualSeed(seed);
}
export const getRngState = (): Tensor => defaultGenerator().getState();
export const setRngState = (state: Tensor): void => defaultGenerator().setState(state);
