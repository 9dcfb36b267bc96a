// Finite-difference gradient checking in float64, in the manner of torch.autograd.gradcheck: the analytic
// gradient of L = sum_j sum(f(x)_j * r_j) for fixed random r_j (from autograd) is compared with central
// differences (L(x + eps e_k) - L(x - eps e_k)) / 2 eps, element by element. Keep shapes small.
import { type Tensor, tensor, tidy, noGrad, grad } from '../../src/engine/index.ts';

/** A small deterministic PRNG (mulberry32), so test inputs never touch libtorch's generator. */
import { mulberry32 } from '../../src/data/split.ts';

export const prng = mulberry32;

/** Standard normal draws from a uniform source (Box-Muller). */
export function normals(n: number, seed: number): number[] {
  const u = prng(seed);
  const out: number[] = [];
  while (out.length < n) {
    const r = Math.sqrt(-2 * Math.log(1 - u())), th = 2 * Math.PI * u();
    out.push(r * Math.cos(th), r * Math.sin(th));
  }
  return out.slice(0, n);
}

const count = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

export interface InputOptions {
  /** Uniform in [lo, hi) instead of standard normal. */
  range?: [number, number];
  /** Push values within `awayFrom` of zero out to +-awayFrom (keeps relu/abs/clamp kinks far from eps). */
  awayFrom?: number;
  /** Values are a shuffled ladder spaced by at least 0.05 (no ties: max pooling, amax, sort). */
  distinct?: boolean;
  requiresGrad?: boolean;
}

/** A float64 input tensor with seeded values. */
export function input(shape: number[], seed: number, o: InputOptions = {}): Tensor {
  const n = count(shape);
  let v: number[];
  if (o.distinct) {
    const u = prng(seed);
    v = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.1 + 0.04 * u());
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(u() * (i + 1));
      [v[i], v[j]] = [v[j]!, v[i]!];
    }
  } else if (o.range) {
    const u = prng(seed);
    const [lo, hi] = o.range;
    v = Array.from({ length: n }, () => lo + (hi - lo) * u());
  } else {
    v = normals(n, seed);
  }
  if (o.awayFrom) {
    const a = o.awayFrom;
    v = v.map((x) => (Math.abs(x) < a ? (x < 0 ? -a : a) : x));
  }
  return tensor(Float64Array.from(v), shape, { requiresGrad: o.requiresGrad });
}

/** An int64 tensor from JS integers. */
export function ints(values: number[], shape?: number[]): Tensor {
  return tensor(BigInt64Array.from(values.map((x) => BigInt(x))), shape);
}

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Indices of the inputs to check (default: every float64 input). */
  wrt?: number[];
  seed?: number;
}

export interface GradcheckResult {
  /** Number of (input element) derivatives compared. */
  checked: number;
  maxAbsErr: number;
}

type Fn = (...inputs: Tensor[]) => Tensor | Tensor[];

const flat = (v: Tensor | Tensor[]): Tensor[] => (Array.isArray(v) ? v : [v]);

/**
 * Throws an Error describing the mismatches when autograd's gradient differs from the numeric one.
 * Inputs are not modified; everything the check creates is disposed.
 */
export function gradcheck(fn: Fn, inputs: Tensor[], opts: GradcheckOptions = {}): GradcheckResult {
  const eps = opts.eps ?? 1e-6, atol = opts.atol ?? 1e-6, rtol = opts.rtol ?? 1e-4;
  const wrt = opts.wrt ?? inputs.flatMap((t, i) => (t.dtype === 'float64' ? [i] : []));
  if (wrt.length === 0) throw new Error('gradcheck: no float64 inputs to check');
  for (const i of wrt) {
    if (inputs[i]!.dtype !== 'float64') throw new Error(`gradcheck: input ${i} is ${inputs[i]!.dtype}; use float64 inputs`);
  }
  return tidy(() => {
    const shapes = inputs.map((t) => t.shape);
    const values = wrt.map((i) => inputs[i]!.data() as Float64Array);
    // Leaves for autograd, and plain copies for the numeric evaluations.
    const leaves = inputs.map((t, i) => {
      const w = wrt.indexOf(i);
      return w < 0 ? t : tensor(Float64Array.from(values[w]!), shapes[i], { requiresGrad: true });
    });
    const plain = inputs.map((t, i) => (wrt.includes(i) ? leaves[i]!.detach() : t));

    const outs = flat(fn(...leaves));
    for (const [j, o] of outs.entries()) {
      if (o.dtype !== 'float64') throw new Error(`gradcheck: output ${j} is ${o.dtype}; the function must compute in float64`);
    }
    const rng = prng(opts.seed ?? 1234);
    const rs = outs.map((o) => Float64Array.from({ length: o.numel }, () => 2 * rng() - 1));
    const rTensors = outs.map((o, j) => tensor(rs[j]!, o.shape));
    const connected = outs.map((o) => o.requiresGrad);
    const analytic: Float64Array[] = [];
    if (connected.some(Boolean)) {
      let loss: Tensor | null = null;
      for (const [j, o] of outs.entries()) {
        if (!connected[j]) continue;
        const term = o.mul(rTensors[j]!).sum();
        loss = loss ? loss.add(term) : term;
      }
      const grads = grad([loss!], wrt.map((i) => leaves[i]!), { allowUnused: true });
      for (const [w, g] of grads.entries()) {
        analytic.push(g ? (g.data() as Float64Array) : new Float64Array(values[w]!.length));
        if (g && g.shape.join() !== shapes[wrt[w]!]!.join()) {
          throw new Error(`gradcheck: gradient of input ${wrt[w]} has shape [${g.shape}] but the input has [${shapes[wrt[w]!]}]`);
        }
      }
    } else {
      for (const v of values) analytic.push(new Float64Array(v.length));
    }

    const evaluate = (args: Tensor[]): number => tidy(() => {
      const res = flat(fn(...args));
      let s = 0;
      for (const [j, o] of res.entries()) {
        const d = o.data() as Float64Array, r = rs[j]!;
        for (let k = 0; k < d.length; k++) s += d[k]! * r[k]!;
      }
      return s;
    });

    let checked = 0, maxAbsErr = 0;
    const bad: string[] = [];
    noGrad(() => {
      for (const [w, i] of wrt.entries()) {
        const base = values[w]!;
        for (let k = 0; k < base.length; k++) {
          const at = (delta: number): number => tidy(() => {
            const moved = Float64Array.from(base);
            moved[k] = base[k]! + delta;
            const args = plain.slice();
            args[i] = tensor(moved, shapes[i]);
            return evaluate(args);
          });
          const numeric = (at(eps) - at(-eps)) / (2 * eps);
          const a = analytic[w]![k]!;
          const err = Math.abs(a - numeric);
          checked++;
          if (!(err <= maxAbsErr)) maxAbsErr = err;
          if (!(err <= atol + rtol * Math.abs(numeric))) {
            bad.push(`input ${i} element ${k}: analytic ${a} vs numeric ${numeric}`);
          }
        }
      }
    });
    if (bad.length) {
      throw new Error(`gradcheck: ${bad.length} of ${checked} derivatives differ (atol ${atol}, rtol ${rtol}):\n  ${bad.slice(0, 6).join('\n  ')}`);
    }
    return { checked, maxAbsErr };
  });
}
