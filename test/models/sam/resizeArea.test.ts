// opencvResizeArea against OpenCV itself (/usr/bin/python3 with cv2, skipped when missing): cv2.resize(...,
// interpolation=cv2.INTER_AREA) on seeded random images and smooth gradients, through each of OpenCV's paths:
// 2x2 fast area (cn 1, 3, 4), other integer scales, table-driven area averaging for non-integer downscales, and
// the area_mode bilinear used as soon as one axis is enlarged (mixed and pure upscales), plus 1-pixel-high/wide
// images. Python builds the images from a seed and returns both the input and cv2's output bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { PYTHON } from '../../helpers/torchRef.ts';
import { opencvResizeArea } from '../../../src/models/sam/resizeArea.ts';

const haveCv2 = spawnSync(PYTHON, ['-c', 'import cv2, numpy'], { encoding: 'utf8' }).status === 0;

/** One resize: input w x h x c, output ow x oh; 'rand' = seeded uniform noise, 'grad' = smooth gradient. */
interface Case { w: number; h: number; c: number; ow: number; oh: number; seed: number; kind: 'rand' | 'grad' }

const PY = String.raw`
import base64, json, sys
import numpy as np, cv2
cv2.setNumThreads(1)
out = []
for k in json.loads(sys.argv[1]):
    h, w, c = k['h'], k['w'], k['c']
    if k['kind'] == 'rand':
        a = np.random.default_rng(k['seed']).integers(0, 256, size=(h, w, c), dtype=np.uint8)
    else:
        y, x = np.mgrid[0:h, 0:w].astype(np.float64)
        ch = [(x * 255 / max(w - 1, 1)), (y * 255 / max(h - 1, 1)), 127.5 + 127.5 * np.sin((x + 2 * y + k['seed']) / 9.0), (x + y) * 255 / max(w + h - 2, 1)]
        a = np.ascontiguousarray(np.stack(ch[:c], axis=-1).round().clip(0, 255).astype(np.uint8))
    src = a[:, :, 0].copy() if c == 1 else a
    r = cv2.resize(src, (k['ow'], k['oh']), interpolation=cv2.INTER_AREA)
    assert r.shape[:2] == (k['oh'], k['ow']), r.shape
    out.append({'input': base64.b64encode(a.tobytes()).decode(), 'output': base64.b64encode(np.ascontiguousarray(r).tobytes()).decode()})
print(json.dumps(out))
`;

/** cv2's inputs and INTER_AREA outputs for a batch of cases (one Python process). */
function cv2Resize(cases: Case[]): { input: Buffer; output: Buffer }[] {
  const r = spawnSync(PYTHON, ['-c', PY, JSON.stringify(cases)], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { input: string; output: string }[]).map((o) => ({ input: Buffer.from(o.input, 'base64'), output: Buffer.from(o.output, 'base64') }));
}

/** Asserts byte equality with cv2 for every case (both image kinds). */
function checkExact(cases: Omit<Case, 'kind'>[]): void {
  const all: Case[] = cases.flatMap((k) => [{ ...k, kind: 'rand' as const }, { ...k, kind: 'grad' as const }]);
  const ref = cv2Resize(all);
  for (const [i, k] of all.entries()) {
    const { input, output } = ref[i]!;
    const ours = opencvResizeArea(new Uint8Array(input), k.w, k.h, k.c, k.ow, k.oh);
    const label = `${k.kind} ${k.w}x${k.h}x${k.c} -> ${k.ow}x${k.oh}`;
    assert.equal(ours.length, output.length, `${label}: length`);
    let diff = 0;
    for (let j = 0; j < ours.length; j++) if (ours[j] !== output[j]) diff++;
    assert.equal(diff, 0, `${label}: ${diff} of ${ours.length} bytes differ from cv2`);
    assert.deepEqual(Buffer.from(ours), output, label);
  }
}

const skip = !haveCv2 && `${PYTHON} with cv2 not available`;

test('2x2 integer downscale (resizeAreaFast_, (a+b+c+d+2)>>2) equals cv2 for 1, 3 and 4 channels', { skip }, () => {
  checkExact([
    { w: 64, h: 48, c: 1, ow: 32, oh: 24, seed: 1 },
    { w: 70, h: 38, c: 3, ow: 35, oh: 19, seed: 2 },
    { w: 46, h: 30, c: 4, ow: 23, oh: 15, seed: 3 },
    { w: 512, h: 8, c: 3, ow: 256, oh: 4, seed: 4 },
  ]);
});

test('other integer downscales (sum * (1/area) rounded half to even) equal cv2', { skip }, () => {
  checkExact([
    { w: 69, h: 51, c: 3, ow: 23, oh: 17, seed: 5 },
    { w: 60, h: 36, c: 1, ow: 20, oh: 12, seed: 6 },
    { w: 64, h: 64, c: 4, ow: 16, oh: 16, seed: 7 },
    { w: 40, h: 30, c: 3, ow: 20, oh: 30, seed: 8 }, // 2 x 1: area 2, halves round to even
    { w: 30, h: 45, c: 1, ow: 30, oh: 9, seed: 9 }, // 1 x 5
    { w: 36, h: 20, c: 3, ow: 12, oh: 10, seed: 10 }, // 3 x 2
  ]);
});

test('non-integer downscales (computeResizeAreaTab + float accumulation) equal cv2', { skip }, () => {
  checkExact([
    { w: 517, h: 389, c: 3, ow: 256, oh: 192, seed: 11 },
    { w: 300, h: 300, c: 1, ow: 256, oh: 256, seed: 12 },
    { w: 97, h: 61, c: 4, ow: 40, oh: 27, seed: 13 },
    { w: 50, h: 40, c: 3, ow: 25, oh: 17, seed: 14 }, // integer in x only
    { w: 41, h: 33, c: 1, ow: 41, oh: 20, seed: 15 }, // scale 1 in x
    { w: 333, h: 200, c: 3, ow: 256, oh: 154, seed: 16 },
  ]);
});

test('mixed scales (one axis enlarged) use area_mode bilinear and equal cv2', { skip }, () => {
  checkExact([
    { w: 90, h: 30, c: 3, ow: 37, oh: 53, seed: 17 },
    { w: 20, h: 70, c: 1, ow: 53, oh: 29, seed: 18 },
    { w: 60, h: 25, c: 4, ow: 30, oh: 40, seed: 19 }, // x exactly halved, y enlarged
  ]);
});

test('pure upscales (area_mode bilinear, 11-bit fixed point) equal cv2', { skip }, () => {
  checkExact([
    { w: 100, h: 60, c: 3, ow: 256, oh: 154, seed: 20 },
    { w: 37, h: 23, c: 1, ow: 53, oh: 47, seed: 21 },
    { w: 13, h: 9, c: 4, ow: 29, oh: 31, seed: 22 },
    { w: 10, h: 10, c: 3, ow: 30, oh: 20, seed: 23 }, // integer upscale factors
  ]);
});

test('tiny images (1 x N, N x 1, 1 x 1) equal cv2', { skip }, () => {
  checkExact([
    { w: 7, h: 1, c: 3, ow: 3, oh: 1, seed: 24 },
    { w: 10, h: 1, c: 1, ow: 5, oh: 1, seed: 25 },
    { w: 1, h: 9, c: 4, ow: 1, oh: 4, seed: 26 },
    { w: 5, h: 1, c: 3, ow: 11, oh: 4, seed: 27 },
    { w: 1, h: 1, c: 1, ow: 4, oh: 3, seed: 28 },
    { w: 1, h: 6, c: 3, ow: 3, oh: 2, seed: 29 },
    { w: 2, h: 2, c: 4, ow: 1, oh: 1, seed: 30 },
  ]);
});

test('same size returns a copy', () => {
  const src = Uint8Array.from({ length: 2 * 3 * 3 }, (_, i) => i * 7);
  const out = opencvResizeArea(src, 3, 2, 3, 3, 2);
  assert.deepEqual(out, src);
  assert.notEqual(out, src);
  out[0] = 255;
  assert.equal(src[0], 0);
});

test('opencvResizeArea rejects bad arguments', () => {
  const img = new Uint8Array(2 * 2 * 3);
  assert.throws(() => opencvResizeArea(new Uint8Array(5), 2, 2, 1, 4, 4), /^RangeError: Expected 4 bytes for a 2x2x1 image but received 5$/);
  assert.throws(() => opencvResizeArea(img, 2, 2, 3, 0, 4), /^RangeError: Expected an integer >= 1 for outW but received 0$/);
  assert.throws(() => opencvResizeArea(img, 2, 2, 3, 4, 1.5), /outH but received 1.5/);
  assert.throws(() => opencvResizeArea(img, 0, 2, 3, 4, 4), /for w but received 0/);
  assert.throws(() => opencvResizeArea(img, 2, Number.NaN, 3, 4, 4), /for h but received NaN/);
  assert.throws(() => opencvResizeArea(new Uint8Array(8), 2, 2, 2, 4, 4), /^RangeError: Expected 1, 3 or 4 channels but received 2$/);
});
