// The predictor's Pillow-exact bilinear resize against Pillow itself (python3 with PIL, skipped when missing) on
// new synthetic images, including downscaling (the fixtures only enlarge, so Pillow's antialiased support
// scaling is only checked here), grey and odd sizes; and the longest-side target shape with half-up rounding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PYTHON } from '../../helpers/torchRef.ts';
import { longestSideShape, pillowResizeBilinear } from '../../../src/models/sam/resize.ts';

const havePil = spawnSync(PYTHON, ['-c', 'import PIL, numpy'], { encoding: 'utf8' }).status === 0;

/** A deterministic pattern with edges, gradients and noise: h x w x c uint8. */
function synthetic(w: number, h: number, c: number, seed: number): Uint8Array {
  const out = new Uint8Array(w * h * c);
  let s = seed >>> 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < c; k++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        const edge = ((x >> 4) + (y >> 3)) % 2 ? 180 : 40;
        out[(y * w + x) * c + k] = (edge + ((x * (k + 1) + y * 3) % 50) + (s >>> 28)) & 255;
      }
    }
  }
  return out;
}

test('longestSideShape rounds half up like ResizeLongestSide.get_preprocess_shape', () => {
  assert.deepEqual(longestSideShape(320, 480, 1024), [683, 1024]);
  assert.deepEqual(longestSideShape(256, 320, 1024), [819, 1024]);
  assert.deepEqual(longestSideShape(200, 300, 1024), [683, 1024]);
  assert.deepEqual(longestSideShape(192, 256, 1024), [768, 1024]);
  assert.deepEqual(longestSideShape(1200, 1800, 1024), [683, 1024]);
  assert.deepEqual(longestSideShape(100, 100, 256), [256, 256]);
});

test('pillowResizeBilinear equals Pillow Image.resize(BILINEAR) byte for byte', { skip: !havePil && `${PYTHON} with PIL not available` }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'sam-resize-'));
  try {
    const cases: [number, number, number][] = [[1500, 900, 3], [2000, 300, 1], [53, 37, 3], [1024, 700, 3], [333, 1111, 1]];
    for (const [i, [w, h, c]] of cases.entries()) {
      const [nh, nw] = longestSideShape(h, w, 1024);
      const src = synthetic(w, h, c, 17 + i);
      writeFileSync(join(dir, 'in.bin'), src);
      const py = `import numpy as np; from PIL import Image
a = np.fromfile('${join(dir, 'in.bin')}', dtype=np.uint8).reshape(${h}, ${w}${c === 1 ? '' : `, ${c}`})
np.asarray(Image.fromarray(a).resize((${nw}, ${nh}), Image.BILINEAR)).tofile('${join(dir, 'out.bin')}')`;
      const r = spawnSync(PYTHON, ['-c', py], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const ref = new Uint8Array(readFileSync(join(dir, 'out.bin')));
      const ours = pillowResizeBilinear(src, w, h, c, nw, nh);
      assert.equal(ours.length, ref.length, `${w}x${h}x${c}: length`);
      let diff = 0;
      for (let k = 0; k < ours.length; k++) if (ours[k] !== ref[k]) diff++;
      assert.equal(diff, 0, `${w}x${h}x${c} → ${nw}x${nh}: ${diff} bytes differ from Pillow`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pillowResizeBilinear rejects inconsistent sizes', () => {
  assert.throws(() => pillowResizeBilinear(new Uint8Array(5), 2, 2, 1, 4, 4), /Expected 4 bytes/);
  assert.throws(() => pillowResizeBilinear(new Uint8Array(4), 2, 2, 1, 0, 4), /outW/);
});
