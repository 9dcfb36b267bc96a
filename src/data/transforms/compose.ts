// Pipelines: Compose runs keyed transforms in order with one seeded Generator, so a pipeline is reproduced by its
// seed and resumed exactly by saving and restoring the generator state (e.g. in a training checkpoint).
import { Generator, Tensor, tensor } from '../../engine/index.ts';
import { type Sample, type Transform, checkProb, invalid, pickIndex, uniforms } from './common.ts';

/** Top-level tensors of a record. */
function tensorsOf(sample: Record<string, unknown>): Set<Tensor> {
  return new Set(Object.values(sample).filter((v): v is Tensor => v instanceof Tensor));
}

/**
 * Transforms applied in order to a sample record. Each random draw comes from one Generator (its own, seeded by
 * `seed` (default 0), or a shared one passed in), in a fixed order, so equal seeds give identical outputs.
 * Tensors made by one step and replaced by a later step are disposed; the input record's tensors never are.
 */
export class Compose<S extends Sample = Sample> implements Transform<S> {
  readonly name = 'Compose';
  readonly transforms: readonly Transform<S>[];
  readonly generator: Generator;

  constructor(transforms: readonly Transform<S>[], o: { seed?: number | bigint; generator?: Generator } = {}) {
    if (!Array.isArray(transforms) || !transforms.every((t) => t && typeof t.apply === 'function')) {
      throw invalid('an array of transforms', 'transforms', transforms);
    }
    this.transforms = [...transforms];
    this.generator = o.generator ?? new Generator(o.seed ?? 0);
  }

  /** Runs the pipeline. Nested in another Compose, the outer generator is passed in and used instead of its own. */
  apply(sample: S, generator: Generator = this.generator): S {
    const original = tensorsOf(sample);
    let current = sample;
    for (const t of this.transforms) {
      const next = t.apply(current, generator);
      const kept = tensorsOf(next);
      for (const old of tensorsOf(current)) {
        if (!kept.has(old) && !original.has(old)) old.dispose();
      }
      current = next;
    }
    return current === sample ? { ...sample } : current;
  }

  /** The generator state as a uint8 tensor (you own it); equal to torch.Generator.get_state(). */
  getState(): Tensor {
    return this.generator.getState();
  }

  /** Restores a state from getState() (a uint8 tensor, or its bytes as stored in a checkpoint). */
  setState(state: Tensor | Uint8Array): void {
    if (state instanceof Tensor) {
      this.generator.setState(state);
      return;
    }
    const t = tensor(state, [state.length]);
    try {
      this.generator.setState(t);
    } finally {
      t.dispose();
    }
  }

  /** The state as bytes, for JSON or binary checkpoints. */
  stateBytes(): Uint8Array {
    const t = this.getState();
    try {
      return new Uint8Array(t.data() as Uint8Array);
    } finally {
      t.dispose();
    }
  }
}

/**
 * Applies one of the transforms, chosen with probability proportional to `weights` (default equal), with
 * probability p (otherwise the record passes through). Always draws two numbers.
 */
export class OneOf<S extends Sample = Sample> implements Transform<S> {
  readonly name = 'OneOf';
  readonly #transforms: readonly Transform<S>[];
  readonly #cumulative: number[];
  readonly #p: number;

  constructor(transforms: Transform<S>[], o: { p?: number; weights?: number[] } = {}) {
    if (!Array.isArray(transforms) || transforms.length === 0) throw invalid('a non-empty array of transforms', 'transforms', transforms);
    const w = o.weights ?? transforms.map(() => 1);
    if (w.length !== transforms.length || !w.every((v) => Number.isFinite(v) && v >= 0) || w.every((v) => v === 0)) {
      throw invalid(`${transforms.length} non-negative weights, not all zero`, 'weights', w);
    }
    const total = w.reduce((a, b) => a + b, 0);
    let acc = 0;
    this.#cumulative = w.map((v) => (acc += v / total));
    this.#transforms = [...transforms];
    this.#p = checkProb(o.p ?? 1);
  }

  apply(sample: S, generator: Generator): S {
    const [uApply, uPick] = uniforms(generator, 2) as [number, number];
    if (uApply >= this.#p) return sample;
    const i = this.#cumulative.findIndex((c) => uPick < c);
    return this.#transforms[i < 0 ? pickIndex(uPick, this.#transforms.length) : i]!.apply(sample, generator);
  }
}
