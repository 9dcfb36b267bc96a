// The checkpoint loader and the registry's module trees: vit_b's state_dict keys, order and shapes equal the
// official module tree (built in PyTorch by official_tree.py); the fixture checkpoint's configuration is detected
// with 'auto'; nested / `module.`-prefixed training checkpoints load; vit_l, vit_h, MedSAM, MobileSAM and
// LiteMedSAM are recognised from their keys and shapes; files of another family, truncated or mis-shaped fail
// with one line naming the offending keys.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Tensor, dispose } from '../../../src/engine/index.ts';
import { OrderedDict, PyDict, loadStateDict, saveCheckpoint } from '../../../src/engine/serialization/index.ts';
import {
  type Sam, SAM_MODEL_CONFIGS, buildSam, detectSamConfig, getSamConfig, loadSamCheckpoint, samVitConfig,
} from '../../../src/models/sam/index.ts';
import { PYTHON, torchAvailable } from '../../nn/torch_ref.ts';
import { CHECKPOINT, haveFixture, manifest, repoRoot } from './helpers.ts';

const SMALL = samVitConfig({
  name: 'sam_vit_small', embedDim: 192, depth: 4, numHeads: 3, globalAttnIndexes: [1, 3], promptEmbedDim: 128, decoderMlpDim: 512, iouHeadHiddenDim: 128,
});
const arch = (c: { imageEncoder: unknown; promptEncoder: unknown; maskDecoder: unknown }): string => JSON.stringify([c.imageEncoder, c.promptEncoder, c.maskDecoder]);
const shapesOf = (sd: Map<string, Tensor>): Map<string, number[]> => new Map([...sd].map(([k, t]) => [k, t.shape]));
const MOBILE = resolve(repoRoot, '../shared/fixtures/mobile-sam/mobile_sam_synthetic.pt');
const OTHER = resolve(repoRoot, '../shared/fixtures/checkpoints');

interface OfficialTree { keys: [string, number[]][]; params: Record<string, number> }
let official: Record<string, OfficialTree> | null = null;
let tmp: string;

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'samtutor-samckpt-'));
  if (!torchAvailable) return;
  const r = spawnSync(PYTHON, [join(repoRoot, 'test/models/sam/official_tree.py')], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`official_tree.py failed:\n${r.stderr}`);
  official = JSON.parse(r.stdout) as Record<string, OfficialTree>;
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Asserts a one-line error whose message matches every pattern. */
function throwsOneLine(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (err: Error) => {
    assert.ok(!err.message.includes('\n'), `expected one line, got:\n${err.message}`);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

describe('vit_b module tree', () => {
  let vitB: Sam;
  before(() => { vitB = buildSam('vit_b'); });
  after(() => vitB.dispose());

  test('state_dict keys, order and shapes equal the official tree', (t) => {
    if (!official) return t.skip(`${PYTHON} cannot import torch`);
    const ours = [...vitB.stateDict()].map(([k, v]) => [k, v.shape]);
    assert.equal(ours.length, 314);
    assert.deepEqual(ours, official.vit_b!.keys);
  });

  test('parameter counts (sam.md §1)', () => {
    assert.equal(vitB.numParameters(), 93_735_472);
    assert.equal(vitB.imageEncoder.numParameters(), 89_670_912);
    assert.equal(vitB.promptEncoder.numParameters(), 6_220);
    assert.equal(vitB.maskDecoder.numParameters(), 4_058_340);
    assert.deepEqual([...vitB.namedBuffers()].map(([k]) => k), ['pixel_mean', 'pixel_std', 'prompt_encoder.pe_layer.positional_encoding_gaussian_matrix']);
  });

  test('detection: vit_b, and MedSAM by file name; vit_l and vit_h from the official trees', (t) => {
    const shapes = shapesOf(vitB.stateDict());
    assert.equal(detectSamConfig(shapes).name, 'vit_b');
    assert.equal(detectSamConfig(shapes, { fileName: 'medsam_vit_b.pth' }).name, 'medsam');
    assert.equal(detectSamConfig(shapes, { fileName: 'medsam_vit_b.pth' }), SAM_MODEL_CONFIGS.medsam);
    if (!official) return t.skip(`${PYTHON} cannot import torch`);
    for (const name of ['vit_l', 'vit_h']) {
      const c = detectSamConfig(new Map(official[name]!.keys));
      assert.equal(c.name, name);
      assert.equal(official[name]!.keys.length, name === 'vit_l' ? 482 : 594);
    }
  });
});

describe('fixture checkpoint', { skip: !haveFixture && '../shared/fixtures/sam-vit-small not present' }, () => {
  test("'auto' detects the small configuration and loads every tensor", () => {
    const { model, config } = loadSamCheckpoint(CHECKPOINT);
    try {
      assert.equal(config.name, 'custom');
      assert.equal(arch(config), arch(SMALL));
      const mc = (manifest() as unknown as { model_config: { image_encoder: Record<string, unknown> } }).model_config.image_encoder;
      assert.ok(config.imageEncoder.type === 'vit');
      for (const [ours, theirs] of [['embedDim', 'embed_dim'], ['depth', 'depth'], ['numHeads', 'num_heads'], ['windowSize', 'window_size'], ['outChans', 'out_chans'], ['globalAttnIndexes', 'global_attn_indexes']] as const) {
        assert.deepEqual(config.imageEncoder[ours], mc[theirs], ours);
      }
      const file = loadStateDict(CHECKPOINT);
      const own = model.stateDict();
      assert.deepEqual([...own.keys()], [...file.keys()]);
      for (const [k, t] of file) assert.ok(own.get(k)!.eq(t).all().item(), `${k} differs after loading`);
      dispose([...file.values()]);
      assert.equal(model.training, false);
    } finally {
      model.dispose();
    }
  });

  test('a nested {model: …} training checkpoint with `module.` prefixes loads the same', () => {
    const file = loadStateDict(CHECKPOINT);
    const path = join(tmp, 'train_ckpt.pth');
    saveCheckpoint(path, new PyDict<string, unknown>([['model', new OrderedDict([...file].map(([k, v]) => [`module.${k}`, v]))], ['epoch', 7]]));
    const { model, config } = loadSamCheckpoint(path);
    try {
      assert.equal(arch(config), arch(SMALL));
      const w = model.stateDict().get('mask_decoder.iou_prediction_head.layers.2.weight')!;
      assert.ok(w.eq(file.get('mask_decoder.iou_prediction_head.layers.2.weight')!).all().item());
    } finally {
      model.dispose();
      dispose([...file.values()]);
    }
  });

  test('a truncated SAM state dict fails naming the missing keys', () => {
    const file = loadStateDict(CHECKPOINT);
    const path = join(tmp, 'truncated_sam.pth');
    const drop = ['image_encoder.blocks.2.attn.qkv.weight', 'prompt_encoder.point_embeddings.3.weight'];
    saveCheckpoint(path, new OrderedDict([...file].filter(([k]) => !drop.includes(k))));
    dispose([...file.values()]);
    throwsOneLine(() => loadSamCheckpoint(path),
      /does not fit SAM "custom": keys 2 missing \("image_encoder\.blocks\.2\.attn\.qkv\.weight", "prompt_encoder\.point_embeddings\.3\.weight"\), 0 unexpected, 0 with other shapes/);
  });

  test('the wrong size (modelType vit_b) fails naming missing and mis-shaped keys', () => {
    throwsOneLine(() => loadSamCheckpoint(CHECKPOINT, { modelType: 'vit_b' }),
      /does not fit SAM "vit_b": keys 112 missing \("image_encoder\.blocks\.4\.norm1\.weight", .*\), 0 unexpected, 191 with other shapes \(image_encoder\.pos_embed: checkpoint \[1, 64, 64, 192\] vs model \[1, 64, 64, 768\];/);
  });

  test('another family (MobileSAM file into the small ViT config) fails naming missing and unexpected keys', { skip: !existsSync(MOBILE) && 'mobile-sam fixture not present' }, () => {
    throwsOneLine(() => loadSamCheckpoint(MOBILE, { modelType: SMALL }),
      /does not fit SAM "sam_vit_small": keys \d+ missing \("image_encoder\.pos_embed", "image_encoder\.patch_embed\.proj\.weight", .*\), \d+ unexpected \("image_encoder\.patch_embed\.seq\.0\.c\.weight", /);
  });
});

describe('other files', () => {
  test('a non-SAM checkpoint fails with one line listing its keys', () => {
    throwsOneLine(() => loadSamCheckpoint(join(OTHER, 'plain.pth')),
      /is not a SAM checkpoint: missing "image_encoder\.patch_embed\.proj\.weight" \(ViT\) and "image_encoder\.patch_embed\.seq\.0\.c\.weight" \(TinyViT\); 11 keys, unexpected: "conv\.weight", "conv\.bias", /);
  });

  test('a truncated zip fails', () => {
    assert.throws(() => loadSamCheckpoint(join(OTHER, 'truncated.pth')));
  });

  test('unknown model types list the valid ones', () => {
    throwsOneLine(() => getSamConfig('vit_x'),
      /^Expected one of vit_h, vit_l, vit_b, medsam, mobile_sam, lite_medsam, default, vit_t, medsam_vit_b for model type but received vit_x of type string$/);
    throwsOneLine(() => loadSamCheckpoint(CHECKPOINT, { modelType: 'vit_x' }), /Expected one of vit_h, .* but received vit_x/);
  });

  test('MobileSAM is detected from its keys', { skip: !existsSync(MOBILE) && 'mobile-sam fixture not present' }, () => {
    const sd = loadStateDict(MOBILE);
    try {
      const c = detectSamConfig(sd);
      assert.equal(c.name, 'mobile_sam');
      assert.equal(c, SAM_MODEL_CONFIGS.mobile_sam);
    } finally {
      dispose([...sd.values()]);
    }
  });

  test('LiteMedSAM is detected from its keys (1×1 stem, no classifier head)', () => {
    const lite = buildSam('lite_medsam');
    try {
      const shapes = shapesOf(lite.stateDict());
      assert.equal(shapes.size, 435);
      assert.equal(lite.numParameters(), 9_791_300);
      const c = detectSamConfig(shapes);
      assert.equal(c.name, 'lite_medsam');
      assert.deepEqual(c.promptEncoder.inputImageSize, [256, 256]);
    } finally {
      lite.dispose();
    }
  });
});


