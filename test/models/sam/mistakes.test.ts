// Each typical porting mistake of the sam-vit-small manifest, injected into this implementation, must be caught
// by the parity comparison (difference above the suggested tolerance) and must move the outputs by about the
// amount the manifest recorded for the official code with the same mistake, which also checks that the hooks
// reproduce the mistake faithfully (e.g. windowed attention in global blocks goes through get_rel_pos's
// 127 → 27 interpolation). Encoder mistakes are run on the RGB image (embedding and case a), the prompt mistake
// on all RGB cases, the resize mistakes on both images' uint8 resize.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { type Tensor, F, dispose, inferenceMode, keep, tensor, tidy } from '../../../src/engine/index.ts';
import { readImage } from '../../../src/data/image.ts';
import { GELU, LayerNorm, LayerNorm2d, type Module } from '../../../src/nn/index.ts';
import { type ImageEncoderViT, type Sam, loadSamCheckpoint } from '../../../src/models/sam/index.ts';
import {
  CHECKPOINT, type FixtureCase, type Manifest, type PreparedImage, casePrompts, fixturePath, haveFixture, manifest,
  maxAbsDiff, pillowResizeBilinear, prepareImage, stored, subsample,
} from './helpers.ts';

let model: Sam;
let m: Manifest;
let rgb: PreparedImage;

type Patch = [object, string, unknown];
/** Runs fn with fields temporarily replaced (test-only mutation of readonly configuration fields). */
function withPatched<T>(patches: Patch[], fn: () => T): T {
  const saved = patches.map(([o, k]) => (o as Record<string, unknown>)[k]);
  patches.forEach(([o, k, v]) => { (o as Record<string, unknown>)[k] = v; });
  try {
    return fn();
  } finally {
    patches.forEach(([o, k], i) => { (o as Record<string, unknown>)[k] = saved[i]; });
  }
}

const rgbCases = (): FixtureCase[] => m.cases.filter((c) => c.id.startsWith('rgb/'));
const recorded = (mistake: string, file: string): number => m.typical_mistakes.find((x) => x.mistake === mistake)!.max_abs_change[file]!;
const tol = (key: string): number => m.tolerances.per_output[key]!.suggested_test_tolerance_max_abs;
/** The mistake moved this output past the tolerance, by the recorded amount (3 significant digits) ± fp noise. */
function assertCaught(mistake: string, key: string, file: string, diff: number): void {
  const rec = recorded(mistake, file);
  assert.ok(diff > tol(key), `${mistake}: ${key} moved only ${diff} (tolerance ${tol(key)}): the parity test would not catch it`);
  assert.ok(Math.abs(diff - rec) <= 0.01 * rec + 2e-6, `${mistake}: ${key} moved ${diff} but the official code with this mistake moved ${rec}`);
}

/** Embedding of the RGB image and case rgb/a's low-res logits, compared with the stored official outputs. */
function encoderDiffs(): { emb: number; low: number } {
  return inferenceMode(() => tidy(() => {
    const emb = model.encodeImage(rgb.input);
    const a = rgbCases().find((c) => c.id === 'rgb/a')!;
    const { lowResLogits } = model.decode(emb, casePrompts(a, rgb), true);
    return {
      emb: maxAbsDiff(subsample(emb, 4), stored(a.outputs.image_embedding)),
      low: maxAbsDiff(subsample(lowResLogits.squeeze(0), 8), stored(a.outputs.low_res_logits)),
    };
  }));
}

const modulesOf = <T extends Module>(root: Module, cls: abstract new (...a: never[]) => T): T[] => root.modules().filter((x): x is T => x instanceof cls);

describe('typical mistakes are caught', { skip: !haveFixture && '../shared/fixtures/sam-vit-small not present' }, () => {
  before(async () => {
    m = manifest();
    model = loadSamCheckpoint(CHECKPOINT).model;
    rgb = await prepareImage(model, 'rgb');
    keep(rgb.input);
    keep(rgb.resized);
  });
  after(() => {
    dispose([rgb?.input, rgb?.resized]);
    model?.dispose();
  });

  const encoderMistakes: [string, () => Patch[]][] = [
    ['gelu_tanh', () => modulesOf(model, GELU).map((g): Patch => [g, 'approximate', 'tanh'])],
    ['layernorm_eps_1e-5', () => [...modulesOf(model.imageEncoder, LayerNorm), ...modulesOf(model, LayerNorm2d)].map((n): Patch => [n, 'eps', 1e-5])],
    ['window_attention_in_global_blocks', () => {
      const enc = model.imageEncoder as ImageEncoderViT;
      return [...enc.blocks].filter((b) => b.windowSize === 0).map((b): Patch => [b, 'windowSize', 14]);
    }],
    ['abs_pos_embed_not_added', () => [[model.imageEncoder, 'posEmbed', null]]],
  ];
  for (const [mistake, patches] of encoderMistakes) {
    test(mistake, (t) => {
      const d = withPatched(patches(), encoderDiffs);
      t.diagnostic(`${mistake}: embedding moved ${d.emb}, rgb/a low-res logits ${d.low}`);
      assertCaught(mistake, 'rgb/image_embedding', 'outputs/rgb/image_embedding_stride4.npy', d.emb);
      assertCaught(mistake, 'rgb/a/low_res_logits', 'outputs/rgb/a_low_res_logits_stride8.npy', d.low);
    });
  }

  test('no_half_pixel_shift', (t) => {
    const emb = keep(inferenceMode(() => model.encodeImage(rgb.input)));
    const chain = new Map<string, Tensor>();
    try {
      for (const c of rgbCases()) {
        inferenceMode(() => tidy(() => {
          const mi = c.mask_input;
          const maskInput = mi ? chain.get(mi.from_case)!.select(0, mi.mask_index).unsqueeze(0).unsqueeze(0) : undefined;
          const { lowResLogits, iouPredictions } = model.decode(emb, casePrompts(c, rgb, { shift: -0.5, maskInput }), c.multimask_output);
          const batched = c.id.endsWith('/f');
          const low = batched ? lowResLogits : lowResLogits.squeeze(0);
          chain.set(c.id, keep(low.clone()));
          const dLow = maxAbsDiff(subsample(low, 8), stored(c.outputs.low_res_logits));
          const dIou = maxAbsDiff(batched ? iouPredictions : iouPredictions.squeeze(0), stored(c.outputs.iou_predictions));
          t.diagnostic(`no_half_pixel_shift ${c.id}: low-res logits moved ${dLow}, IoU ${dIou}`);
          assertCaught('no_half_pixel_shift', `${c.id}/low_res_logits`, c.outputs.low_res_logits.file, dLow);
          assertCaught('no_half_pixel_shift', `${c.id}/iou_predictions`, c.outputs.iou_predictions.file, dIou);
        }));
      }
    } finally {
      dispose([emb, ...chain.values()]);
    }
  });

  for (const [mistake, alignCorners] of [['resize_torch_bilinear_no_antialias', false], ['resize_torch_bilinear_align_corners_true', true]] as const) {
    test(mistake, async () => {
      for (const name of ['rgb', 'gray'] as const) {
        const info = m.images[name]!;
        const img = await readImage(fixturePath(info.file), { channels: 3 });
        const [nh, nw] = info.resized_hw;
        const pillow = pillowResizeBilinear(img.data as Uint8Array, img.width, img.height, 3, nw, nh);
        const torchStyle = tidy(() => {
          const x = tensor(img.data as Uint8Array, [img.height, img.width, 3]).permute(2, 0, 1).unsqueeze(0).float();
          const y = F.interpolate(x, { size: [nh, nw], mode: 'bilinear', alignCorners }).round().clamp(0, 255).to('uint8');
          return y.squeeze(0).permute(1, 2, 0).contiguous().data() as Uint8Array;
        });
        let maxDelta = 0;
        pillow.forEach((v, i) => { maxDelta = Math.max(maxDelta, Math.abs(v - torchStyle[i]!)); });
        const sha = createHash('sha256').update(torchStyle).digest('hex');
        assert.notEqual(sha, info.resized_sha256_of_raw_hwc_uint8, `${mistake} (${name}) would pass the resize pin`);
        const rec = (m.typical_mistakes.find((x) => x.mistake === mistake) as unknown as { max_abs_change_full_arrays: Record<string, number> })
          .max_abs_change_full_arrays[`${name}/resized_uint8`];
        assert.equal(maxDelta, rec, `${mistake} (${name}): the resized image moves by ${maxDelta} levels, the official record says ${rec}`);
      }
    });
  }
});
