// Random augmentations and presets: image and mask move together, labels stay exact, intensity ops leave masks
// alone, and everything is reproducible from a seed and resumable from a saved generator state (2D and 3D).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, Generator, type Tensor, arange, callTs, memory, rand, randint, tidy, zeros } from '../../src/engine/index.ts';
import {
  Compose, OneOf, RandAffine, RandBrightnessContrast, RandCutout, RandElastic, RandFlip, RandGamma, RandGaussianNoise,
  RandGridDistortion, RandPatch, Letterbox, type Sample, affineGrid, strongAugment, strongIntensityAugment, warp, weakAugment,
} from '../../src/data/transforms/index.ts';

const uniqueValues = (t: Tensor): number[] => tidy(() => callTs('_unique2', [t, true, false, false])[0]!.toArray());

/** A blobby label map with labels {0, 1, 2, 5} and a matching image (label-dependent intensity plus noise). */
function makeSample(size: number[], seed: number): Sample {
  return tidy(() => {
    const g = new Generator(seed);
    const coarse = randint(0, 4, [1, 1, ...size.map((s) => Math.max(2, Math.floor(s / 8)))], { generator: g }).to('float32');
    const up = F.interpolate(coarse, { size, mode: 'nearest' });
    const labels = up.squeeze(0);
    const mask = labels.where(labels.ne(3), 5).to('uint8');
    const image = labels.mul(0.25).add(rand([1, ...size], { generator: g }).mul(0.05));
    return { image, mask, id: `case${seed}` };
  });
}

const same = (a: Sample, b: Sample): void => {
  assert.deepEqual(a.image.toArray(), b.image.toArray());
  assert.deepEqual(a.mask!.toArray(), b.mask!.toArray());
};

test('RandFlip: p = 1 flips every axis of image and mask, p = 0 returns the inputs', () => {
  tidy(() => {
    const s = makeSample([12, 10], 1);
    const g = new Generator(0);
    const f = new RandFlip({ p: 1 }).apply(s, g);
    assert.deepEqual(f.image.toArray(), s.image.flip([1, 2]).toArray());
    assert.deepEqual(f.mask!.toArray(), s.mask!.flip([1, 2]).toArray());
    const n = new RandFlip({ p: 0 }).apply(s, g);
    assert.equal(n.image, s.image);
    const one = new RandFlip({ p: 1, axes: [0] }).apply(makeSample([4, 6, 8], 2), g);
    assert.deepEqual(one.image.shape, [1, 4, 6, 8]);
  });
});

test('affine geometry by hand: 180° rotation is a double flip, 90° turns a square, zoom 2 duplicates the centre', () => {
  tidy(() => {
    const x = arange(12, undefined, 1, { dtype: 'float32' }).reshape(1, 3, 4);
    const r180 = warp(x, affineGrid([3, 4], { rotate: [Math.PI] }));
    r180.toArray().forEach((v, i) => assert.ok(Math.abs(v - x.flip([1, 2]).toArray()[i]!) < 1e-5));
    const sq = arange(9, undefined, 1, { dtype: 'float32' }).reshape(1, 3, 3);
    assert.deepEqual(warp(sq, affineGrid([3, 3], { rotate: [Math.PI / 2] }), { mode: 'nearest' }).toArray(), [6, 3, 0, 7, 4, 1, 8, 5, 2]);
    const ramp = arange(4, undefined, 1, { dtype: 'float32' }).reshape(1, 1, 4).expand(1, 4, 4).contiguous();
    assert.deepEqual(warp(ramp, affineGrid([4, 4], { scale: [2, 2] }), { mode: 'nearest' }).select(1, 0).toArray(), [1, 1, 2, 2]);
    assert.deepEqual(warp(ramp, affineGrid([4, 4], { shift: [1, 0] }), { mode: 'nearest' }).select(1, 0).toArray(), [0, 0, 1, 2]);
    // 3D: rotation by π about z flips H and W, leaves D
    const v = arange(24, undefined, 1, { dtype: 'float32' }).reshape(1, 2, 3, 4);
    const rz = warp(v, affineGrid([2, 3, 4], { rotate: [0, 0, Math.PI] }));
    rz.toArray().forEach((a, i) => assert.ok(Math.abs(a - v.flip([2, 3]).toArray()[i]!) < 1e-5));
  });
});

test('spatial transforms move image and mask identically (nearest image == mask), 2D and 3D', () => {
  for (const size of [[48, 40], [16, 20, 24]]) {
    tidy(() => {
      const s = makeSample(size, 3);
      const asImage = { ...s, image: s.mask!.to('float32') };
      const o = { imageMode: 'nearest' as const };
      const pipe = new Compose([
        new RandFlip(), new RandAffine({ ...o, rotate: 30, scale: [0.8, 1.25], shift: 0.1, anisotropic: true }),
        new RandElastic(o), new RandGridDistortion({ ...o, limit: 0.2 }),
      ], { seed: 7 });
      for (let i = 0; i < 3; i++) {
        const out = pipe.apply(asImage);
        assert.deepEqual(out.image.toArray(), out.mask!.to('float32').toArray());
        assert.notDeepEqual(out.mask!.toArray(), s.mask!.toArray()); // something happened
      }
    });
  }
});

test('strong preset: labels stay a subset with dtype kept; bilinear image stays aligned with the mask', () => {
  for (const size of [[64, 48], [16, 24, 20]]) {
    tidy(() => {
      const s = makeSample(size, 4);
      const pipe = strongAugment({ seed: 1 });
      for (let i = 0; i < 4; i++) {
        const out = pipe.apply(s);
        assert.equal(out.mask!.dtype, 'uint8');
        assert.deepEqual(out.image.shape, s.image.shape);
        assert.ok(uniqueValues(out.mask!).every((v) => [0, 1, 2, 5].includes(v)));
        assert.equal(out.id, s.id);
      }
      // geometry only, linear image: rounding the image (labels × 0.25) recovers the mask almost everywhere
      const geo = new Compose([new RandAffine({ rotate: 20, scale: [0.9, 1.1] }), new RandElastic()], { seed: 2 }).apply(s);
      const recovered = geo.image.div(0.25).round();
      const expected = geo.mask!.to('float32').where(geo.mask!.ne(5), 3);
      const agree = recovered.eq(expected).to('float32').mean().item();
      assert.ok(agree > 0.9, `agreement ${agree}`);
    });
  }
});

test('intensity-only transforms leave the mask untouched; cut-out fills the image only unless labelFill is set', () => {
  tidy(() => {
    const s = makeSample([32, 32], 5);
    const out = strongIntensityAugment({ seed: 3 }).apply(s);
    assert.deepEqual(out.mask!.toArray(), s.mask!.toArray());
    const g = new Generator(1);
    const b = new RandBrightnessContrast({ brightness: [2, 2], contrast: [1, 1] }).apply(s, g);
    b.image.toArray().forEach((v, i) => assert.ok(Math.abs(v - 2 * s.image.toArray()[i]!) < 1e-5));
    assert.equal(b.mask, s.mask);
    const c = new RandCutout({ holes: [3, 3], size: [0.25, 0.25], fill: -7 }).apply(s, g);
    const filled = c.image.eq(-7).sum().item();
    assert.ok(filled >= 64 && filled <= 3 * 64, `filled ${filled}`); // three 8×8 holes, possibly overlapping
    assert.equal(c.mask, s.mask);
    const cl = new RandCutout({ holes: [1, 1], size: [0.5, 0.5], fill: 0, labelFill: 9 }).apply(s, g);
    assert.equal(cl.mask!.eq(9).sum().item(), 256);
    assert.ok(cl.image.eq(0).logicalAnd(cl.mask!.eq(9)).sum().item() === 256);
    for (const t of [new RandGamma({ gamma: [0.5, 2] }), new RandGaussianNoise({ std: [0.1, 0.2] })]) {
      const r = t.apply(s, g);
      assert.notDeepEqual(r.image.toArray(), s.image.toArray());
      assert.equal(r.mask, s.mask);
    }
  });
});

test('keyed transforms accept label maps without a channel dim ([H,W] / [D,H,W], as the loaders give) and keep them so', () => {
  for (const size of [[40, 36], [12, 16, 20]]) {
    tidy(() => {
      const s = makeSample(size, 8);
      const flat: Sample = { ...s, mask: s.mask!.squeeze(0) };
      const pipe = new Compose([
        new Letterbox(size.map((d) => d + 8), { placement: 'center' }), new RandFlip({ p: 1 }),
        new RandAffine({ rotate: 15, imageMode: 'nearest' }), new RandCutout({ labelFill: 0 }),
        new RandPatch({ patchSize: size.map((d) => d - 4), foregroundProb: 1 }),
      ], { seed: 5 });
      const withChannel = new Compose(pipe.transforms, { seed: 5 }).apply(s);
      const out = pipe.apply(flat);
      assert.deepEqual(out.mask!.shape, size.map((d) => d - 4));
      assert.deepEqual(out.mask!.toArray(), withChannel.mask!.toArray());
      assert.deepEqual(out.image.toArray(), withChannel.image.toArray());
      assert.throws(() => new RandFlip({ p: 1 }).apply({ image: s.image, mask: zeros(Array<number>(size.length + 2).fill(2)) }, new Generator(0)), /Expected a label map \[1,\.\.\.\] or \[\.\.\.\] with \d spatial dims for mask/);
    });
  }
});

test('seeded: same seed gives identical outputs, another seed differs, and a restored state continues identically', () => {
  for (const size of [[40, 36], [12, 16, 20]]) {
    tidy(() => {
      const samples = [0, 1, 2, 3].map((i) => makeSample(size, 10 + i));
      const run = (pipe: Compose, from: number): Sample[] => samples.slice(from).map((s) => pipe.apply(s));
      const a = run(strongAugment({ seed: 42 }), 0);
      const b = run(strongAugment({ seed: 42 }), 0);
      a.forEach((x, i) => same(x, b[i]!));
      const c = run(strongAugment({ seed: 43 }), 0);
      assert.ok(c.some((x, i) => JSON.stringify(x.image.toArray()) !== JSON.stringify(a[i]!.image.toArray())));

      // resume: save after two samples, continue, then restore into a fresh pipeline and continue again
      const pipe = strongAugment({ seed: 42 });
      samples.slice(0, 2).forEach((s) => pipe.apply(s));
      const bytes = pipe.stateBytes();
      const state = pipe.getState();
      const rest = run(pipe, 2);
      const fresh = strongAugment({ seed: 999 });
      fresh.setState(bytes);
      run(fresh, 2).forEach((x, i) => same(x, rest[i]!));
      fresh.setState(state);
      run(fresh, 2).forEach((x, i) => same(x, a[i + 2]!));
    });
  }
});

test('OneOf picks by weight; weak preset draws from a shared generator; pipelines do not leak', () => {
  const before = memory().liveTensors;
  tidy(() => {
    const s: Sample = { image: zeros([1, 4, 4]) };
    const mark = (v: number) => ({ name: `mark${v}`, apply: (x: Sample) => ({ ...x, image: x.image.add(v) }) });
    const one = new OneOf([mark(1), mark(100)], { weights: [3, 1] });
    const g = new Generator(0);
    let ones = 0;
    for (let i = 0; i < 400; i++) if (one.apply(s, g).image.amax().item() === 1) ones++;
    assert.ok(Math.abs(ones / 400 - 0.75) < 0.09, `share ${ones / 400}`);
    const shared = new Generator(5);
    const w = weakAugment({ generator: shared });
    assert.equal(w.generator, shared);
    assert.throws(() => new RandAffine({ scale: [1.2, 0.8] }), /Expected a \[low, high\] pair .* for scale/);
  });
  // intermediates of a composed pipeline are disposed: only the returned record's tensors are new
  const s = makeSample([32, 32], 6);
  const mid = memory().liveTensors;
  const out = strongAugment({ seed: 3 }).apply(s);
  assert.equal(memory().liveTensors - mid, 2);
  for (const t of [out.image, out.mask!, s.image, s.mask!]) t.dispose();
  assert.equal(memory().liveTensors, before);
});
