// SamAutomaticMaskGenerator: the helpers against hand-worked values, and the generator against the official one's
// output on both fixtures (sam-vit-small: 8x8 points, thresholds 0; mobile-sam: 16x16 points, SAM's defaults).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Tensor, arange, dispose, full, tensor, tidy } from '../../../src/engine/index.ts';
import { readImage } from '../../../src/data/image.ts';
import { readNpz } from '../../../src/data/npy.ts';
import { type Sam, type SamPrompts, loadSamCheckpoint } from '../../../src/models/sam/index.ts';
import {
  type AutoMask, SamAutomaticMaskGenerator, batchedMaskToBox, buildPointGrid, disposeMasks, generateCropBoxes, nms, removeSmallRegions,
  stabilityScore,
} from '../../../src/models/sam/amg.ts';
import type { SamImage } from '../../../src/models/sam/predictor.ts';
import { CHECKPOINT, FIXTURE, haveFixture, repoRoot } from './helpers.ts';

const MOBILE = resolve(repoRoot, '../shared/fixtures/mobile-sam');
const haveMobile = existsSync(resolve(MOBILE, 'amg.json')) && existsSync(resolve(MOBILE, 'mobile_sam_synthetic.pt'));

test('point grid: numpy linspace cell centres, x fastest', () => {
  const g = buildPointGrid(4);
  assert.equal(g.length, 16);
  assert.deepEqual(g[0], [0.125, 0.125]);
  assert.deepEqual(g[1], [0.375, 0.125]);
  assert.deepEqual(g[4], [0.125, 0.375]);
  assert.deepEqual(g[15], [0.875, 0.875]);
  // The fixture's surviving point: 16 per side on 300x200 → (103.125, 181.25) = (col 5, row 14).
  const p = buildPointGrid(16)[14 * 16 + 5]!;
  assert.deepEqual([p[0] * 300, p[1] * 200], [103.125, 181.25]);
});

test('crop boxes: one layer on 300x200 with the default overlap', () => {
  // short side 200, 2 crops per side: overlap int(0.3413 * 200) = 68; crop w ceil((68 + 300) / 2) = 184, h 134.
  const { boxes, layers } = generateCropBoxes(200, 300, 1, 512 / 1500);
  assert.deepEqual(boxes, [[0, 0, 300, 200], [0, 0, 184, 134], [0, 66, 184, 200], [116, 0, 300, 134], [116, 66, 300, 200]]);
  assert.deepEqual(layers, [0, 1, 1, 1, 1]);
});

test('mask boxes are XYXY with inclusive right/bottom; an empty mask gives zeros', () => {
  const m = new Uint8Array(2 * 4 * 5);
  for (const [y, x] of [[1, 1], [2, 3], [1, 2]]) m[y! * 5 + x!] = 1; // mask 0: rows 1-2, cols 1-3
  const boxes = tidy(() => batchedMaskToBox(tensor(m, [2, 4, 5]).bool()).toArray());
  assert.deepEqual(boxes, [1, 1, 3, 2, 0, 0, 0, 0]);
});

test('stability score: |logits > t + o| / |logits > t − o|', () => {
  const s = tidy(() => stabilityScore(tensor([-2, -0.5, 0.5, 1.5, 3, 0.2], [1, 2, 3]), 0, 1).toArray());
  assert.ok(Math.abs(s[0]! - 2 / 5) < 1e-7, String(s[0])); // > 1: {1.5, 3}; > −1: all but −2
});

test('NMS keeps boxes by decreasing score and drops overlaps above the threshold', () => {
  const boxes: [number, number, number, number][] = [[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30], [0, 0, 9, 10]];
  // IoU(0,1) = 81/100 > 0.7; IoU(0,3) = 90/100; box 2 is apart.
  assert.deepEqual(nms(boxes, [0.5, 0.9, 0.1, 0.4], 0.7), [1, 2]);
  assert.deepEqual(nms(boxes, [0.9, 0.5, 0.1, 0.4], 0.95), [0, 1, 3, 2]);
});

test('small regions: holes are filled and islands removed (8-connected), the largest island kept if all are small', () => {
  const h = 5, w = 6;
  const parse = (rows: string[]): Uint8Array => Uint8Array.from(rows.join('').split(''), Number);
  const m = parse(['111000', '101000', '111000', '000001', '000010']);
  const holes = removeSmallRegions(m, h, w, 2, 'holes');
  assert.equal(holes.changed, true);
  assert.deepEqual(holes.mask, parse(['111000', '111000', '111000', '000001', '000010']));
  // The diagonal pair at the bottom right is one 8-connected island of 2 pixels: removed below area 3.
  const islands = removeSmallRegions(holes.mask, h, w, 3, 'islands');
  assert.deepEqual(islands.mask, parse(['111000', '111000', '111000', '000000', '000000']));
  assert.equal(removeSmallRegions(islands.mask, h, w, 3, 'islands').changed, false);
  const tiny = parse(['100000', '000000', '000011', '000000', '000000']);
  assert.deepEqual(removeSmallRegions(tiny, h, w, 10, 'islands').mask, parse(['000000', '000000', '000011', '000000', '000000']));
});

test('bad options fail with one clear line', () => {
  const fake = Object.create(null) as Sam;
  assert.throws(() => new SamAutomaticMaskGenerator(fake, { pointsPerSide: 0 }), /pointsPerSide must be a positive integer, got 0/);
  assert.throws(() => new SamAutomaticMaskGenerator(fake, { predIouThresh: 2 }), /predIouThresh must be a number in \[0, 1\], got 2/);
  assert.throws(() => new SamAutomaticMaskGenerator(fake, { pointGrids: [[[0.5, 0.5]]], cropNLayers: 1 }), /pointGrids must list 2 grids/);
});

interface Expected {
  masks: { bbox_xywh: number[]; area?: number; predicted_iou: number; stability_score: number; point_coords: number[][]; crop_box_xywh: number[] }[];
}

async function loadImage(path: string): Promise<SamImage> {
  const img = await readImage(path, { channels: 3 });
  return { data: img.data as Uint8Array, width: img.width, height: img.height, channels: 3 };
}

/** Compares generated masks with the official list and masks file (iou/stability within tol, masks equal). */
function compare(got: AutoMask[], exp: Expected, masksFile: string, tol: number): void {
  assert.equal(got.length, exp.masks.length, `${got.length} masks, official ${exp.masks.length}`);
  const ref = readNpz(masksFile).get('masks')!;
  try {
    for (const [i, e] of exp.masks.entries()) {
      const g = got[i]!;
      assert.deepEqual(g.bbox, e.bbox_xywh, `mask ${i} bbox`);
      assert.deepEqual(g.cropBox, e.crop_box_xywh, `mask ${i} crop box`);
      assert.deepEqual(g.pointCoords, e.point_coords, `mask ${i} point`);
      assert.ok(Math.abs(g.predictedIou - e.predicted_iou) <= tol, `mask ${i} predicted IoU ${g.predictedIou} vs ${e.predicted_iou}`);
      assert.ok(Math.abs(g.stabilityScore - e.stability_score) <= tol, `mask ${i} stability ${g.stabilityScore} vs ${e.stability_score}`);
      const differing = tidy(() => g.segmentation.ne(ref.select(0, i).bool()).sum().item());
      assert.equal(differing, 0, `mask ${i}: ${differing} pixels differ`);
      const area = tidy(() => ref.select(0, i).bool().sum().item());
      assert.equal(g.area, e.area ?? area);
    }
  } finally {
    ref.dispose();
  }
}

describe('automatic mask generator vs the official one', () => {
  let model: Sam | undefined;
  let mobile: Sam | undefined;
  before(() => {
    if (haveFixture) model = loadSamCheckpoint(CHECKPOINT, { modelType: 'auto' }).model;
    if (haveMobile) mobile = loadSamCheckpoint(resolve(MOBILE, 'mobile_sam_synthetic.pt'), { modelType: 'auto' }).model;
  });
  after(() => dispose([model, mobile].filter(Boolean)));

  test('sam-vit-small: 8x8 points, thresholds 0', { skip: !haveFixture && 'needs ../shared/fixtures/sam-vit-small' }, async () => {
    const exp = JSON.parse(readFileSync(resolve(FIXTURE, 'outputs/amg/amg.json'), 'utf8')) as Expected & { image: string; arguments: Record<string, number> };
    const a = exp.arguments;
    const gen = new SamAutomaticMaskGenerator(model!, {
      pointsPerSide: a.points_per_side, pointsPerBatch: a.points_per_batch, predIouThresh: a.pred_iou_thresh,
      stabilityScoreThresh: a.stability_score_thresh, stabilityScoreOffset: a.stability_score_offset, boxNmsThresh: a.box_nms_thresh,
    });
    const got = gen.generate(await loadImage(resolve(FIXTURE, exp.image)));
    try {
      compare(got, exp, resolve(FIXTURE, 'outputs/amg/amg_masks.npz'), 2e-6);
    } finally {
      disposeMasks(got);
    }
  });

  test('mobile-sam: 16x16 points, SAM defaults (IoU 0.88, stability 0.95)', { skip: !haveMobile && 'needs ../shared/fixtures/mobile-sam' }, async () => {
    const exp = JSON.parse(readFileSync(resolve(MOBILE, 'amg.json'), 'utf8')) as Expected & { image: string };
    const gen = new SamAutomaticMaskGenerator(mobile!, { pointsPerSide: 16 });
    const got = gen.generate(await loadImage(resolve(MOBILE, exp.image)));
    try {
      compare(got, exp, resolve(MOBILE, 'amg_masks.npz'), 3e-5);
    } finally {
      disposeMasks(got);
    }
  });

  test('crop layers and small-region clean-up keep every mask consistent with its box, area and crop', { skip: !haveFixture && 'needs the fixture' }, async () => {
    const image = await loadImage(resolve(FIXTURE, 'inputs/truck_rgb_480x320.png'));
    const gen = new SamAutomaticMaskGenerator(model!, { pointsPerSide: 4, predIouThresh: 0, stabilityScoreThresh: 0, cropNLayers: 1, minMaskRegionArea: 50 });
    const got = gen.generate(image);
    try {
      assert.ok(got.length >= 1);
      const crops = generateCropBoxes(320, 480, 1, 512 / 1500).boxes.map(([x0, y0, x1, y1]) => [x0, y0, x1 - x0, y1 - y0].join());
      for (const m of got) {
        assert.deepEqual(m.segmentation.shape, [320, 480]);
        assert.ok(crops.includes(m.cropBox.join()), `crop box ${m.cropBox}`);
        const [bx, by, bw, bh] = tidy(() => batchedMaskToBox(m.segmentation.unsqueeze(0)).toArray());
        assert.deepEqual(m.bbox, [bx, by, bw! - bx!, bh! - by!]);
        assert.equal(m.area, tidy(() => m.segmentation.sum().item()));
        const [cx, cy, cw, ch] = m.cropBox;
        const [px, py] = m.pointCoords[0];
        assert.ok(px >= cx && px <= cx + cw && py >= cy && py <= cy + ch, 'the prompt point lies in its crop');
      }
    } finally {
      disposeMasks(got);
    }
  });

  test('crops: masks, boxes and points are mapped back to the image (a decoder that draws a disc at the point)', { skip: !haveFixture && 'needs the fixture' }, async () => {
    const image = await loadImage(resolve(FIXTURE, 'inputs/truck_rgb_480x320.png'));
    const m = model!;
    const decode = m.decode;
    // Low-res logits +5 within 6 px (256 frame) of the prompt point, −5 elsewhere; three equal masks, IoU 0.9.
    m.decode = (_emb: Tensor, prompts: SamPrompts): { lowResLogits: Tensor; iouPredictions: Tensor } => tidy(() => {
      const p = prompts.pointCoords!.float().div(4);
      const B = p.shape[0]!;
      const px = p.select(2, 0).reshape(B, 1, 1), py = p.select(2, 1).reshape(B, 1, 1);
      const xx = arange(256).reshape(1, 1, 256), yy = arange(256).reshape(1, 256, 1);
      const disc = xx.sub(px).square().add(yy.sub(py).square()).lt(36).float().mul(10).sub(5);
      return { lowResLogits: disc.unsqueeze(1).expand(B, 3, 256, 256).contiguous(), iouPredictions: full([B, 3], 0.9) };
    });
    let got: AutoMask[] = [];
    try {
      got = new SamAutomaticMaskGenerator(m, { pointsPerSide: 4, stabilityScoreThresh: 0.5, cropNLayers: 1 }).generate(image);
      const fromCrops = got.filter((g) => g.cropBox.join() !== '0,0,480,320');
      assert.ok(got.length > 16 && fromCrops.length > 0, `${got.length} masks, ${fromCrops.length} from crops`);
      for (const g of got) {
        const [x, y, w, h] = g.bbox;
        const [px, py] = g.pointCoords[0];
        assert.ok(Math.abs(x + w / 2 - px) <= 1.5 && Math.abs(y + h / 2 - py) <= 1.5, `disc at ${[x + w / 2, y + h / 2]} for point ${[px, py]}`);
        const [cx, cy, cw, ch] = g.cropBox;
        const outside = tidy(() => g.segmentation.sum().item() - g.segmentation.narrow(0, cy, ch).narrow(1, cx, cw).sum().item());
        assert.equal(outside, 0, 'mask pixels outside its crop');
        assert.ok(g.area > 20 && g.area < 600, `area ${g.area}`);
      }
    } finally {
      m.decode = decode;
      disposeMasks(got);
    }
  });
});
