// DeepMind's surfel construction: lookup tables, neighbourhood codes, and the exact nearest-distance search.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, rand, tensor, tidy } from '../../src/engine/index.ts';
import { contourLengthTable, neighbourCodes, surfaceAreaTable } from '../../src/metrics/index.ts';
import { surfelTriangles } from '../../src/metrics/surfels.ts';
import { DIRECT_PAIRS, gridNearestDistances, nearestDistances } from '../../src/metrics/surface.ts';

// Values of DeepMind's create_table_neighbour_code_to_surface_area(spacing), computed from the package's full
// 256-entry _NEIGHBOUR_CODE_TO_NORMALS (lookup_tables.py at 57c1e2cd): the table sum, Σ code·area, and some entries.
const DM_CHECKS: { spacing: number[]; sum: number; weighted: number; codes: Record<number, number> }[] = [
  {
    spacing: [1, 1, 1], sum: 241.34313970553745, weighted: 30771.250312456017,
    codes: { 1: 0.21650635094610965, 3: 0.7071067811865476, 7: 1.149519052838329, 23: 1.2990381056766578, 27: 1.573132184970986, 30: 1.3660254037844386, 60: 1.4142135623730951, 105: 0.8660254037844386, 150: 0.8660254037844386, 254: 0.21650635094610965 },
  },
  {
    spacing: [2, 1, 0.5], sum: 309.1632231939856, weighted: 39418.31095723316,
    codes: { 1: 0.28641098093474, 3: 0.5590169943749475, 7: 1.10923294280422, 23: 1.7184658856084398, 27: 2.220049121316115, 30: 1.39564392373896, 60: 1.118033988749895, 105: 1.14564392373896, 150: 1.14564392373896, 254: 0.28641098093474 },
  },
  {
    spacing: [0.7, 1.3, 3.1], sum: 629.9838346453354, weighted: 80322.93891728026,
    codes: { 1: 0.5833349702357986, 3: 2.288547574336177, 7: 3.765004910707396, 23: 3.5000098214147917, 27: 3.954476809766797, 30: 4.348339880943195, 60: 4.577095148672354, 105: 2.3333398809431944, 150: 2.3333398809431944, 254: 0.5833349702357986 },
  },
];

test('3D surface-area table generated from 14 symmetry classes equals DeepMind\'s', () => {
  const tris = surfelTriangles();
  assert.equal(tris.length, 256);
  assert.deepEqual([tris[0], tris[255]], [[], []]);
  for (const check of DM_CHECKS) {
    const t = surfaceAreaTable(check.spacing);
    const sum = t.reduce((a, b) => a + b, 0);
    const weighted = t.reduce((a, b, code) => a + b * code, 0);
    assert.ok(Math.abs(sum - check.sum) < 1e-9, `sum ${sum} vs ${check.sum}`);
    assert.ok(Math.abs(weighted - check.weighted) < 1e-7, `weighted ${weighted} vs ${check.weighted}`);
    for (const [code, area] of Object.entries(check.codes)) assert.ok(Math.abs(t[Number(code)]! - area) < 1e-12, `code ${code}`);
    for (let c = 0; c < 256; c++) assert.ok(Math.abs(t[c]! - t[255 - c]!) < 1e-12, `complement ${c}`);
  }
});

test('2D contour-length table', () => {
  const t = contourLengthTable([2, 3]);
  const diag = 0.5 * Math.sqrt(13);
  assert.deepEqual([...t], [0, diag, diag, 3, diag, 2, 2 * diag, diag, diag, 2 * diag, 2, diag, 3, diag, diag, 0]);
});

test('neighbourhood codes use DeepMind\'s kernel: vertex v sits between pixels v−1 and v', () => {
  tidy(() => {
    // one pixel at (0, 0) of a 1×1 crop: its four corners see it as BR (1), BL (2), TR (4), TL (8)
    assert.deepEqual(neighbourCodes(tensor(new Uint8Array([1]), [1, 1]).bool()).toArray(), [1, 2, 4, 8]);
    assert.deepEqual(neighbourCodes(tensor(new Uint8Array([1]), [1, 1, 1]).bool()).toArray(), [1, 2, 4, 8, 16, 32, 64, 128]);
    // a 1×2 bar: middle vertices see two pixels (BL+BR = 3, TL+TR = 12)
    assert.deepEqual(neighbourCodes(tensor(new Uint8Array([1, 1]), [1, 2]).bool()).toArray(), [1, 3, 2, 4, 12, 8]);
  });
});

test('offset-scan nearest distances equal brute force exactly (2D and 3D, anisotropic, sparse targets)', () => {
  const g = new Generator(5);
  for (const [shape, spacing, pa, pb] of [
    [[90, 100], [1, 1], 0.15, 0.04], [[120, 120], [0.7, 1.3], 0.5, 0.004],
    [[16, 30, 32], [2, 0.8, 0.8], 0.1, 0.02], [[16, 30, 32], [1, 1, 1], 0.4, 0.005],
  ] as [number[], number[], number, number][]) {
    tidy(() => {
      const a = rand(shape, { generator: g }).lt(pa), b = rand(shape, { generator: g }).lt(pb);
      const pts = a.nonzero();
      const fast = gridNearestDistances(pts, b, spacing);
      const brute = nearestDistances(pts.to('float64'), b.nonzero().to('float64'), spacing);
      assert.ok(pts.size(0) * b.sum().item() > 4 * DIRECT_PAIRS, 'the case must exercise the offset scan');
      assert.equal(fast.eq(brute).all().item(), true, `${shape} ${spacing}`);
    });
  }
});
