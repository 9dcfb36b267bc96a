// The worked examples of ../shared/reference/metrics.md §5, to 1e-6, under every convention they give numbers for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Tensor, memory, tidy } from '../../src/engine/index.ts';
import {
  type ConventionName, type ConventionOverrides, type MetricRecord, evaluateCase, surfelSurfaceDistances,
} from '../../src/metrics/index.ts';
import { weightedSums } from '../../src/metrics/distances.ts';
import { boxMask, close } from './helpers.ts';

interface Example { pred: () => Tensor; gt: () => Tensor; spacing: number[] }
const square8 = (cols: [number, number]) => boxMask([20, 20], [[[4, 11], cols]]);
const EXAMPLES: Record<string, Example> = {
  i: { pred: () => square8([7, 14]), gt: () => square8([4, 11]), spacing: [1, 1] },
  ii: { pred: () => boxMask([11, 11], [[[5, 5], [5, 5]]]), gt: () => boxMask([11, 11], [[[4, 6], [4, 6]]]), spacing: [1, 1] },
  iii: {
    pred: () => boxMask([10, 12, 16], [[[3, 7], [3, 8], [6, 13]]]),
    gt: () => boxMask([10, 12, 16], [[[2, 6], [3, 8], [4, 11]]]),
    spacing: [2.0, 1.0, 0.5],
  },
  iv: { pred: () => boxMask([20, 20], []), gt: () => square8([4, 11]), spacing: [1, 1] },
  v: { pred: () => boxMask([20, 20], []), gt: () => boxMask([20, 20], []), spacing: [1, 1] },
  vi: { pred: () => boxMask([12, 12], [[[0, 6], [0, 5]]]), gt: () => boxMask([12, 12], [[[0, 5], [0, 5]]]), spacing: [1, 1] },
  vii: {
    pred: () => boxMask([30, 30], [[[5, 14], [2, 11]], [[5, 6], [22, 23]]]),
    gt: () => boxMask([30, 30], [[[5, 14], [2, 11]]]),
    spacing: [1, 1],
  },
};

function run(name: string, convention: ConventionName, opts: { tolerance?: number; overrides?: ConventionOverrides } = {}): MetricRecord {
  const ex = EXAMPLES[name]!;
  return tidy(() => {
    const records = evaluateCase(ex.pred(), ex.gt(), { spacing: ex.spacing, convention, labels: [1], ...opts });
    assert.equal(records.length, 1);
    return records[0]!;
  });
}

type Row = (number | null | 'skip')[];
function check(name: string, actual: (number | null)[], expected: Row, columns: string[]): void {
  expected.forEach((e, k) => {
    if (e === 'skip') return;
    assert.ok(close(actual[k]!, e), `case ${name} ${columns[k]}: expected ${e} but got ${actual[k]}`);
  });
}

test('default convention: metrics.md table (Dice, IoU, HD, HD95, ASSD, NSD@1, px-NSD@1)', () => {
  const live = memory().liveTensors;
  const table: Record<string, Row> = {
    i: [0.625, 0.454545, 3, 3, 1.5, 0.5, 0.5],
    ii: [0.2, 0.111111, 1.414214, 1.414214, 1.184095, 0.792893, 0.555556],
    iii: [0.6, 0.428571, 2.236068, 2.061553, 0.927296, 0.818509, 0.690476],
    iv: [0, 0, null, null, null, null, 'skip'],
    v: [1, 1, 0, 0, 0, 1, 'skip'],
    vi: [0.923077, 0.857143, 1, 1, 0.238095, 1, 1],
    vii: [0.980392, 0.961538, 12, 11.05, 0.605263, 0.919176, 0.947368],
  };
  for (const [name, row] of Object.entries(table)) {
    const r = run(name, 'default');
    const px = run(name, 'default', { overrides: { nsd: 'pixel-count' } });
    check(name, [r.dice, r.iou, r.hd, r.hd95, r.assd, r.nsd, px.nsd], row, ['dice', 'iou', 'hd', 'hd95', 'assd', 'nsd', 'px-nsd']);
  }
  assert.equal(memory().liveTensors, live, 'evaluateCase leaked tensors');
});

test('default convention: empty rules and failure flags on cases iv and v', () => {
  const iv = run('iv', 'default');
  assert.equal(iv.emptyRule, 'pred-empty');
  assert.equal(iv.failed, true);
  const v = run('v', 'default');
  assert.equal(v.emptyRule, 'both-empty');
  assert.equal(v.failed, false);
  assert.deepEqual([v.precision, v.recall], [1, 1]);
});

test('MedPy convention: dc, jc, hd, hd95 (pooled), assd; assd ≤ 0.4 via overrides', () => {
  const table: Record<string, Row> = {
    i: [0.625, 0.454545, 3, 3, 1.5, 1.5],
    ii: [0.2, 0.111111, 1.414214, 1.414214, 1.184095, 1.103553],
    iii: [0.6, 0.428571, 2.236068, 2.061553, 0.927296, 0.927296],
    iv: [0, 0, null, null, null, null],
    v: [1, 1, null, null, null, null],
    vi: [0.923077, 0.857143, 1, 1, 0.238095, 0.236364],
    vii: [0.980392, 0.961538, 12, 2.75, 0.605263, 0.575],
  };
  for (const [name, row] of Object.entries(table)) {
    const r = run(name, 'medpy');
    const old = run(name, 'medpy', { overrides: { assd: 'mean-of-directed-means' } });
    check(name, [r.dice, r.iou, r.hd, r.hd95, r.assd, old.assd], row, ['dc', 'jc', 'hd', 'hd95', 'assd', 'assd<=0.4']);
  }
  assert.equal(run('iv', 'medpy').precision, 0); // MedPy precision with no predicted foreground
});

test('MONAI convention: Dice, IoU, HD, HD95, ASD directed and symmetric, pixel-count NSD@1', () => {
  const table: Record<string, Row> = {
    i: [0.625, 0.454545, 3, 3, 1.5, 1.5, 0.5],
    ii: [0.2, 0.111111, 1.414214, 1.414214, 1, 1.184095, 0.555556],
    iii: [0.6, 0.428571, 2.236068, 2.061553, 0.927296, 0.927296, 0.690476],
    iv: [0, 0, Infinity, NaN, Infinity, Infinity, 0],
    v: [NaN, NaN, NaN, NaN, NaN, NaN, NaN],
    vi: [0.923077, 0.857143, 1, 1, 0.272727, 0.238095, 1],
    vii: [0.980392, 0.961538, 12, 11.05, 1.15, 0.605263, 0.947368],
  };
  for (const [name, row] of Object.entries(table)) {
    const r = run(name, 'monai');
    const sym = run(name, 'monai', { overrides: { assd: 'pooled' } });
    check(name, [r.dice, r.iou, r.hd, r.hd95, r.assd, sym.assd, r.nsd], row, ['dice', 'iou', 'hd', 'hd95', 'asd', 'asd-sym', 'nsd']);
  }
  assert.ok(Number.isNaN(run('iv', 'monai').precision!)); // ConfusionMatrixMetric: 0/0 → NaN
});

test('DeepMind convention: Dice, HD, HD95, ASD pair and its mean, NSD@1', () => {
  const table: Record<string, Row> = {
    i: [0.625, 3, 3, 1.5, 1.5, 1.5, 0.5],
    ii: [0.2, 1.414214, 1.414214, 1.108194, 1, 1.054097, 0.792893],
    iii: [0.6, 2.236068, 2, 0.813451, 0.813451, 0.813451, 0.818509],
    iv: [0, Infinity, Infinity, 'skip', 'skip', NaN, 0],
    v: [NaN, Infinity, Infinity, 'skip', 'skip', NaN, NaN],
    vi: [0.923077, 1, 1, 0.219025, 0.258342, 0.238683, 1],
    vii: [0.980392, 12, 12, 0, 1.645157, 0.822579, 0.919176],
  };
  for (const [name, row] of Object.entries(table)) {
    const r = run(name, 'deepmind');
    const ex = EXAMPLES[name]!;
    const pair = tidy(() => {
      const sd = surfelSurfaceDistances(ex.pred().ne(0), ex.gt().ne(0), ex.spacing);
      const mean = (l: typeof sd.gtToPred) => { const s = weightedSums(l); return s.sum / s.weight; };
      return [mean(sd.gtToPred), mean(sd.predToGt)];
    });
    check(name, [r.dice, r.hd, r.hd95, pair[0]!, pair[1]!, r.assd, r.nsd], row, ['dice', 'hd', 'hd95', 'asd G→P', 'asd P→G', 'mean', 'nsd']);
  }
});

test('NSD variants on the 2D cases: native 2D and CVPR24 2D-as-3D at τ = 1 and 2', () => {
  const table: Record<string, [number, number, number, number]> = {
    i: [0.5, 0.62975, 0.801953, 0.922734],
    ii: [0.792893, 1, 0.923959, 1],
    vii: [0.919176, 0.919176, 0.978597, 0.978597],
  };
  for (const [name, [n1, n2, c1, c2]] of Object.entries(table)) {
    const native = [1, 2].map((tolerance) => run(name, 'deepmind', { tolerance }).nsd);
    // the table shows the NSD itself; CVPR24's case gate (mean Dice > 0.2) is lifted to compare it
    const cvpr = [1, 2].map((tolerance) => run(name, 'cvpr24', { tolerance, overrides: { nsdDiceGate: null } }).nsd);
    check(name, [...native, ...cvpr], [n1, n2, c1, c2], ['2D τ1', '2D τ2', '2D-as-3D τ1', '2D-as-3D τ2']);
  }
});

test('CVPR24 convention: tolerance 2 by default and the Dice > 0.2 gate zeroes NSD', () => {
  const i = run('i', 'cvpr24');
  assert.equal(i.tolerance, 2);
  assert.ok(close(i.nsd, 0.922734));
  assert.equal(run('ii', 'cvpr24').nsd, 0); // Dice 0.2 is not > 0.2
});
