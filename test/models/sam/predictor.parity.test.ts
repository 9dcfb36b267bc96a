// SamPredictor parity with the official SamPredictor on the sam-vit-small and mobile-sam fixtures, starting from
// the original fixture PNGs (the predictor does the Pillow resize, normalisation, prompt transform and
// post-processing): IoU predictions, low-res logits and original-size logits within the manifests' suggested
// tolerances, binary masks differing only where |logit| < the logit tolerance. Also: no tensor leaks.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Tensor, dispose, memory } from '../../../src/engine/index.ts';
import { readImage } from '../../../src/data/image.ts';
import { readNpy } from '../../../src/data/npy.ts';
import { type Sam, loadSamCheckpoint } from '../../../src/models/sam/index.ts';
import { SamPredictor, type SamPrediction } from '../../../src/models/sam/predictor.ts';
import { longestSideShape, pillowResizeBilinear } from '../../../src/models/sam/resize.ts';
import { CHECKPOINT, FIXTURE, haveFixture, manifest, maxAbsDiff, repoRoot, subsample } from './helpers.ts';

const MOBILE = resolve(repoRoot, '../shared/fixtures/mobile-sam');
const haveMobile = existsSync(resolve(MOBILE, 'manifest.json')) && existsSync(resolve(MOBILE, 'mobile_sam_synthetic.pt'));

/** Binary-mask pixels that differ from a stored 0/255 PNG with |logit| >= band. */
async function maskFlips(png: string, masks: Tensor, logits: Tensor, band: number): Promise<{ flips: number; outside: number }> {
  const ref = await readImage(png, { channels: 1 });
  const m = masks.to('float32');
  const mv = m.toFloat32Array(), l = logits.toFloat32Array();
  dispose(m);
  let flips = 0, outside = 0;
  ref.data.forEach((v, i) => {
    if ((v > 127) !== (mv[i]! > 0)) { flips++; if (Math.abs(l[i]!) >= band) outside++; }
  });
  return { flips, outside };
}

const liveTensors = (): number => memory().liveTensors;

describe('SamPredictor parity: sam-vit-small', { skip: !haveFixture && 'fixture not present' }, () => {
  const m = haveFixture ? manifest() : (null as never);
  let model: Sam;
  const results = new Map<string, SamPrediction>();
  before(async () => {
    model = loadSamCheckpoint(CHECKPOINT, { modelType: 'auto' }).model;
    const predictor = new SamPredictor(model);
    for (const name of ['rgb', 'gray'] as const) {
      const img = await readImage(resolve(FIXTURE, m.images[name]!.file), { channels: 'keep' });
      predictor.setImage({ data: img.data as Uint8Array, width: img.width, height: img.height, channels: img.channels });
      for (const c of m.cases.filter((k) => k.id.startsWith(`${name}/`))) {
        const raw = c as unknown as { points_xy?: number[][]; point_labels?: number[]; box_xyxy?: number[]; boxes_xyxy?: number[][] };
        const mi = c.mask_input;
        const maskInput = mi ? results.get(mi.from_case)!.lowResLogits.select(0, mi.mask_index) : undefined;
        const r = predictor.predict({
          ...(raw.points_xy ? { pointCoords: raw.points_xy, pointLabels: raw.point_labels! } : {}),
          ...(raw.box_xyxy ? { box: raw.box_xyxy } : {}), ...(raw.boxes_xyxy ? { boxes: raw.boxes_xyxy } : {}),
          ...(maskInput ? { maskInput } : {}), multimaskOutput: c.multimask_output, returnLogits: true,
        });
        dispose(maskInput ?? []);
        results.set(c.id, r);
      }
    }
    predictor.dispose();
  });
  after(() => {
    for (const r of results.values()) dispose(Object.values(r) as Tensor[]);
    model?.dispose();
  });

  test('Pillow-exact resize matches the pinned sha256 of both resized images', async () => {
    for (const name of ['rgb', 'gray'] as const) {
      const info = m.images[name]!;
      const img = await readImage(resolve(FIXTURE, info.file), { channels: 3 });
      const [nh, nw] = longestSideShape(img.height, img.width, 1024);
      assert.deepEqual([nh, nw], info.resized_hw);
      const out = pillowResizeBilinear(img.data as Uint8Array, img.width, img.height, 3, nw, nh);
      assert.equal(createHash('sha256').update(out).digest('hex'), info.resized_sha256_of_raw_hwc_uint8);
    }
  });

  for (const c of haveFixture ? manifest().cases : []) {
    test(`case ${c.id} through the predictor`, async (t) => {
      const r = results.get(c.id)!;
      const outs: [string, Tensor][] = [['iou_predictions', r.iouPredictions], ['low_res_logits', r.lowResLogits], ['mask_logits', r.logits!]];
      for (const [name, ours] of outs) {
        const spec = c.outputs[name as 'iou_predictions'];
        assert.deepEqual(ours.shape, spec.full_shape, `${c.id}/${name} shape`);
        const ref = readNpy(resolve(FIXTURE, spec.file));
        const sub = subsample(ours, spec.stride);
        const d = maxAbsDiff(sub, ref);
        dispose([ref, sub]);
        const tol = m.tolerances.per_output[`${c.id}/${name}`]!.suggested_test_tolerance_max_abs;
        t.diagnostic(`${c.id}/${name}: max|diff| ${d.toExponential(2)} (tol ${tol})`);
        assert.ok(d <= tol, `${c.id}/${name} differs by ${d} > ${tol}`);
      }
      for (const bm of c.outputs.binary_masks) {
        const pick = (x: Tensor): Tensor => (bm.box_index === undefined ? x.select(0, bm.mask_index) : x.select(0, bm.box_index).select(0, bm.mask_index));
        const mk = pick(r.masks), lg = pick(r.logits!);
        const f = await maskFlips(resolve(FIXTURE, bm.file), mk, lg, m.tolerances.logit_tolerance_for_masks);
        dispose([mk, lg]);
        t.diagnostic(`${bm.file}: ${f.flips} pixels differ, ${f.outside} outside the band`);
        assert.equal(f.outside, 0);
      }
    });
  }
});

interface MobileCase {
  id: string; image: string; points_xy?: number[][] | null; point_labels?: number[] | null; box_xyxy?: number[] | null;
  boxes_xyxy?: number[][]; mask_input?: { file: string } | null; multimask_output: boolean;
  outputs: { lowres_logits: { file: string }; iou: { file: string }; logits: { file: string }; masks_png: { file: string }[] };
}

describe('SamPredictor parity: mobile-sam', { skip: !haveMobile && 'fixture not present' }, () => {
  const mm = haveMobile ? JSON.parse(readFileSync(resolve(MOBILE, 'manifest.json'), 'utf8')) as {
    cases: MobileCase[]; tolerances: { per_output: Record<string, { suggested_test_tolerance_max_abs: number }>; logit_tolerance_for_masks: number };
  } : (null as never);
  let model: Sam;
  const results = new Map<string, SamPrediction>();
  before(async () => {
    const loaded = loadSamCheckpoint(resolve(MOBILE, 'mobile_sam_synthetic.pt'), { modelType: 'auto' });
    model = loaded.model;
    const predictor = new SamPredictor(model, loaded.config);
    for (const file of ['truck_rgb.png', 'kvasir_gray.png']) {
      const img = await readImage(resolve(MOBILE, file), { channels: 'keep' });
      predictor.setImage({ data: img.data as Uint8Array, width: img.width, height: img.height, channels: img.channels });
      for (const c of mm.cases.filter((k) => k.image === file)) {
        let maskInput: Tensor | undefined;
        if (c.mask_input) {
          const lr = readNpy(resolve(MOBILE, c.mask_input.file)), iou = readNpy(resolve(MOBILE, c.mask_input.file.replace('lowres_logits', 'iou')));
          const best = iou.argmax().item();
          maskInput = lr.select(0, best);
          dispose([lr, iou]);
        }
        results.set(c.id, predictor.predict({
          ...(c.points_xy ? { pointCoords: c.points_xy, pointLabels: c.point_labels! } : {}),
          ...(c.box_xyxy ? { box: c.box_xyxy } : {}), ...(c.boxes_xyxy ? { boxes: c.boxes_xyxy } : {}),
          ...(maskInput ? { maskInput } : {}), multimaskOutput: c.multimask_output, returnLogits: true,
        }));
        dispose(maskInput ?? []);
      }
    }
    predictor.dispose();
  });
  after(() => {
    for (const r of results.values()) dispose(Object.values(r) as Tensor[]);
    model?.dispose();
  });

  test('Pillow-exact resize reproduces the stored resized images', async () => {
    for (const [file, resized] of [['truck_rgb.png', 'truck_resized_1024.png'], ['kvasir_gray.png', 'kvasir_resized_1024.png']]) {
      const [img, ref] = await Promise.all([readImage(resolve(MOBILE, file!), { channels: 3 }), readImage(resolve(MOBILE, resized!), { channels: 3 })]);
      const [nh, nw] = longestSideShape(img.height, img.width, 1024);
      assert.deepEqual([nh, nw], [ref.height, ref.width]);
      const ours = pillowResizeBilinear(img.data as Uint8Array, img.width, img.height, 3, nw, nh);
      assert.ok(Buffer.from(ours).equals(Buffer.from(ref.data as Uint8Array)), `${resized} differs`);
    }
  });

  test('setImage / predict / resetImage leave no tensors behind; predicting without an image is an error', async () => {
    const img = await readImage(resolve(MOBILE, 'kvasir_gray.png'), { channels: 'keep' });
    const live0 = liveTensors();
    const predictor = new SamPredictor(model);
    assert.throws(() => predictor.predict({ pointCoords: [[1, 2]], pointLabels: [1] }), /setImage\(\) before predicting/);
    predictor.setImage({ data: img.data as Uint8Array, width: img.width, height: img.height, channels: img.channels });
    assert.deepEqual(predictor.getImageEmbedding().shape, [1, 256, 64, 64]);
    assert.deepEqual([predictor.originalSize, predictor.inputSize], [[192, 256], [768, 1024]]);
    const r = predictor.predict({ pointCoords: [[10, 20], [100, 50]], pointLabels: [1, 0], box: [5, 5, 200, 150], multimaskOutput: true, returnLogits: true });
    assert.deepEqual([r.masks.shape, r.masks.dtype, r.iouPredictions.shape, r.lowResLogits.shape, r.logits!.shape], [[3, 192, 256], 'bool', [3], [3, 256, 256], [3, 192, 256]]);
    const prev = r.lowResLogits.narrow(0, 0, 1);
    const r2 = predictor.predict({ boxes: [[5, 5, 200, 150], [0, 0, 50, 50]], maskInput: prev, multimaskOutput: false });
    prev.dispose();
    assert.deepEqual([r2.masks.shape, r2.iouPredictions.shape, r2.logits], [[2, 1, 192, 256], [2, 1], undefined]);
    assert.throws(() => predictor.predict({ pointCoords: [[1, 2]], pointLabels: [5] }), /integer point labels/);
    assert.throws(() => predictor.predict({ box: [1, 2, 3] }), /x0, y0, x1, y1/);
    assert.throws(() => predictor.predict({}), /at least one prompt/);
    dispose([...Object.values(r), ...Object.values(r2)].filter((t): t is Tensor => t !== undefined));
    predictor.resetImage();
    assert.equal(predictor.isImageSet, false);
    assert.equal(liveTensors(), live0, 'tensors leaked');
  });

  for (const c of haveMobile ? (JSON.parse(readFileSync(resolve(MOBILE, 'manifest.json'), 'utf8')) as { cases: MobileCase[] }).cases : []) {
    test(`case ${c.id} through the predictor`, async (t) => {
      const r = results.get(c.id)!;
      const outs: [string, Tensor, string][] = [['iou', r.iouPredictions, c.outputs.iou.file], ['lowres_logits', r.lowResLogits, c.outputs.lowres_logits.file], ['logits', r.logits!, c.outputs.logits.file]];
      for (const [name, ours, file] of outs) {
        const ref = readNpy(resolve(MOBILE, file));
        const d = maxAbsDiff(ours, ref);
        ref.dispose();
        const tol = mm.tolerances.per_output[`${c.id}_${name}`]!.suggested_test_tolerance_max_abs;
        t.diagnostic(`${c.id}_${name}: max|diff| ${d.toExponential(2)} (tol ${tol})`);
        assert.ok(d <= tol, `${c.id}_${name} differs by ${d} > ${tol}`);
      }
      const flatM = r.masks.reshape(-1, r.masks.shape.at(-2)!, r.masks.shape.at(-1)!), flatL = r.logits!.reshape(-1, r.masks.shape.at(-2)!, r.masks.shape.at(-1)!);
      for (const [k, png] of c.outputs.masks_png.entries()) {
        const mk = flatM.select(0, k), lg = flatL.select(0, k);
        const f = await maskFlips(resolve(MOBILE, png.file), mk, lg, mm.tolerances.logit_tolerance_for_masks);
        dispose([mk, lg]);
        t.diagnostic(`${png.file}: ${f.flips} pixels differ, ${f.outside} outside the band`);
        assert.equal(f.outside, 0);
      }
      dispose([flatM, flatL]);
    });
  }
});
