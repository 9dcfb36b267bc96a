// Mask builders for the metric tests.
import { F, Generator, type Tensor, rand, tensor, tidy } from '../../src/engine/index.ts';

/** A uint8 mask of `shape` with 1 in each inclusive box [[lo0, hi0], [lo1, hi1], ...] (label `value`). */
export function boxMask(shape: number[], boxes: [number, number][][], value = 1): Tensor {
  const data = new Uint8Array(shape.reduce((a, b) => a * b, 1));
  const strides = shape.map((_, k) => shape.slice(k + 1).reduce((a, b) => a * b, 1));
  for (const b of boxes) {
    const rec = (axis: number, offset: number): void => {
      if (axis === shape.length) { data[offset] = value; return; }
      for (let i = b[axis]![0]; i <= b[axis]![1]; i++) rec(axis + 1, offset + i * strides[axis]!);
    };
    rec(0, 0);
  }
  return tensor(data, shape);
}

/** A uint8 mask from a list of voxel coordinates. */
export function pointsMask(shape: number[], points: number[][], value = 1): Tensor {
  return boxMask(shape, points.map((p) => p.map((c): [number, number] => [c, c])), value);
}

/**
 * Seeded random blobs (smoothed noise, thresholded) plus sparse speckles, as uint8 labels 0..labels: blobby shapes
 * with holes, several components and objects touching the image edge.
 */
export function randomLabels(shape: number[], seed: number, labels = 1, speckle = 0.01): Tensor {
  return tidy(() => {
    const g = new Generator(seed);
    const nd = shape.length;
    let out = tensor(new Uint8Array(shape.reduce((a, b) => a * b, 1)), shape);
    for (let l = 1; l <= labels; l++) {
      const noise = rand([1, 1, ...shape], { generator: g, dtype: 'float32' });
      const smooth = nd === 2
        ? F.avgPool2d(noise, 5, { stride: 1, padding: 2 })
        : F.avgPool3d(noise, 3, { stride: 1, padding: 1 });
      const threshold = nd === 2 ? 0.56 : 0.58;
      const blob = smooth.view(...shape).gt(threshold).logicalOr(rand(shape, { generator: g }).lt(speckle));
      out = out.maskedFill(blob, l);
    }
    return out;
  });
}

/** Row-major 0/1… values of a mask as plain numbers (for the Python reference). */
export const values = (t: Tensor): number[] => tidy(() => t.to('int32').toArray());

export const close = (actual: number | null, expected: number | null, tol = 1e-6): boolean => {
  if (expected === null || actual === null) return actual === expected;
  if (Number.isNaN(expected)) return Number.isNaN(actual);
  if (!Number.isFinite(expected)) return actual === expected;
  return Math.abs(actual - expected) <= tol;
};
