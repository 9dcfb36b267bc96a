// Argument checks (sharp-style messages) and accepted input types.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tidy } from '../../src/engine/index.ts';
import { CONVENTIONS, computeDice, evaluateCase, resolveConvention } from '../../src/metrics/index.ts';
import { boxMask } from './helpers.ts';

test('bad arguments are rejected before any native work, naming the argument', () => {
  tidy(() => {
    const a = boxMask([5, 6], [[[1, 2], [1, 3]]]);
    assert.throws(() => evaluateCase(a, boxMask([6, 5], [])), /pred shape \[5, 6\] and gt shape \[6, 5\] differ/);
    assert.throws(() => evaluateCase(a.flatten(), a.flatten()), /expected a 2D \[H, W\] or 3D \[D, H, W\] mask for pred but received shape \[30\]/);
    assert.throws(() => evaluateCase(a, a, { spacing: [1, 1, 1] }), /Expected a positive number or a list of 2 positive numbers .* for spacing but received \[1, 1, 1\]/);
    assert.throws(() => evaluateCase(a, a, { spacing: -1 }), /for spacing but received -1/);
    assert.throws(() => evaluateCase(a, a, { tolerance: -0.5 }), /Expected a finite number >= 0 for tolerance but received -0.5/);
    assert.throws(() => evaluateCase(a, a, { convention: 'nnunet' as 'default' }), /Expected one of default, medpy, monai, deepmind, cvpr24 for convention but received nnunet/);
    assert.throws(() => evaluateCase(a, a, { labels: [0] }), /Expected integer >= 1 for labels\[0\] but received 0/);
    assert.throws(() => evaluateCase(a.to('float32').mul(0.5), a), /Expected an integer or boolean label map .* for pred/);
    assert.throws(() => computeDice(a, [1, 2] as never), /Expected a Tensor for computeDice gt/);
    assert.throws(() => resolveConvention('default', { percentile: 'area-weighted' }), /boundary 'surfel'/);
  });
});

test('any integer or bool dtype, and integral floats, give the same records', () => {
  tidy(() => {
    const p = boxMask([7, 8], [[[1, 4], [2, 6]]]), g = boxMask([7, 8], [[[2, 5], [1, 5]]]);
    const ref = evaluateCase(p, g);
    for (const dtype of ['bool', 'int8', 'int16', 'int32', 'int64', 'float32', 'float64'] as const) {
      assert.deepEqual(evaluateCase(p.to(dtype), g.to(dtype)), ref, dtype);
    }
    const scalarSpacing = evaluateCase(p, g, { spacing: 0.5 })[0]!;
    assert.deepEqual(scalarSpacing.spacing, [0.5, 0.5]);
    assert.equal(scalarSpacing.hd, ref[0]!.hd! * 0.5);
  });
});

test('the convention registry is frozen and each entry documents its departures', () => {
  assert.ok(Object.isFrozen(CONVENTIONS) && Object.isFrozen(CONVENTIONS.monai));
  for (const spec of Object.values(CONVENTIONS)) assert.ok(spec.notes.length > 0, spec.name);
  assert.equal(resolveConvention('monai', { assd: 'pooled' }).assd, 'pooled');
});
