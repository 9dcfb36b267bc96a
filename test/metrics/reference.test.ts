// Random 2D and 3D masks (several seeds, spacings, tolerances, multi-label) against the independent Python
// implementation in reference.ts, to 1e-6: the default convention in full, plus MedPy's pooled HD95, MONAI's
// directed ASD and pixel-count NSD, and DeepMind's area-weighted HD95 and ASD.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Tensor, tidy } from '../../src/engine/index.ts';
import { type MetricRecord, evaluateCase, surfaceAreaTable } from '../../src/metrics/index.ts';
import { close, randomLabels, values } from './helpers.ts';
import { type ReferenceCase, type ReferenceValues, referenceUnavailable, runReference } from './reference.ts';

interface Case { name: string; pred: Tensor; gt: Tensor; spacing: number[]; tolerance: number; labels: number[] }

function makeCases(): Case[] {
  const cases: Case[] = [];
  const spacings2d = [[1, 1], [0.7, 1.3], [2, 0.5]];
  const spacings3d = [[1, 1, 1], [2, 1, 0.5], [3, 0.8, 0.8]];
  for (let seed = 0; seed < 3; seed++) {
    spacings2d.forEach((spacing, k) => {
      const shape = [40 + 3 * seed, 52 - 2 * k];
      cases.push({ name: `2d seed ${seed} spacing ${spacing}`, pred: randomLabels(shape, 100 + 10 * seed + k), gt: randomLabels(shape, 200 + 10 * seed + k), spacing, tolerance: [1, 1.5, 2][k]!, labels: [1] });
    });
    spacings3d.forEach((spacing, k) => {
      const shape = [12 + seed, 16, 18 - k];
      cases.push({ name: `3d seed ${seed} spacing ${spacing}`, pred: randomLabels(shape, 300 + 10 * seed + k), gt: randomLabels(shape, 400 + 10 * seed + k), spacing, tolerance: [1, 2, 2.5][k]!, labels: [1] });
    });
  }
  // multi-label, and a prediction that is a perturbed copy of the truth (mostly zero distances, a few far ones)
  for (const [shape, spacing] of [[[36, 44], [0.9, 1.1]], [[10, 14, 15], [2.5, 0.9, 0.9]]] as [number[], number[]][]) {
    const gt = randomLabels(shape, 7, 3);
    const pred = tidy(() => gt.maskedFill(randomLabels(shape, 8, 1, 0.003).eq(1), 2));
    cases.push({ name: `${shape.length}d multi-label ${shape}`, pred, gt, spacing, tolerance: 1.2, labels: [1, 2, 3] });
  }
  return cases;
}

const DEFAULT_KEYS = ['dice', 'iou', 'hd', 'hd95', 'assd', 'nsd', 'precision', 'recall'] as const;

function compare(name: string, got: MetricRecord, want: ReferenceValues, key: keyof MetricRecord, refKey: string): void {
  const a = got[key] as number | null, e = want[refKey] ?? null;
  assert.ok(close(a, e), `${name} label ${got.label} ${refKey}: reference ${e}, samtutor ${a}`);
}

test('random masks agree with the independent reference to 1e-6', (t) => {
  const why = referenceUnavailable();
  if (why) { t.skip(why); return; }
  const cases = makeCases();
  try {
    const input: ReferenceCase[] = cases.map((c) => ({
      shape: c.pred.shape, pred: values(c.pred), gt: values(c.gt), spacing: c.spacing, labels: c.labels, tolerance: c.tolerance,
      table3d: c.spacing.length === 3 ? [...surfaceAreaTable(c.spacing)] : undefined,
    }));
    const ref = runReference(input);
    t.diagnostic(`reference used ${ref.scipy ? 'scipy.ndimage' : 'NumPy brute force'}`);
    let compared = 0, nonEmpty = 0;
    cases.forEach((c, i) => {
      const opts = { spacing: c.spacing, tolerance: c.tolerance, labels: c.labels };
      const def = evaluateCase(c.pred, c.gt, opts);
      const medpy = evaluateCase(c.pred, c.gt, { ...opts, convention: 'medpy' });
      const monai = evaluateCase(c.pred, c.gt, { ...opts, convention: 'monai' });
      const dm = evaluateCase(c.pred, c.gt, { ...opts, convention: 'deepmind' });
      c.labels.forEach((label, j) => {
        const want = ref.results[i]![j]!;
        for (const k of DEFAULT_KEYS) compare(c.name, def[j]!, want, k, k);
        compared += DEFAULT_KEYS.length;
        if (want.medpy_hd95 === undefined) return; // an empty side: the alternatives are not compared
        nonEmpty++;
        compare(c.name, medpy[j]!, want, 'hd95', 'medpy_hd95');
        compare(c.name, monai[j]!, want, 'assd', 'monai_asd');
        compare(c.name, monai[j]!, want, 'nsd', 'px_nsd');
        compare(c.name, dm[j]!, want, 'hd95', 'dm_hd95');
        compare(c.name, dm[j]!, want, 'assd', 'dm_assd');
        compared += 5;
        assert.equal(def[j]!.label, label);
      });
    });
    assert.ok(nonEmpty >= cases.length, `expected mostly non-empty pairs, got ${nonEmpty}`);
    t.diagnostic(`${compared} values compared over ${cases.length} cases`);
  } finally {
    for (const c of cases) { c.pred.dispose(); c.gt.dispose(); }
  }
});
