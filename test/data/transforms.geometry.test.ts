// Resize / letterbox / ResizeLongestSide: shapes and half-up rounding, exact inversion back to the original
// geometry, coordinate mapping, and SAM's postprocess_masks against torch 1.13.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Generator, full, memory, rand, randint, tensor, tidy, zeros } from '../../src/engine/index.ts';
import {
  Letterbox, Resize, ResizeLongestSide, invertResize, letterbox, mapBoxes, mapCoords, mapPoint, planLetterbox, planResize,
  resize, resizeLabels, applyResizeLabels, type Sample,
} from '../../src/data/transforms/index.ts';
import { PYTHON as PY, maxAbsDiff } from '../helpers/torchRef.ts';


test('ResizeLongestSide: SAM preprocess shape with half-up rounding', () => {
  assert.deepEqual(ResizeLongestSide.getPreprocessShape(480, 640, 1024), [768, 1024]);
  assert.deepEqual(ResizeLongestSide.getPreprocessShape(333, 500, 1024), [682, 1024]); // 681.98
  assert.deepEqual(ResizeLongestSide.getPreprocessShape(5, 8, 4), [3, 4]); // 2.5 rounds up (Python round() would give 2)
  const r = new ResizeLongestSide(256).record([300, 200]);
  assert.deepEqual(r.resizedSize, [256, 171]); // 200·256/300 = 170.67
  assert.deepEqual(r.targetSize, [256, 256]);
  assert.deepEqual(r.offset, [0, 0]);
  assert.throws(() => new ResizeLongestSide(0), /Expected integer >= 1 for targetLength but received 0 of type number/);
});

test('planLetterbox: one scale for every dim, centre or top-left placement; planResize stretches', () => {
  const c = planLetterbox([37, 53], [64, 64], 'center');
  assert.deepEqual(c.resizedSize, [45, 64]); // 37·64/53 = 44.68
  assert.deepEqual(c.offset, [9, 0]);
  const t3 = planLetterbox([10, 20, 30], [32, 32, 32]);
  assert.deepEqual(t3.resizedSize, [11, 21, 32]);
  assert.deepEqual(planResize([10, 20], [40, 40]).scale, [4, 2]);
  assert.throws(() => planLetterbox([10, 20], [32, 32, 32]), /Expected a list of 2 integers >= 1 for targetSize/);
});

test('letterbox then invertResize restores shape exactly and a constant image exactly (2D and 3D, both placements)', () => {
  const before = memory().liveTensors;
  tidy(() => {
    for (const placement of ['topleft', 'center'] as const) {
      const img = full([3, 37, 53], 0.7);
      const { image, record } = letterbox(img, [64, 64], { placement });
      assert.deepEqual(image.shape, [3, 64, 64]);
      const back = invertResize(image, record);
      assert.deepEqual(back.shape, [3, 37, 53]);
      assert.ok(maxAbsDiff(back.toArray(), img.toArray()) < 1e-6);
      // padding is padValue (0), content is the constant
      const content = image.toArray().filter((v) => Math.abs(v - 0.7) < 1e-6).length;
      assert.equal(content, 3 * record.resizedSize[0]! * record.resizedSize[1]!);
      // a low-resolution prediction (as SAM's 256² logits for a 1024² input) is first resized to the target
      const low = invertResize(full([2, 16, 16], -1.5), record);
      assert.deepEqual(low.shape, [2, 37, 53]);
      assert.ok(low.toArray().every((v) => Math.abs(v + 1.5) < 1e-6));
      // batched predictions keep the batch dim
      assert.deepEqual(invertResize(full([4, 2, 64, 64], 1), record).shape, [4, 2, 37, 53]);
    }
    const vol = full([1, 10, 20, 30], 2);
    const { image, record } = letterbox(vol, [32, 32, 32], { placement: 'center' });
    assert.deepEqual(image.shape, [1, 32, 32, 32]);
    const back = invertResize(image, record);
    assert.deepEqual(back.shape, [1, 10, 20, 30]);
    assert.ok(back.toArray().every((v) => Math.abs(v - 2) < 1e-6));
  });
  assert.equal(memory().liveTensors, before);
});

test('label maps: nearest letterbox and inversion are exact for an integer scale, dtype kept', () => {
  tidy(() => {
    const mask = randint(0, 4, [1, 16, 32], { generator: new Generator(3), dtype: 'uint8' });
    const record = planLetterbox([16, 32], [64, 64], 'center'); // scale 2: [32, 64] at offset [16, 0]
    const boxed = applyResizeLabels(mask, record);
    assert.equal(boxed.dtype, 'uint8');
    assert.deepEqual(boxed.shape, [1, 64, 64]);
    assert.equal(boxed.narrow(1, 0, 16).sum().item(), 0); // padding is background
    const back = invertResize(boxed, record, { mode: 'nearest' });
    assert.equal(back.dtype, 'uint8');
    assert.deepEqual(back.toArray(), mask.toArray());
    // a non-integer scale keeps the label set
    const odd = resizeLabels(mask, [23, 41]);
    assert.ok(odd.toArray().every((v) => v >= 0 && v <= 3 && Number.isInteger(v)));
  });
});

test('coordinates: ResizeLongestSide points/boxes, letterbox offsets, inverse and content agreement', () => {
  tidy(() => {
    const rls = new ResizeLongestSide(1024);
    assert.deepEqual(rls.applyCoords(tensor([320, 240, 0, 0], [2, 2]), [480, 640]).toArray(), [512, 384, 0, 0]);
    assert.deepEqual(rls.applyBoxes(tensor([10, 20, 630, 470], [1, 4]), [480, 640]).toArray().map((v) => +v.toFixed(4)), [16, 32, 1008, 752]);

    // a bright pixel at (x=5, y=3) of a 10×20 image, letterboxed (centre) to 40×40 with nearest: scale 2, offset y 10
    const img = zeros([1, 10, 20]);
    img.select(0, 0).select(0, 3).select(0, 5).fill_(1);
    const { image, record } = letterbox(img, [40, 40], { placement: 'center', mode: 'nearest' });
    assert.deepEqual(record.offset, [10, 0]);
    const hits = image.select(0, 0).nonzero().toArray(); // (row, col) pairs
    const ys = hits.filter((_, i) => i % 2 === 0), xs = hits.filter((_, i) => i % 2 === 1);
    const centre = [xs.reduce((a, b) => a + b, 0) / xs.length + 0.5, ys.reduce((a, b) => a + b, 0) / ys.length + 0.5];
    const mapped = mapCoords(tensor([5.5, 3.5], [1, 2]), record).toArray();
    assert.deepEqual(mapped, centre);
    assert.deepEqual(mapPoint([5.5, 3.5], record), centre);
    assert.deepEqual(mapPoint(centre, record, true), [5.5, 3.5]);
    const pts = rand([7, 2]).mul(10);
    assert.ok(maxAbsDiff(mapCoords(mapCoords(pts, record), record, true).toArray(), pts.toArray()) < 1e-5);
    const box = mapBoxes(tensor([1, 2, 3, 4], [1, 4]), record).toArray();
    assert.deepEqual(box, [2, 14, 6, 18]);
    assert.throws(() => mapCoords(tensor([1, 2, 3], [1, 3]), record), /expected coordinates \[\.\.\., 2\]/);
  });
});

test('keyed Letterbox / Resize move image and mask together and store the record', () => {
  tidy(() => {
    const sample: Sample = { image: rand([1, 30, 20]), mask: randint(0, 3, [1, 30, 20], { dtype: 'int64' }), spacing: [1, 1] };
    const out = new Letterbox([64, 64], { placement: 'center' }).apply(sample, new Generator(0));
    assert.deepEqual(out.image.shape, [1, 64, 64]);
    assert.deepEqual(out.mask!.shape, [1, 64, 64]);
    assert.equal(out.mask!.dtype, 'int64');
    assert.deepEqual(out.spacing, [1, 1]);
    const rec = out.resize as ReturnType<typeof planLetterbox>;
    assert.deepEqual(rec.resizedSize, [64, 43]);
    assert.deepEqual(invertResize(out.mask!, rec, { mode: 'nearest' }).shape, [1, 30, 20]);
    const st = new Resize([16, 16], { recordKey: 'fit' }).apply(sample, new Generator(0));
    assert.deepEqual(st.image.shape, [1, 16, 16]);
    assert.deepEqual((st.fit as ReturnType<typeof planResize>).scale, [16 / 30, 16 / 20]);
  });
});

test('SAM postprocess_masks and resize match torch 1.13', () => {
  const g = new Generator(11);
  const { lowRes, img, ours } = tidy(() => {
    const lowRes = rand([3, 32, 32], { generator: g }).mul(8).sub(4);
    const img = rand([2, 45, 70], { generator: g });
    const rec = new ResizeLongestSide(128).record([45, 70]);
    const post = invertResize(lowRes, rec);
    const small = resize(img, [20, 31], { antialias: true });
    return { lowRes: lowRes.toArray(), img: img.toArray(), ours: { post: post.toArray(), small: small.toArray(), resized: rec.resizedSize } };
  });
  const code = `
import json, sys, torch
import torch.nn.functional as F
d = json.load(sys.stdin)
low = torch.tensor(d['low']).reshape(1, 3, 32, 32)
m = F.interpolate(low, (128, 128), mode='bilinear', align_corners=False)
h, w = int(45 * 128 / 70 + 0.5), 128
m = m[..., :h, :w]
m = F.interpolate(m, (45, 70), mode='bilinear', align_corners=False)
img = torch.tensor(d['img']).reshape(1, 2, 45, 70)
s = F.interpolate(img, (20, 31), mode='bilinear', align_corners=False, antialias=True)
print(json.dumps({'post': m.flatten().tolist(), 'small': s.flatten().tolist(), 'resized': [h, w]}))`;
  const ref = JSON.parse(execFileSync(PY, ['-c', code], { input: JSON.stringify({ low: lowRes, img }) }).toString());
  assert.deepEqual(ours.resized, ref.resized);
  assert.ok(maxAbsDiff(ours.post, ref.post) < 1e-5);
  assert.ok(maxAbsDiff(ours.small, ref.small) < 1e-6);
});
