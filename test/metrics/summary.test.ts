// Aggregation, CSV and JSON: undefined values are counted, never silently dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tidy } from '../../src/engine/index.ts';
import {
  type MetricRecord, evaluateCase, recordsToCsv, reduce, summarize, writeRecordsCsv, writeSummaryJson,
} from '../../src/metrics/index.ts';
import { boxMask } from './helpers.ts';

function cases(convention: 'default' | 'monai' = 'default'): MetricRecord[] {
  return tidy(() => {
    const shape = [12, 12];
    const gt = boxMask(shape, [[[2, 6], [2, 6]]]);
    return [
      ...evaluateCase(boxMask(shape, [[[2, 6], [3, 7]]]), gt, { caseId: 'shifted', convention }), // regular
      ...evaluateCase(boxMask(shape, []), gt, { caseId: 'missed', convention }), // pred empty → failed
      ...evaluateCase(boxMask(shape, []), boxMask(shape, []), { caseId: 'empty, both', convention }), // both empty
      ...evaluateCase(gt, gt, { caseId: 'perfect', convention }),
    ];
  });
}

test('reduce skips null, NaN and ±inf and reports the count used', () => {
  const v = [1, null, 3, NaN, Infinity, 2];
  assert.deepEqual(reduce(v, 'mean'), { value: 2, count: 3 });
  assert.deepEqual(reduce(v, 'median'), { value: 2, count: 3 });
  assert.deepEqual(reduce([1, 2, 3, 4], 'median'), { value: 2.5, count: 4 });
  assert.ok(Math.abs(reduce(v, 'std').value! - Math.sqrt(2 / 3)) < 1e-15);
  assert.deepEqual(reduce([null, NaN], 'max'), { value: null, count: 0 });
  assert.throws(() => reduce(v, 'sum' as 'mean'), /Expected one of mean, std, median, min, max for reduction/);
});

test('summary states empty and failed counts and what each statistic left out', () => {
  const s = summarize(cases());
  assert.equal(s.cases, 4);
  assert.deepEqual([s.overall.records, s.overall.bothEmpty, s.overall.predEmpty, s.overall.failed], [4, 1, 1, 1]);
  const hd = s.overall.metrics.hd;
  assert.equal(hd.count, 3); // shifted, both-empty (0 by rule), perfect
  assert.equal(hd.nNull, 1); // the missed case: undefined, counted, not averaged
  assert.equal(s.overall.metrics.dice.count, 4);
  assert.ok(Math.abs(s.overall.metrics.dice.mean! - (0.8 + 0 + 1 + 1) / 4) < 1e-12);
  assert.deepEqual(Object.keys(s.perLabel), ['1']);
  // MONAI's NaN/inf are counted separately
  const m = summarize(cases('monai')).overall.metrics;
  assert.deepEqual([m.hd.nInf, m.hd.nNaN, m.hd95.nNaN, m.dice.nNaN], [1, 1, 2, 1]);
});

test('per-case CSV: one row per record, null empty, NaN/inf spelled, quoting, full precision', () => {
  const csv = recordsToCsv(cases('monai'));
  const lines = csv.trimEnd().split('\n');
  assert.equal(lines[0], 'case,label,dice,iou,hd,hd95,assd,nsd,precision,recall,emptyRule,failed,shape,spacing,convention,tolerance');
  assert.equal(lines.length, 5);
  assert.match(lines[2]!, /^missed,1,0,0,inf,nan,inf,0,nan,0,pred-empty,true,12x12,1x1,monai,1$/);
  assert.match(lines[3]!, /^"empty, both",1,nan,nan,/);
  const d = recordsToCsv(cases()).split('\n')[2]!;
  assert.match(d, /^missed,1,0,0,,,,,0,0,pred-empty,true,/);
  assert.match(recordsToCsv(cases()).split('\n')[1]!, /^shifted,1,0\.8,0\.6666666666666666,/);
});

test('CSV and summary JSON files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'samtutor-metrics-'));
  try {
    const records = cases();
    writeRecordsCsv(join(dir, 'out', 'cases.csv'), records);
    writeSummaryJson(join(dir, 'out', 'summary.json'), summarize(records));
    assert.equal(readFileSync(join(dir, 'out', 'cases.csv'), 'utf8'), recordsToCsv(records));
    const json = JSON.parse(readFileSync(join(dir, 'out', 'summary.json'), 'utf8'));
    assert.equal(json.overall.failed, 1);
    assert.equal(json.overall.metrics.hd.nNull, 1);
    assert.deepEqual(json.conventions, ['default']);
    assert.match(json.note, /finite values only/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
