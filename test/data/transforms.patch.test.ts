// Patch sampling with foreground oversampling, and sliding-window inference with Gaussian blending (against a
// torch 1.13 transcription of MONAI's sliding_window_inference).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { F, Generator, type Tensor, arange, full, memory, rand, randn, tidy, zeros } from '../../src/engine/index.ts';
import {
  Compose, RandPatch, extractPatch, importanceMap, samplePatch, slidingWindowInference, windowStarts, type Sample,
} from '../../src/data/transforms/index.ts';
import { PYTHON as PY, maxAbsDiff } from '../helpers/torchRef.ts';


test('extractPatch pads outside the volume with the pad value', () => {
  tidy(() => {
    const x = arange(12, undefined, 1, { dtype: 'float32' }).reshape(1, 3, 4);
    assert.deepEqual(extractPatch(x, [-1, 2], [3, 3], -1).toArray(), [-1, -1, -1, 2, 3, -1, 6, 7, -1]);
    assert.deepEqual(extractPatch(x, [1, 1], [2, 2]).toArray(), [5, 6, 9, 10]);
    assert.throws(() => extractPatch(x, [5, 0], [2, 2]), /does not overlap the input along dim 0/);
  });
});

test('patch sampling: requested shape always (also for volumes smaller than the patch), seeded', () => {
  const before = memory().liveTensors;
  tidy(() => {
    const g = new Generator(0);
    const image = rand([2, 10, 30, 7]);
    const mask = zeros([1, 10, 30, 7], { dtype: 'uint8' });
    mask.narrow(1, 2, 3).narrow(2, 5, 4).narrow(3, 1, 2).fill_(1);
    for (let i = 0; i < 30; i++) {
      const p = samplePatch(image, mask, g, { patchSize: [16, 16, 16], foregroundProb: 0.5 });
      assert.deepEqual(p.image.shape, [2, 16, 16, 16]);
      assert.deepEqual(p.mask!.shape, [1, 16, 16, 16]);
      assert.ok(p.start[1]! >= 0 && p.start[1]! <= 14); // dim 1 is larger than the patch: stays inside
      assert.ok(p.start[0]! >= -6 && p.start[0]! <= 0); // dim 0 is smaller: whole extent at a random offset
      if (p.foreground) assert.ok(p.mask!.sum().item() > 0);
    }
    const a = samplePatch(image, mask, new Generator(9), { patchSize: [8, 8, 8] });
    const b = samplePatch(image, mask, new Generator(9), { patchSize: [8, 8, 8] });
    assert.deepEqual(a.start, b.start);
    assert.deepEqual(a.image.toArray(), b.image.toArray());
    const p2 = samplePatch(rand([1, 40, 50]), undefined, g, { patchSize: [32, 32] });
    assert.deepEqual(p2.image.shape, [1, 32, 32]);
    assert.equal(p2.foreground, false);
  });
  assert.equal(memory().liveTensors, before);
});

test('foreground oversampling hits foreground at the requested rate; classes are balanced', () => {
  tidy(() => {
    const g = new Generator(1);
    const mask = zeros([1, 48, 48, 48], { dtype: 'uint8' });
    mask.narrow(1, 0, 3).narrow(2, 0, 3).narrow(3, 0, 3).fill_(2); // tiny class in a corner
    mask.narrow(1, 30, 10).narrow(2, 30, 10).narrow(3, 30, 10).fill_(1); // larger class
    const image = zeros([1, 48, 48, 48]);
    const N = 300, prob = 0.33;
    let forced = 0, withFg = 0, small = 0;
    for (let i = 0; i < N; i++) {
      const p = samplePatch(image, mask, g, { patchSize: [12, 12, 12], foregroundProb: prob });
      const fg = p.mask!.gt(0).sum().item() > 0;
      if (p.foreground) {
        forced++;
        assert.ok(fg, 'a foreground patch must contain foreground');
        if (p.mask!.eq(2).sum().item() > 0) small++;
      }
      if (fg) withFg++;
    }
    const sd = Math.sqrt((prob * (1 - prob)) / N);
    assert.ok(Math.abs(forced / N - prob) < 4 * sd, `forced rate ${forced / N}`);
    assert.ok(withFg >= forced && withFg / N < prob + 0.2, `fg rate ${withFg / N}`);
    // class-balanced: the 27-voxel class is the centre about half of the time despite being 37× smaller
    const s = Math.sqrt(0.25 / forced);
    assert.ok(Math.abs(small / forced - 0.5) < 4 * s, `small-class share ${small / forced}`);
    // forced 1.0 with foregroundLabels [1] never picks class 2
    for (let i = 0; i < 10; i++) {
      const p = samplePatch(image, mask, g, { patchSize: [8, 8, 8], foregroundProb: 1, foregroundLabels: [1] });
      assert.ok(p.foreground && p.mask!.eq(1).sum().item() > 0);
    }
  });
});

test('RandPatch crops image and mask together and records the patch', () => {
  tidy(() => {
    const image = arange(2 * 20 * 24, undefined, 1, { dtype: 'float32' }).reshape(2, 20, 24);
    const sample: Sample = { image, mask: image.select(0, 0).unsqueeze(0).to('int64') };
    const pipe = new Compose([new RandPatch({ patchSize: [8, 8], foregroundProb: 0.5 })], { seed: 4 });
    for (let i = 0; i < 5; i++) {
      const out = pipe.apply(sample);
      assert.deepEqual(out.image.select(0, 0).unsqueeze(0).toArray(), out.mask!.toArray());
      const info = out.patch as { start: number[] };
      assert.equal(out.image.toArray()[0], info.start[0]! * 24 + info.start[1]!);
    }
  });
});

test('importance map: MONAI Gaussian by hand, clamped at 1e-3; constant mode is ones', () => {
  tidy(() => {
    const m = importanceMap([5, 4], 'gaussian', 0.125).toArray();
    const g = (x: number, s: number): number => Math.exp(-(x * x) / (2 * s * s));
    const expected: number[] = [];
    for (let i = 0; i < 5; i++) for (let j = 0; j < 4; j++) expected.push(Math.max(1e-3, g(i - 2, 0.625) * g(j - 1.5, 0.5)));
    assert.ok(maxAbsDiff(m, expected) < 1e-6);
    const wide = importanceMap([9, 9, 9], 'gaussian', 0.5).toArray();
    assert.ok(Math.abs(wide[364]! - 1) < 1e-7); // centre of an odd window
    assert.ok(importanceMap([3, 4], 'constant').toArray().every((v) => v === 1));
    assert.deepEqual(windowStarts(37, 16, 0.5), [0, 8, 16, 21]);
    assert.deepEqual(windowStarts(16, 16, 0.5), [0]);
    assert.deepEqual(windowStarts(20, 16, 0.9), [0, 1, 2, 3, 4]);
  });
});

test('sliding window: identity predictor returns the input, constant predictor the constant (2D, 3D, padding)', () => {
  const before = memory().liveTensors;
  tidy(() => {
    const cases: [number[], number[], number][] = [
      [[1, 2, 37, 41], [16, 16], 0.5], [[2, 1, 33, 29], [16, 12], 0.25], [[1, 1, 23, 19], [8, 8], 0.7],
      [[1, 1, 19, 23, 17], [8, 8, 8], 0.5], [[1, 2, 10, 40], [16, 16], 0.5], [[1, 1, 5, 9, 30], [8, 8, 8], 0.3],
    ];
    for (const [shape, roiSize, overlap] of cases) {
      const x = randn(shape);
      for (const mode of ['gaussian', 'constant'] as const) {
        const y = slidingWindowInference(x, (w) => w, { roiSize, overlap, mode, batchSize: 3 });
        assert.deepEqual(y.shape, shape);
        assert.ok(maxAbsDiff(y.toArray(), x.toArray()) < 1e-5, `identity ${shape} ${mode}`);
      }
      const c = slidingWindowInference(x, (w) => full([w.shape[0]!, 3, ...roiSize], 2.5), { roiSize, overlap });
      assert.deepEqual(c.shape, [shape[0]!, 3, ...shape.slice(2)]);
      assert.ok(c.toArray().every((v) => Math.abs(v - 2.5) < 1e-5));
    }
    assert.throws(() => slidingWindowInference(randn([1, 1, 20, 20]), (w) => w.narrow(2, 0, 4), { roiSize: [8, 8] }), /the predictor returned \[1, 1, 4, 8\]/);
  });
  assert.equal(memory().liveTensors, before);
});

test('sliding window blends a window-position-dependent predictor exactly as MONAI does (torch transcription)', () => {
  const predictor = (w: Tensor): Tensor => tidy(() => {
    const ramp = arange(w.shape[w.ndim - 1]!, undefined, 1, { dtype: 'float32' });
    return F.cat([w.mul(2).add(ramp), w.square()], 1);
  });
  const cases = [{ shape: [1, 1, 37, 26], roi: [16, 12], overlap: 0.5 }, { shape: [2, 1, 11, 20, 9], roi: [8, 8, 8], overlap: 0.25 }];
  const ours = tidy(() => cases.map((c) => {
    const x = randn(c.shape, { generator: new Generator(c.shape.length) });
    const calls: number[] = [];
    const y = slidingWindowInference(x, (w) => { calls.push(w.shape[0]!); return predictor(w); }, { roiSize: c.roi, overlap: c.overlap, batchSize: 4 });
    assert.ok(calls.every((b) => b >= 1 && b <= 4));
    return { x: x.toArray(), y: y.toArray() };
  }));
  const code = `
import json, sys, math, torch
import torch.nn.functional as F
cases = json.load(sys.stdin); res = []
for c in cases:
    x = torch.tensor(c['x']).reshape(c['shape']); roi = c['roi']; ov = c['overlap']; n = len(roi)
    pad = []
    for k in range(x.dim() - 1, 1, -1):
        diff = max(roi[k - 2] - x.shape[k], 0); pad += [diff // 2, diff - diff // 2]
    xp = F.pad(x, pad); size = list(xp.shape[2:])
    interval = [roi[i] if roi[i] == size[i] else max(int(roi[i] * (1 - ov)), 1) for i in range(n)]
    starts = []
    for i in range(n):
        num = int(math.ceil(size[i] / interval[i]))
        sd = next((d for d in range(num) if d * interval[i] + roi[i] >= size[i]), None)
        cnt = sd + 1 if sd is not None else 1
        starts.append([j * interval[i] - max(j * interval[i] + roi[i] - size[i], 0) for j in range(cnt)])
    imp = None
    for i in range(n):
        t = torch.arange(-(roi[i] - 1) / 2.0, (roi[i] - 1) / 2.0 + 1, dtype=torch.float)
        t = torch.exp(t ** 2 / (-2 * (0.125 * roi[i]) ** 2))
        imp = t if imp is None else imp.unsqueeze(-1) * t[(None,) * i]
    imp = imp.clamp(min=max(imp.min().item(), 1e-3))
    out = torch.zeros([x.shape[0], 2] + size); cnt = torch.zeros(size)
    import itertools
    for st in itertools.product(*starts):
        sl = tuple(slice(s, s + r) for s, r in zip(st, roi))
        w = xp[(slice(None), slice(None)) + sl]
        ramp = torch.arange(w.shape[-1], dtype=torch.float32)
        p = torch.cat([w * 2 + ramp, w ** 2], 1)
        out[(slice(None), slice(None)) + sl] += imp * p; cnt[sl] += imp
    out = out / cnt
    crop = tuple(slice(pad[2 * (n - 1 - i)], pad[2 * (n - 1 - i)] + x.shape[2 + i]) for i in range(n))
    res.append(out[(slice(None), slice(None)) + crop].flatten().tolist())
print(json.dumps(res))`;
  const input = cases.map((c, i) => ({ ...c, x: ours[i]!.x }));
  const ref = JSON.parse(execFileSync(PY, ['-c', code], { input: JSON.stringify(input), maxBuffer: 1 << 26 }).toString()) as number[][];
  ref.forEach((r, i) => assert.ok(maxAbsDiff(ours[i]!.y, r) < 1e-4, `case ${i}: ${maxAbsDiff(ours[i]!.y, r)}`));
});
