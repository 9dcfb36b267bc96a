// DeepMind surface-distance's surfel construction (google-deepmind/surface-distance `metrics.py`,
// `lookup_tables.py`; Apache-2.0): masks cropped to the bounding box of G ∪ P, a neighbourhood code per pixel corner
// (vertex), border vertices = codes other than 0 and all-ones, each weighted by the contour length (2D) or surface
// area (3D) of its marching-squares/-cubes surfels at the given spacing.
//
// Vertex v (0..n per axis of the crop) sits between pixels v−1 and v; its code sums kernel weights of the 2×2(×2)
// pixels around it, zero outside the crop: 2D [[8, 4], [2, 1]] (TL, TR, BL, BR), 3D [[[128, 64], [32, 16]],
// [[8, 4], [2, 1]]] — exactly scipy.ndimage.correlate(crop padded with one zero row/column at the high end, kernel,
// mode='constant') as the package computes it. Distances between vertices are lattice differences × spacing.
import { type Tensor, tidy } from '../engine/index.ts';
import { type Box, boundingBox, crop, directedDistances, float64, padOne, type SurfaceDistances } from './surface.ts';

/**
 * 2D contour length per neighbourhood code (create_table_neighbour_code_to_contour_length): one or three corners
 * set → ½√(s0² + s1²); a top or bottom pair (12, 3) → s1; a left or right pair (10, 5) → s0; a diagonal pair
 * (6, 9) → √(s0² + s1²); 0 and 15 → 0.
 */
export function contourLengthTable(spacing: readonly number[]): Float64Array {
  const [s0, s1] = spacing as [number, number];
  const diag = 0.5 * Math.sqrt(s0 ** 2 + s1 ** 2);
  const t = new Float64Array(16);
  for (const c of [1, 2, 4, 8, 7, 11, 13, 14]) t[c] = diag;
  t[3] = s1; t[12] = s1;
  t[5] = s0; t[10] = s0;
  t[6] = 2 * diag; t[9] = 2 * diag;
  return t;
}

// DeepMind's 3D table (_NEIGHBOUR_CODE_TO_NORMALS, made with marching cubes) lists, for each of the 256 codes, the
// area vectors of its triangles. Only their absolute components enter the area, and (checked against all 256
// entries) the table is invariant under the 48 symmetries of the cube and under complement (code ↔ 255 − code).
// So it is generated here from the 14 configurations with at most four inside corners, one per symmetry class.
// Each triangle is written as its absolute area-vector components in units of 1/8 along axes (0, 1, 2).
type Tri = readonly [number, number, number];
const CLASSES: ReadonlyArray<readonly [number, readonly Tri[]]> = [
  [1, [[1, 1, 1]]], // one corner: a triangle cutting the corner
  [3, [[2, 2, 0], [2, 2, 0]]], // an edge: a rectangle of two triangles
  [6, [[1, 1, 1], [1, 1, 1]]], // two corners diagonal on a face
  [7, [[4, 0, 0], [2, 2, 2], [1, 1, 1]]], // three corners of a face: a pentagon of three triangles
  [15, [[4, 0, 0], [4, 0, 0]]], // a face: a square
  [22, [[1, 1, 1], [1, 1, 1], [1, 1, 1]]], // three corners, pairwise diagonal
  [23, [[1, 1, 1], [1, 1, 1], [2, 2, 2], [2, 2, 2]]], // a corner and its three neighbours: a hexagon
  [24, [[1, 1, 1], [1, 1, 1]]], // two opposite corners of the cube
  [25, [[0, 2, 2], [0, 2, 2], [1, 1, 1]]], // an edge and the far corner
  [27, [[0, 2, 2], [2, 0, 2], [1, 1, 1], [3, 3, 3]]], // four corners forming a twisted path
  [30, [[4, 0, 0], [2, 2, 2], [1, 1, 1], [1, 1, 1]]], // three face corners and a separate corner
  [60, [[2, 2, 0], [2, 2, 0], [2, 2, 0], [2, 2, 0]]], // two parallel edges on opposite faces
  [105, [[1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1]]], // four corners, pairwise diagonal (tetrahedron)
];

/** Bit of corner (a, b, c) of the 2×2×2 neighbourhood, as the DeepMind kernel weights it (128 at (0,0,0)). */
const cornerBit = (a: number, b: number, c: number): number => 1 << (7 - (4 * a + 2 * b + c));

function transformCode(code: number, perm: readonly number[], flip: readonly number[]): number {
  let out = 0;
  for (let i = 0; i < 8; i++) {
    const p = [(i >> 2) & 1, (i >> 1) & 1, i & 1];
    if (code & cornerBit(p[0]!, p[1]!, p[2]!)) {
      out |= cornerBit(p[perm[0]!]! ^ flip[0]!, p[perm[1]!]! ^ flip[1]!, p[perm[2]!]! ^ flip[2]!);
    }
  }
  return out;
}

const PERMUTATIONS = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] as const;

let trianglesByCode: Tri[][] | null = null;

/** The triangles (absolute area vectors in 1/8 units) of every 3D code, generated once from CLASSES. */
export function surfelTriangles(): readonly (readonly Tri[])[] {
  if (trianglesByCode) return trianglesByCode;
  const table: (Tri[] | null)[] = Array<Tri[] | null>(256).fill(null);
  table[0] = [];
  table[255] = [];
  for (const [code, tris] of CLASSES) {
    for (const perm of PERMUTATIONS) {
      for (let f = 0; f < 8; f++) {
        const flip = [(f >> 2) & 1, (f >> 1) & 1, f & 1];
        const moved = transformCode(code, perm, flip);
        const permuted = tris.map((t): Tri => [t[perm[0]]!, t[perm[1]]!, t[perm[2]]!]);
        for (const c of [moved, 255 - moved]) table[c] ??= permuted;
      }
    }
  }
  const missing = table.findIndex((t) => t === null);
  if (missing >= 0) throw new Error(`surfelTriangles: code ${missing} was not generated`);
  trianglesByCode = table as Tri[][];
  return trianglesByCode;
}

/**
 * 3D surface area per neighbourhood code (create_table_neighbour_code_to_surface_area): Σ over the code's
 * triangles of |(n0·s1·s2, n1·s0·s2, n2·s0·s1)|, n the triangle's area vector in voxel units.
 */
export function surfaceAreaTable(spacing: readonly number[]): Float64Array {
  const [s0, s1, s2] = spacing as [number, number, number];
  const t = new Float64Array(256);
  surfelTriangles().forEach((tris, code) => {
    let area = 0;
    for (const [a, b, c] of tris) area += Math.hypot((a / 8) * s1 * s2, (b / 8) * s0 * s2, (c / 8) * s0 * s1);
    t[code] = area;
  });
  return t;
}

/**
 * Neighbourhood codes (int64, crop shape + 1 per axis) of a cropped bool mask, as DeepMind's correlate with the
 * 2×2(×2) kernel over the crop zero-padded at the high end (and zero outside).
 */
export function neighbourCodes(cropped: Tensor): Tensor {
  return tidy(() => {
    const nd = cropped.ndim;
    const padded = padOne(cropped.to('int64'));
    const out = cropped.shape.map((s) => s + 1);
    let code: Tensor | null = null;
    for (let i = 0; i < 1 << nd; i++) {
      const offs = [...Array(nd).keys()].map((d) => (i >> (nd - 1 - d)) & 1); // i's bits, axis 0 first
      const weight = 1 << ((1 << nd) - 1 - i); // offsets (0,..,0) → 8 or 128, (1,..,1) → 1
      let v = padded;
      for (let d = 0; d < nd; d++) v = v.narrow(d, offs[d]!, out[d]!);
      const term = v.mul(weight);
      code = code === null ? term : code.add(term);
    }
    return code!;
  });
}

/**
 * DeepMind compute_surface_distances for bool masks of one shape (2D or 3D): border vertices of each mask with
 * their surfel lengths/areas (the `weights` of each list) and distances to the other mask's border vertices.
 * An empty mask has an empty list, and the other mask's distances are +inf.
 */
export function surfelSurfaceDistances(pred: Tensor, gt: Tensor, spacing: readonly number[]): SurfaceDistances {
  return tidy(() => {
    const box: Box | null = boundingBox(pred.logicalOr(gt));
    const empty = () => ({ distances: float64([]), weights: float64([]) });
    if (!box) return { predToGt: empty(), gtToPred: empty() };
    const nd = pred.ndim;
    const full = (1 << (1 << nd)) - 1;
    const table = float64([...(nd === 2 ? contourLengthTable(spacing) : surfaceAreaTable(spacing))]);
    const side = (mask: Tensor) => {
      const codes = neighbourCodes(crop(mask, box));
      const border = codes.ne(0).logicalAnd(codes.ne(full));
      const areas = table.indexSelect(0, codes.flatten()).view(...codes.shape);
      return { border, areas };
    };
    const p = side(pred), g = side(gt);
    return {
      predToGt: directedDistances(p.border, g.border, spacing, p.areas),
      gtToPred: directedDistances(g.border, p.border, spacing, g.areas),
    };
  });
}

/** The CVPR24 view of a 2D mask pair: [H, W] → [H, W, 1] with spacing [s0, s1, 1]; 3D input unchanged. */
export function as3dSlab(mask: Tensor, spacing: readonly number[]): { mask: Tensor; spacing: number[] } {
  return mask.ndim === 2 ? { mask: mask.unsqueeze(-1), spacing: [...spacing, 1] } : { mask, spacing: [...spacing] };
}
