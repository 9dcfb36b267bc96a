// samtutor evaluate, called directly: pairing, missing cases, spacing from NIfTI headers and --spacing, labels,
// the files it writes, its usage errors, and a real-data run (Kvasir ground truth against itself).
// Expected values: (i) and (vi) are the worked examples of ../shared/reference/metrics.md §5 (Dice by hand:
// (i) 2·40/(64+64) = 0.625, (vi) 2·36/(36+42) = 12/13); the other distances are derived in the comments.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Tensor, tensor } from '../../src/engine/index.ts';
import { discoverDataset, disposeSample, loadSample, makeGeometry, writeMask, writeNifti } from '../../src/data/index.ts';
import { evaluateCommand, evaluateFolders, parseLabels, parseSpacing, type EvaluateReport } from '../../src/cli/evaluate.ts';
import { UsageError } from '../../src/cli/usage.ts';

const REPO = join(import.meta.dirname, '..', '..');
const KVASIR = join(REPO, '..', 'shared', 'data', 'polyp-kvasir-256');
const root = mkdtempSync(join(tmpdir(), 'samtutor-eval-'));
after(() => rmSync(root, { recursive: true, force: true }));

type Box = [label: number, ranges: [number, number][]]; // inclusive index ranges per axis
/** A uint8 label map of `shape` with labelled boxes. */
function boxes(shape: number[], list: Box[]): Tensor {
  const data = new Uint8Array(shape.reduce((a, b) => a * b, 1));
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  data.forEach((_, flat) => {
    const idx = strides.map((s, i) => Math.floor(flat / s) % shape[i]!);
    for (const [label, r] of list) if (r.every(([lo, hi], i) => idx[i]! >= lo && idx[i]! <= hi)) data[flat] = label;
  });
  return tensor(data, shape);
}
async function png(path: string, shape: number[], list: Box[], mode: 'binary' | 'labels' = 'binary'): Promise<void> {
  const t = boxes(shape, list);
  await writeMask(path, t, { mode });
  t.dispose();
}
async function nii(path: string, shape: [number, number, number], spacing: [number, number, number], list: Box[]): Promise<void> {
  const t = boxes(shape, list);
  await writeNifti(path, t, makeGeometry(shape, spacing));
  t.dispose();
}
const close = (a: number | null, b: number, tol = 1e-6): void => assert.ok(a !== null && Math.abs(a - b) <= tol, `${a} vs ${b}`);
const byCase = (r: EvaluateReport, id: string, label = 1) => r.records.find((x) => x.case === id && x.label === label)!;

// 2D: (i) 20×20 square shifted 3 px along x; (vi) 12×12, the prediction one row taller at the image edge.
const d2 = join(root, 'd2');
const ready2d = (async () => {
  await png(join(d2, 'gt', 'shift_mask.png'), [20, 20], [[1, [[4, 11], [4, 11]]]]);
  await png(join(d2, 'pred', 'shift.png'), [20, 20], [[1, [[4, 11], [7, 14]]]]);
  await png(join(d2, 'gt', 'edge_mask.png'), [12, 12], [[1, [[0, 5], [0, 5]]]]);
  await png(join(d2, 'pred', 'edge.png'), [12, 12], [[1, [[0, 6], [0, 5]]]]);
  await png(join(d2, 'pred', 'edge_overlay.png'), [12, 12], []); // what predict writes beside masks: ignored
  await png(join(d2, 'pred', 'edge_prob.png'), [12, 12], []);
  await png(join(d2, 'gt', 'nopred_mask.png'), [12, 12], [[1, [[1, 2], [1, 2]]]]); // no prediction: missing
})();

test('2D PNG folders: pairs by stem and mask suffix, skips overlays, reports missing cases, hand-computed values', async () => {
  await ready2d;
  const r = await evaluateFolders({ pred: join(d2, 'pred'), gt: join(d2, 'gt'), tolerance: 1 });
  assert.deepEqual(r.records.map((x) => x.case).sort(), ['edge', 'shift']);
  assert.deepEqual(r.missing, ['nopred']);
  assert.deepEqual(r.ignored.sort(), ['edge_overlay.png', 'edge_prob.png']);
  const i = byCase(r, 'shift'), vi = byCase(r, 'edge');
  close(i.dice, 0.625); close(i.iou, 0.454545); close(i.hd95, 3); close(i.assd, 1.5); close(i.nsd, 0.5);
  close(vi.dice, 12 / 13); close(vi.hd95, 1); close(vi.assd, 0.238095);
  assert.deepEqual(i.spacing, [1, 1]);
  assert.equal(r.summary.cases, 2);
});

test('2D --spacing x,y is reversed to [sy, sx]: a 3 px shift along x at sx = 2 gives HD95 6', async () => {
  await ready2d;
  assert.deepEqual(parseSpacing('2,1'), [1, 2]);
  // Every pixel of P's far column (8 of 28 boundary pixels, more than 5 %) is 3 px × 2 from G's; nothing is farther.
  const r = await evaluateFolders({ pred: join(d2, 'pred'), gt: join(d2, 'gt'), spacing: parseSpacing('2,1') });
  close(byCase(r, 'shift').hd95, 6);
  assert.deepEqual(byCase(r, 'shift').spacing, [1, 2]);
  // In the wrong order (sy = 2) the x shift would stay 3.
  const wrong = await evaluateFolders({ pred: join(d2, 'pred'), gt: join(d2, 'gt'), spacing: [2, 1] });
  close(byCase(wrong, 'shift').hd95, 3);
});

test('label-index PNGs are scored per label; --labels restricts them', async () => {
  const d = join(root, 'labels2d');
  await png(join(d, 'gt', 'a.png'), [10, 10], [[1, [[0, 3], [0, 3]]], [2, [[6, 9], [6, 9]]]], 'labels');
  await png(join(d, 'pred', 'a.png'), [10, 10], [[1, [[0, 3], [0, 3]]], [2, [[6, 9], [8, 9]]]], 'labels');
  const r = await evaluateFolders({ pred: join(d, 'pred'), gt: join(d, 'gt') });
  assert.deepEqual(r.records.map((x) => x.label), [1, 2]);
  close(byCase(r, 'a', 1).dice, 1);
  close(byCase(r, 'a', 2).dice, (2 * 8) / (16 + 8)); // a 4×2 prediction inside a 4×4 truth
  const only2 = await evaluateFolders({ pred: join(d, 'pred'), gt: join(d, 'gt'), labels: parseLabels('2') });
  assert.deepEqual(only2.records.map((x) => x.label), [2]);
});

test('ground truth in several parts (x_mask_1, x_mask_2, as BUSI) is merged by union', async () => {
  const d = join(root, 'parts');
  await png(join(d, 'gt', 'x_mask_1.png'), [10, 10], [[1, [[0, 3], [0, 3]]]]);
  await png(join(d, 'gt', 'x_mask_2.png'), [10, 10], [[1, [[6, 9], [6, 9]]]]);
  await png(join(d, 'pred', 'x.png'), [10, 10], [[1, [[0, 3], [0, 3]]]]);
  const r = await evaluateFolders({ pred: join(d, 'pred'), gt: join(d, 'gt') });
  assert.deepEqual(r.missing, []);
  close(byCase(r, 'x').dice, (2 * 16) / (16 + 32)); // one of two 4×4 parts found
});

// 3D, spacing [2, 1, 0.5] (tensor order) in the header. Label 1 is worked example (iii); label 2 is a 4×3×4 box
// shifted one voxel along axis 0: Dice 2·36/96 = 0.75; the 12 voxels of each moved face are 1 voxel × 2 mm from the
// other box's face and all else is closer, so HD = HD95 = 2 mm (12 of 44 boundary voxels exceed the top 5 %).
const d3 = join(root, 'd3');
const ready3d = (async () => {
  const shape: [number, number, number] = [10, 12, 16];
  await nii(join(d3, 'gt', 'vol.nii.gz'), shape, [2, 1, 0.5], [[1, [[2, 6], [3, 8], [4, 11]]], [2, [[2, 5], [9, 11], [0, 3]]]]);
  await nii(join(d3, 'pred', 'vol.nii.gz'), shape, [2, 1, 0.5], [[1, [[3, 7], [3, 8], [6, 13]]], [2, [[3, 6], [9, 11], [0, 3]]]]);
})();

test('3D multi-label NIfTI: anisotropic spacing read from the header', async () => {
  await ready3d;
  const r = await evaluateFolders({ pred: join(d3, 'pred'), gt: join(d3, 'gt') });
  const [l1, l2] = [byCase(r, 'vol', 1), byCase(r, 'vol', 2)];
  assert.deepEqual(l1.spacing, [2, 1, 0.5]);
  close(l1.dice, 0.6); close(l1.hd, 2.236068); close(l1.hd95, 2.061553); close(l1.assd, 0.927296);
  close(l2.dice, 0.75); close(l2.hd, 2); close(l2.hd95, 2);
});

test('3D --spacing overrides the header: x,y,z order, one value isotropic', async () => {
  await ready3d;
  const run = async (s: string) => evaluateFolders({ pred: join(d3, 'pred'), gt: join(d3, 'gt'), spacing: parseSpacing(s) });
  const same = await run('0.5,1,2'); // x-first spelling of the header's spacing
  close(byCase(same, 'vol', 1).hd95, 2.061553);
  close(byCase(await run('1'), 'vol', 2).hd95, 1); // isotropic 1: the one-voxel shift is 1
  close(byCase(await run('2,1,0.5'), 'vol', 2).hd95, 0.5); // axis 0 now 0.5 mm
  await assert.rejects(run('1,1'), (e: Error) => e instanceof UsageError && /--spacing has 2 values but case vol is 3D \[10, 12, 16\]/.test(e.message));
});

test('usage errors: unpaired predictions, shape mismatch, ambiguous stems, bad flags', async () => {
  await Promise.all([ready2d, ready3d]);
  const d = join(root, 'bad');
  await png(join(d, 'pred', 'shift.png'), [20, 20], []);
  await png(join(d, 'pred', 'stray1.png'), [20, 20], []);
  await png(join(d, 'pred', 'stray2.png'), [20, 20], []);
  const usage = (re: RegExp) => (e: Error): boolean => e instanceof UsageError && re.test(e.message) && !e.message.includes('\n');
  await assert.rejects(evaluateFolders({ pred: join(d, 'pred'), gt: join(d2, 'gt') }),
    usage(/^2 prediction\(s\) have no ground truth in .*: stray1\.png, stray2\.png/));
  await png(join(d, 'pred2', 'shift.png'), [20, 21], []);
  await assert.rejects(evaluateFolders({ pred: join(d, 'pred2'), gt: join(d2, 'gt') }),
    usage(/shape mismatch for case shift: prediction shift\.png is \[20, 21\] but ground truth shift_mask\.png is \[20, 20\]/));
  await png(join(d, 'pred3', 'vol.png'), [12, 16], []);
  await assert.rejects(evaluateFolders({ pred: join(d, 'pred3'), gt: join(d3, 'gt') }),
    usage(/shape mismatch for case vol: prediction vol\.png is \[12, 16\] but ground truth vol\.nii\.gz is \[10, 12, 16\]/));
  await png(join(d, 'pred4', 'shift.png'), [20, 20], []);
  await png(join(d, 'pred4', 'shift.bmp'), [20, 20], []);
  await assert.rejects(evaluateFolders({ pred: join(d, 'pred4'), gt: join(d2, 'gt') }), usage(/two predictions share the stem "shift"/));
  await assert.rejects(evaluateFolders({ pred: join(d, 'nothere'), gt: join(d2, 'gt') }), usage(/--pred .*nothere: not a folder/));
  assert.throws(() => parseSpacing('1,0'), usage(/--spacing 1,0: expected one, two or three positive numbers/));
  assert.throws(() => parseSpacing('1,2,3,4'), usage(/--spacing/));
  assert.throws(() => parseLabels('1,x'), usage(/--labels 1,x: expected a comma-separated list of labels >= 1/));
  assert.throws(() => parseLabels('0'), usage(/--labels 0/));
  const base = { pred: join(d2, 'pred'), gt: join(d2, 'gt'), convention: 'default', tolerance: 2, quiet: true };
  await assert.rejects(evaluateCommand({ ...base, out: join(d, 'x.csv') }), usage(/--out .*x\.csv: expected a \.json file/));
  await assert.rejects(evaluateCommand({ ...base, out: join(d, 'x.json'), convention: 'nnunet' }), usage(/--convention nnunet: expected one of default, medpy/));
});

test('writes the summary JSON and the CSV beside it, atomically (no temporary files left)', async () => {
  await ready2d;
  const outDir = join(root, 'out');
  const r = await evaluateCommand({ pred: join(d2, 'pred'), gt: join(d2, 'gt'), out: join(outDir, 'scores.json'), convention: 'medpy', tolerance: 1, quiet: true });
  assert.deepEqual(readdirSync(outDir).sort(), ['scores.csv', 'scores.json']);
  const json = JSON.parse(readFileSync(join(outDir, 'scores.json'), 'utf8'));
  assert.equal(json.cases, 2);
  assert.deepEqual(json.conventions, ['medpy']);
  assert.deepEqual(json.missing, { count: 1, ids: ['nopred'] });
  close(json.perLabel['1'].metrics.dice.mean, (0.625 + 12 / 13) / 2);
  const csv = readFileSync(join(outDir, 'scores.csv'), 'utf8').trim().split('\n');
  assert.equal(csv.length, 3);
  assert.match(csv[0]!, /^case,label,dice,iou,hd,hd95,/);
  assert.equal(r.records.length, 2);
});

test('real data: the first 20 Kvasir masks, written as 0/255 PNG predictions, against the dataset', async () => {
  const index = await discoverDataset(KVASIR);
  const pred = join(root, 'kvasir-pred');
  const ids = index.samples.slice(0, 20).map((s) => s.id);
  for (const rec of index.samples.slice(0, 20)) {
    const s = await loadSample(rec, { extras: false }, index); // decodes the JPEG-noisy masks at 128
    await writeMask(join(pred, `${rec.id}.png`), s.mask!);
    disposeSample(s);
  }
  const r = await evaluateFolders({ pred, gt: KVASIR });
  assert.deepEqual(r.records.map((x) => x.case).sort(), [...ids].sort());
  assert.equal(r.missing.length, index.samples.length - 20);
  for (const x of r.records) {
    assert.equal(x.dice, 1, x.case);
    assert.equal(x.hd95, 0, x.case);
  }
  // A plain mask folder (JPEG masks, 'auto' → threshold) gives the same pairing and values.
  const plain = await evaluateFolders({ pred, gt: join(KVASIR, 'masks') });
  assert.equal(plain.records.length, 20);
  assert.ok(plain.records.every((x) => x.dice === 1 && x.hd95 === 0));
});
