// Hand-computed cases: empty prediction, empty truth, both empty, single voxels, anisotropic 3D spacing, objects
// on the image edge, multi-label per-class scoring. Expected values are derived in the comments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memory, tensor, tidy } from '../../src/engine/index.ts';
import {
  boundaryPixels, computeASD, computeASSD, computeDice, computeHausdorff, computeHausdorff95, computeIoU,
  computePrecision, computeRecall, computeSpecificity, computeSurfaceDice, CONVENTION_NAMES, EMPTY_OUTCOMES,
  evaluateCase,
} from '../../src/metrics/index.ts';
import { boxMask, close, pointsMask } from './helpers.ts';

const approx = (actual: number | null, expected: number | null, what: string) =>
  assert.ok(close(actual, expected), `${what}: expected ${expected} but got ${actual}`);

test('empty prediction: Dice = IoU = 0, distances null, failed, under every convention as documented', () => {
  tidy(() => {
    const gt = boxMask([8, 9], [[[2, 4], [3, 6]]]);
    const pred = boxMask([8, 9], []);
    for (const convention of CONVENTION_NAMES) {
      const [r] = evaluateCase(pred, gt, { convention });
      const o = EMPTY_OUTCOMES[convention === 'cvpr24' ? 'deepmind' : convention]['pred-empty'];
      assert.equal(r!.emptyRule, 'pred-empty');
      assert.equal(r!.failed, true);
      for (const k of ['dice', 'iou', 'hd', 'hd95', 'assd'] as const) assert.ok(close(r![k], o[k]), `${convention} ${k}`);
      if (convention !== 'cvpr24') assert.ok(close(r!.nsd, o.nsd), `${convention} nsd`); // cvpr24: gate → 0
    }
    const [d] = evaluateCase(pred, gt);
    assert.deepEqual([d!.dice, d!.iou, d!.hd, d!.hd95, d!.assd, d!.nsd, d!.precision, d!.recall], [0, 0, null, null, null, null, 0, 0]);
    assert.equal(computeHausdorff(pred, gt), null);
    assert.equal(computeHausdorff(pred, gt, { convention: 'monai' }), Infinity);
    assert.ok(Number.isNaN(computeHausdorff95(pred, gt, { convention: 'monai' })!));
    assert.equal(computeSurfaceDice(pred, gt, { convention: 'deepmind' }), 0);
  });
});

test('empty truth: Dice 0 (default) but NaN under MONAI ignore_empty; recall 0/0 per rule', () => {
  tidy(() => {
    const pred = boxMask([8, 9], [[[2, 4], [3, 6]]]);
    const gt = boxMask([8, 9], []);
    const [d] = evaluateCase(pred, gt);
    assert.equal(d!.emptyRule, 'gt-empty');
    assert.equal(d!.failed, true);
    assert.deepEqual([d!.dice, d!.iou, d!.hd, d!.assd, d!.nsd, d!.precision, d!.recall], [0, 0, null, null, null, 0, 0]);
    const [m] = evaluateCase(pred, gt, { convention: 'monai' });
    assert.ok(Number.isNaN(m!.dice!) && Number.isNaN(m!.iou!) && Number.isNaN(m!.recall!));
    assert.equal(m!.hd, Infinity);
    assert.equal(m!.nsd, 0);
    assert.equal(computeRecall(pred, gt, { convention: 'medpy' }), 0);
  });
});

test('both empty: Dice = IoU = 1, HD = HD95 = ASSD = 0, NSD = 1, not a failure (2D and 3D)', () => {
  tidy(() => {
    for (const shape of [[6, 7], [3, 4, 5]]) {
      const e = boxMask(shape, []);
      const [r] = evaluateCase(e, e, { spacing: shape.map(() => 0.5) });
      assert.equal(r!.label, 1);
      assert.equal(r!.emptyRule, 'both-empty');
      assert.equal(r!.failed, false);
      assert.deepEqual([r!.dice, r!.iou, r!.hd, r!.hd95, r!.assd, r!.nsd, r!.precision, r!.recall], [1, 1, 0, 0, 0, 1, 1, 1]);
      assert.equal(computeDice(e, e, { convention: 'deepmind' }), NaN);
      assert.equal(computeASSD(e, e, { convention: 'medpy' }), null);
    }
  });
});

test('single voxel vs the same voxel, and vs a voxel offset by (1, 2, 0) with spacing (2, 1, 0.5)', () => {
  tidy(() => {
    const shape = [6, 7, 8], spacing = [2, 1, 0.5];
    const p = pointsMask(shape, [[2, 3, 4]]);
    const same = evaluateCase(p, p, { spacing })[0]!;
    assert.deepEqual([same.dice, same.iou, same.hd, same.hd95, same.assd, same.nsd], [1, 1, 0, 0, 0, 1]);
    const g = pointsMask(shape, [[3, 5, 4]]);
    // each voxel is its own boundary: every distance is |(1·2, 2·1, 0·0.5)| = √8
    const r = evaluateCase(p, g, { spacing })[0]!;
    for (const k of ['hd', 'hd95', 'assd'] as const) approx(r[k], Math.sqrt(8), k);
    assert.deepEqual([r.dice, r.iou, r.precision, r.recall], [0, 0, 0, 0]);
    // DeepMind surfels: the 8 corner vertices of a voxel all have one corner set (equal areas). From P's vertex
    // p + c to G's nearest vertex the offset per axis is (c0 = 1 ? 0 : 1, c1 = 1 ? 1 : 2, 0) voxels, so the
    // distances are {1, 2, 2, √5·…}: (0,1)→1, (0,2)→2, (2,1)→√5, (2,2)→√8 physical, twice each (c2 free);
    // symmetric from G. NSD@1 = 4/16, NSD@2 = 8/16; DM HD95 = √8; DM ASD = (1 + 2 + √5 + √8)/4.
    approx(computeSurfaceDice(p, g, { spacing, tolerance: 1 }), 0.25, 'nsd@1');
    approx(computeSurfaceDice(p, g, { spacing, tolerance: 2 }), 0.5, 'nsd@2');
    const dm = evaluateCase(p, g, { spacing, convention: 'deepmind' })[0]!;
    approx(dm.hd, Math.sqrt(8), 'dm hd');
    approx(dm.hd95, Math.sqrt(8), 'dm hd95');
    approx(dm.assd, (1 + 2 + Math.sqrt(5) + Math.sqrt(8)) / 4, 'dm assd');
  });
});

test('anisotropic 3D spacing: a 3×3×3 cube and its copy one slice up, spacing (3, 1, 1)', () => {
  tidy(() => {
    const shape = [8, 7, 7], spacing = [3, 1, 1];
    const g = boxMask(shape, [[[2, 4], [2, 4], [2, 4]]]);
    const p = boxMask(shape, [[[3, 5], [2, 4], [2, 4]]]);
    // ∂P = P minus its centre (4,3,3); ∂G = G minus (3,3,3). D_PG: slice 3's ring (8) and slice 4's ring (8) lie on
    // ∂G → 0; P's bottom centre (3,3,3) is inside G → nearest ∂G in-plane at 1; slice 5 (9) → one slice = 3.
    // D_GP is the mirror image. So each list is {0 ×16, 1, 3 ×9}: HD = 3, HD95 = 3 (ranks 23.75 → 3),
    // ASSD = (1 + 27)/26, Dice = 2·18/54, precision = recall = 18/27.
    const r = evaluateCase(p, g, { spacing })[0]!;
    approx(r.dice, 2 / 3, 'dice');
    approx(r.iou, 0.5, 'iou');
    approx(r.hd, 3, 'hd');
    approx(r.hd95, 3, 'hd95');
    approx(r.assd, 28 / 26, 'assd');
    approx(r.precision, 2 / 3, 'precision');
    approx(r.recall, 2 / 3, 'recall');
    approx(computeASD(p, g, { spacing }), 28 / 26, 'asd');
    // with isotropic spacing the slice step is 1: ASSD = (1 + 9)/26
    approx(computeASSD(p, g, { spacing: 1 }), 10 / 26, 'assd isotropic');
    // pixel-count NSD at τ = 1: 17 of 26 per direction are ≤ 1
    approx(computeSurfaceDice(p, g, { spacing, tolerance: 1, convention: 'monai' }), 17 / 26, 'px nsd');
    assert.deepEqual(r.spacing, spacing);
    assert.deepEqual(r.shape, shape);
  });
});

test('objects touching the image edge: edge pixels are boundary (outside counts as background)', () => {
  tidy(() => {
    const full = boxMask([4, 5], [[[0, 3], [0, 4]]]);
    assert.equal(boundaryPixels(full.bool()).sum().item(), 4 * 5 - 2 * 3);
    // a bar on the top edge (rows 0–2, full width) vs the same bar one row lower (rows 1–3), unit spacing.
    // ∂G = row 0, row 1 at cols 0 and 4 (the image edge), row 2 — 12 pixels; ∂P = row 1, row 2 at cols 0 and 4,
    // row 3 — 12 pixels. D_PG: (1,0), (1,4), (2,0), (2,4) lie on ∂G → 0; the other 8 are one row from ∂G → 1.
    // D_GP mirrors it. HD = HD95 = 1, ASSD = 16/24. (Were the outside foreground, row 0 and the edge columns would
    // not be boundary and every value would change.)
    const shape = [6, 5];
    const g = boxMask(shape, [[[0, 2], [0, 4]]]);
    const p = boxMask(shape, [[[1, 3], [0, 4]]]);
    assert.equal(boundaryPixels(g.bool()).sum().item(), 12);
    const r = evaluateCase(p, g)[0]!;
    approx(r.hd, 1, 'hd');
    approx(r.hd95, 1, 'hd95');
    approx(r.assd, 16 / 24, 'assd');
    approx(r.dice, 20 / 30, 'dice');
  });
});

test('multi-label: per-class records, one-vs-rest, labels absent from one side flagged, label order', () => {
  tidy(() => {
    const shape = [10, 12];
    const gt = boxMask(shape, [[[1, 4], [1, 4]]], 1).add(boxMask(shape, [[[6, 8], [6, 10]]], 2));
    const pred = boxMask(shape, [[[1, 4], [2, 5]]], 1).add(boxMask(shape, [[[6, 8], [6, 10]]], 2)).add(boxMask(shape, [[[0, 0], [11, 11]]], 3));
    const records = evaluateCase(pred.to('int32'), gt.to('int64'), { caseId: 'c1' });
    assert.deepEqual(records.map((r) => r.label), [1, 2, 3]);
    const [r1, r2, r3] = records as [typeof records[0], typeof records[0], typeof records[0]];
    // label 1: 4×4 squares shifted by one column: TP 12, Dice 24/32
    approx(r1.dice, 0.75, 'dice 1');
    approx(r1.dice, computeDice(pred.eq(1), gt.eq(1)), 'dice 1 one-vs-rest');
    approx(r1.hd, computeHausdorff(pred.eq(1), gt.eq(1)), 'hd 1');
    assert.deepEqual([r2.dice, r2.hd, r2.nsd, r2.emptyRule], [1, 0, 1, null]);
    assert.equal(r3.emptyRule, 'gt-empty');
    assert.equal(r3.failed, true);
    assert.equal(r3.case, 'c1');
    // an explicitly requested label absent from both masks is a both-empty record, not silently skipped
    const [r9] = evaluateCase(pred, gt, { labels: [9] });
    assert.equal(r9!.emptyRule, 'both-empty');
    // CVPR24 scores 1..max(gt) only
    assert.deepEqual(evaluateCase(pred, gt, { convention: 'cvpr24' }).map((r) => r.label), [1, 2]);
  });
});

test('counting metrics: precision, recall, specificity from counts', () => {
  tidy(() => {
    const pred = tensor(new Uint8Array([1, 1, 1, 0, 0, 0]), [2, 3]);
    const gt = tensor(new Uint8Array([1, 0, 0, 1, 0, 0]), [2, 3]);
    assert.equal(computePrecision(pred, gt), 1 / 3); // TP 1, FP 2
    assert.equal(computeRecall(pred, gt), 1 / 2); // FN 1
    assert.equal(computeSpecificity(pred, gt), 2 / 4); // TN 2, FP 2
    assert.equal(computeIoU(pred, gt), 1 / 4);
  });
});

test('no tensors leak from the metric functions', () => {
  const pred = boxMask([9, 9, 9], [[[1, 5], [2, 6], [1, 4]]]);
  const gt = boxMask([9, 9, 9], [[[2, 6], [2, 5], [2, 6]]]);
  const live = memory().liveTensors;
  for (const convention of CONVENTION_NAMES) evaluateCase(pred, gt, { convention, spacing: [1.5, 1, 0.7] });
  computeHausdorff95(pred, gt);
  computeSurfaceDice(pred, gt, { convention: 'cvpr24' });
  assert.equal(memory().liveTensors, live);
  pred.dispose();
  gt.dispose();
});
