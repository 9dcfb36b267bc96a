// `samtutor sam auto` (runSamAuto, and once through the real CLI for the exit code): the written masks.json and
// mask PNGs against the official SamAutomaticMaskGenerator on the mobile-sam fixture (16x16 points, defaults).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { memory } from '../../src/engine/index.ts';
import { readImage } from '../../src/data/image.ts';
import { readNpz } from '../../src/data/npy.ts';
import { runSamAuto } from '../../src/cli/sam.ts';
import { UsageError } from '../../src/cli/usage.ts';
import { repoRoot } from '../models/sam/helpers.ts';

const MOBILE = resolve(repoRoot, '../shared/fixtures/mobile-sam');
const haveMobile = existsSync(resolve(MOBILE, 'amg.json'));
const CKPT = resolve(MOBILE, 'mobile_sam_synthetic.pt');

describe('samtutor sam auto', { skip: !haveMobile && 'needs ../shared/fixtures/mobile-sam' }, () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'sam-auto-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('masks.json and mask PNGs match the official generator; no tensors leak', async () => {
    const exp = JSON.parse(readFileSync(resolve(MOBILE, 'amg.json'), 'utf8'));
    const out = join(dir, 'truck');
    const live0 = memory().liveTensors;
    const res = await runSamAuto({ checkpoint: CKPT, image: resolve(MOBILE, exp.image), out, pointsPerSide: 16 });
    assert.equal(memory().liveTensors, live0, 'tensors leaked');
    assert.equal(res.masks, exp.count);
    const got = JSON.parse(readFileSync(join(out, 'masks.json'), 'utf8'));
    assert.equal(got.model_type, 'mobile_sam');
    assert.equal(got.settings.points_per_side, 16);
    assert.equal(got.settings.pred_iou_thresh, 0.88);
    const ref = readNpz(resolve(MOBILE, 'amg_masks.npz')).get('masks')!;
    const refBytes = ref.data() as Uint8Array;
    const [, h, w] = ref.shape as [number, number, number];
    ref.dispose();
    for (const [i, e] of exp.masks.entries()) {
      const g = got.masks[i];
      assert.deepEqual([g.area, g.bbox_xywh, g.point_coords, g.crop_box_xywh], [e.area, e.bbox_xywh, e.point_coords, e.crop_box_xywh]);
      assert.ok(Math.abs(g.predicted_iou - e.predicted_iou) < 3e-5 && Math.abs(g.stability_score - e.stability_score) < 3e-5);
      const png = await readImage(join(out, g.file), { channels: 1 });
      assert.deepEqual([png.width, png.height], [w, h]);
      let differ = 0;
      png.data.forEach((v, k) => { if ((v === 255 ? 1 : 0) !== refBytes[i * h * w + k]) differ++; });
      assert.equal(differ, 0, `${g.file}: ${differ} pixels differ`);
    }
    assert.deepEqual(readdirSync(dir), ['truck'], 'no staging folder left behind');
  });

  test('bad input: a one-line error, exit code 2, nothing written', async () => {
    const image = resolve(MOBILE, 'truck_rgb.png');
    await assert.rejects(runSamAuto({ checkpoint: join(dir, 'nope.pth'), image, out: join(dir, 'x') }), (e: Error) => e instanceof UsageError && /--checkpoint not found/.test(e.message));
    await assert.rejects(runSamAuto({ checkpoint: CKPT, image, out: join(dir, 'x'), pointsPerSide: 0 }), (e: Error) => e instanceof UsageError && /pointsPerSide must be a positive integer/.test(e.message));
    await assert.rejects(runSamAuto({ checkpoint: image, image, out: join(dir, 'x') }), (e: Error) => e instanceof UsageError && /is not a usable SAM-family checkpoint/.test(e.message));
    assert.equal(existsSync(join(dir, 'x')), false);
    const r = spawnSync(process.execPath, [join(repoRoot, 'bin/samtutor.js'), 'sam', 'auto', '--checkpoint', CKPT, '--image', image, '--out', join(dir, 'y'), '--pred-iou-thresh', '1.5'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /expected a number between 0 and 1/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });
});
