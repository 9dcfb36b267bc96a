// Intensity normalisation and adjustments: hand-computed values, and torch 1.13 / NumPy for random inputs
// (z-score with and without the non-zero mask, torch.quantile / np.percentile, percentile clipping).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Generator, memory, rand, randn, tensor, tidy } from '../../src/engine/index.ts';
import {
  CT_WINDOWS, addGaussianNoise, adjustContrast, adjustGamma, ctWindow, minMaxScale, percentileClip, percentiles, scaleToUnit,
  zscore,
} from '../../src/data/transforms/index.ts';
import { PYTHON as PY } from '../helpers/torchRef.ts';

const close = (a: number[], b: number[], tol: number, what = ''): void => {
  assert.equal(a.length, b.length, what);
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) <= tol * Math.max(1, Math.abs(b[i]!)), `${what}[${i}]: ${v} vs ${b[i]}`));
};

test('zscore by hand: whole image, non-zero mask, per channel', () => {
  tidy(() => {
    const x = tensor([1, 2, 3, 4], [1, 2, 2]);
    const s = Math.sqrt(1.25);
    close(zscore(x).toArray(), [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s], 1e-6);
    close(zscore(tensor([0, 2, 4, 0], [1, 2, 2]), { nonzero: true }).toArray(), [0, -1, 1, 0], 1e-6);
    const two = tensor([1, 3, 10, 30], [2, 1, 2]);
    close(zscore(two, { channelWise: true }).toArray(), [-1, 1, -1, 1], 1e-6);
    // a constant image maps to 0, not NaN (std floored at eps)
    assert.deepEqual(zscore(tensor([5, 5, 5], [1, 1, 3])).toArray(), [0, 0, 0]);
    // uint8 input is accepted and gives float32
    assert.equal(zscore(tensor(new Uint8Array([0, 255]), [1, 1, 2])).dtype, 'float32');
  });
});

test('ctWindow, scaleToUnit and minMaxScale by hand', () => {
  tidy(() => {
    close(ctWindow(tensor([-1000, -160, 40, 240, 1000], [1, 1, 5]), CT_WINDOWS.abdomen).toArray(), [0, 0, 0.5, 1, 1], 1e-7);
    close(ctWindow(tensor([-600], [1, 1, 1]), CT_WINDOWS.lung).toArray(), [0.5], 1e-7);
    close(scaleToUnit(tensor(new Uint8Array([0, 51, 255]), [1, 1, 3])).toArray(), [0, 0.2, 1], 1e-7);
    close(scaleToUnit(tensor(new Int32Array([0, 65535]), [1, 1, 2]), 16).toArray(), [0, 1], 1e-7);
    assert.throws(() => scaleToUnit(tensor(new Int32Array([1]), [1, 1, 1])), /Expected bitDepth 8 or 16 .* for bitDepth but received undefined/);
    close(minMaxScale(tensor([2, 4, 6], [1, 1, 3])).toArray(), [0, 0.5, 1], 1e-7);
    assert.throws(() => ctWindow(tensor([1], [1, 1, 1]), { level: 0, width: 0 }), /for width but received 0/);
  });
});

test('contrast, gamma and noise by hand', () => {
  tidy(() => {
    // contrast ×2 about the mean 2.5, clipped to [1, 4]
    close(adjustContrast(tensor([1, 2, 3, 4], [1, 2, 2]), 2).toArray(), [1, 1.5, 3.5, 4], 1e-6);
    close(adjustContrast(tensor([1, 2, 3, 4], [1, 2, 2]), 2, false).toArray(), [-0.5, 1.5, 3.5, 5.5], 1e-6);
    // gamma 2 without stats retention: ((x − 0)/4)² · 4
    close(adjustGamma(tensor([0, 1, 2, 4], [1, 2, 2]), 2, { retainStats: false }).toArray(), [0, 0.25, 1, 4], 1e-5);
    // γ = 1 is the identity, and retained stats keep mean and std for any γ
    const x = rand([2, 9, 7]);
    close(adjustGamma(x, 1).toArray(), x.toArray(), 1e-5);
    const y = adjustGamma(x, 0.6, { invert: true });
    close(y.mean([1, 2]).toArray(), x.mean([1, 2]).toArray(), 1e-5);
    close(y.std([1, 2], { correction: 0 }).toArray(), x.std([1, 2], { correction: 0 }).toArray(), 1e-4);
    // noise: same generator state → same noise; std near the requested
    const z = tensor(new Float32Array(40000), [1, 200, 200]);
    const a = addGaussianNoise(z, 0.5, new Generator(4));
    assert.deepEqual(a.toArray(), addGaussianNoise(z, 0.5, new Generator(4)).toArray());
    assert.ok(Math.abs(a.std().item() - 0.5) < 0.01);
  });
});

test('zscore, percentiles and percentile clipping match torch.quantile and np.percentile on random inputs', () => {
  const before = memory().liveTensors;
  const g = new Generator(5);
  const qs = [0, 0.5, 10, 25, 50, 73.3, 99.5, 100];
  const ours = tidy(() => {
    const x = randn([2, 17, 29], { generator: g }).mul(40).add(100);
    const holes = rand([2, 17, 29], { generator: g }).lt(0.3);
    const xz = x.maskedFill(holes, 0);
    return {
      x: x.toArray(), xz: xz.toArray(),
      z: zscore(x).toArray(), zc: zscore(x, { channelWise: true }).toArray(),
      znz: zscore(xz, { nonzero: true, channelWise: true }).toArray(),
      p: percentiles(x, qs), pnz: percentiles(xz, [0.5, 99.5], { nonzero: true }),
      clip: percentileClip(x).toArray(),
      clipc: percentileClip(xz, { channelWise: true, nonzero: true, rescale: true, lower: 1, upper: 99 }).toArray(),
    };
  });
  assert.equal(memory().liveTensors, before);
  const code = `
import json, sys, torch, numpy as np
d = json.load(sys.stdin)
x = torch.tensor(d['x']).reshape(2, 17, 29); xz = torch.tensor(d['xz']).reshape(2, 17, 29)
qs = ${JSON.stringify(qs)}
z = (x - x.mean()) / max(x.std(unbiased=False).item(), 1e-8)
zc = (x - x.mean((1, 2), keepdim=True)) / x.std((1, 2), unbiased=False, keepdim=True)
znz = torch.zeros_like(xz)
for c in range(2):
    m = xz[c] != 0; v = xz[c][m]
    znz[c][m] = (v - v.mean()) / v.std(unbiased=False)
p = torch.quantile(x.flatten(), torch.tensor(qs) / 100).tolist()
pn = np.percentile(x.numpy().astype(np.float64), qs).tolist()
nz = xz[xz != 0]
pnz = torch.quantile(nz, torch.tensor([0.005, 0.995])).tolist()
lo, hi = torch.quantile(x.flatten(), torch.tensor([0.005, 0.995])).tolist()
clip = x.clamp(lo, hi)
clipc = torch.zeros_like(xz)
for c in range(2):
    v = xz[c][xz[c] != 0]
    l, h = np.percentile(v.numpy(), [1, 99])
    r = (xz[c].clamp(float(l), float(h)) - float(l)) / (float(h) - float(l))
    clipc[c] = torch.where(xz[c] != 0, r, torch.zeros(()))
print(json.dumps({k: (v.flatten().tolist() if torch.is_tensor(v) else v) for k, v in
  dict(z=z, zc=zc, znz=znz, p=p, pn=pn, pnz=pnz, clip=clip, clipc=clipc).items()}))`;
  const ref = JSON.parse(execFileSync(PY, ['-c', code], { input: JSON.stringify({ x: ours.x, xz: ours.xz }) }).toString());
  close(ours.z, ref.z, 1e-5, 'z');
  close(ours.zc, ref.zc, 1e-5, 'zc');
  close(ours.znz, ref.znz, 1e-5, 'znz');
  close(ours.p, ref.p, 1e-6, 'torch.quantile');
  close(ours.p, ref.pn, 1e-6, 'np.percentile');
  close(ours.pnz, ref.pnz, 1e-6, 'non-zero');
  close(ours.clip, ref.clip, 1e-6, 'clip');
  close(ours.clipc, ref.clipc, 1e-5, 'clip per channel');
});
