// The MedSAM and LiteMedSAM recipes of SamPredictor against their published inference scripts, re-run in
// /usr/bin/python3: MedSAM_Inference.py (scikit-image order-3 resize to S², uint8 truncation, min–max, box / [W, H]
// · S, sigmoid → bilinear to (H, W) → > 0.5) and CVPR24_LiteMedSAM_infer.py (OpenCV INTER_AREA to the longest side,
// min–max, zero padding, int() of the scaled box, crop + bilinear of the logits → sigmoid → > 0.5). The recipes do
// not depend on the encoder, so both run on the sam-vit-small checkpoint with bench/sam/sam_functional.py as the
// PyTorch model (LiteMedSAM's own TinyViT at 256 is checked by the TinyViT parity tests).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Tensor, dispose, keep } from '../../../src/engine/index.ts';
import { readNpy } from '../../../src/data/npy.ts';
import { SamPredictor, type SamPrediction } from '../../../src/models/sam/predictor.ts';
import { type Sam, type SamPreprocessing, type SamPrompts, SAM_PIXEL_MEAN, SAM_PIXEL_STD, loadSamCheckpoint } from '../../../src/models/sam/index.ts';
import { PYTHON } from '../../helpers/torchRef.ts';
import { CHECKPOINT, haveFixture, manifest, maxAbsDiff, repoRoot } from './helpers.ts';

const haveRefs = spawnSync(PYTHON, ['-c', 'import torch, numpy, skimage, cv2'], { encoding: 'utf8' }).status === 0;

interface Recipe { kind: Exclude<SamPreprocessing, 'sam'>; width: number; height: number; box: number[]; boxes: number[][] }
const RECIPES: Recipe[] = [
  // MedSAM enlarges (the bit-exact path of the scikit-image resize) and ignores the aspect ratio.
  { kind: 'medsam', width: 700, height: 530, box: [120.5, 80, 560, 470.25], boxes: [[10, 10, 300, 260], [350, 200, 690, 520]] },
  // LiteMedSAM-style shrinking by a non-integer factor (OpenCV's fractional INTER_AREA path), then padding.
  { kind: 'lite_medsam', width: 1300, height: 900, box: [50.7, 60.2, 700.9, 800.5], boxes: [[10, 10, 500, 500], [600, 100, 1200, 880]] },
];

const rows = (flat: number[], n: number): number[][] => Array.from({ length: flat.length / n }, (_, i) => flat.slice(i * n, (i + 1) * n));

function synthetic(W: number, H: number, seed: number): Uint8Array {
  const out = new Uint8Array(W * H * 3);
  let s = seed;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const inside = (x - W / 2) ** 2 / (W / 4) ** 2 + (y - H / 2) ** 2 / (H / 4) ** 2 < 1;
      for (let k = 0; k < 3; k++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        out[(y * W + x) * 3 + k] = ((inside ? 190 - k * 40 : 30 + k * 45) + ((x + 2 * y) % 29) + (s >>> 29)) & 255;
      }
    }
  }
  return out;
}

for (const [ri, recipe] of RECIPES.entries()) {
  describe(`SamPredictor '${recipe.kind}' recipe vs the published inference code`, { skip: (!haveFixture || !haveRefs) && 'needs the fixture, torch, scikit-image and OpenCV' }, () => {
    const { kind, width: W, height: H } = recipe;
    let dir: string;
    let model: Sam;
    let predictor: SamPredictor;
    let encoderInput: Tensor | null = null;
    const decodedBoxes: number[][][] = [];
    const ours: SamPrediction[] = [];
    before(() => {
      dir = mkdtempSync(join(tmpdir(), `sam-${kind}-`));
      const img = synthetic(W, H, 777 + ri);
      writeFileSync(join(dir, 'image.bin'), img);
      const loaded = loadSamCheckpoint(CHECKPOINT, { modelType: 'auto' });
      model = loaded.model;
      const e = loaded.config.imageEncoder, md = loaded.config.maskDecoder;
      assert.equal(e.type, 'vit');
      const config = e.type === 'vit' ? { encoder: { depth: e.depth, heads: e.numHeads, window: e.windowSize, global: e.globalAttnIndexes }, dec_heads: md.transformerNumHeads, dec_depth: md.transformerDepth } : {};
      const input = JSON.stringify({ bench_dir: join(repoRoot, 'bench', 'sam'), checkpoint: CHECKPOINT, config, kind, image: join(dir, 'image.bin'), height: H, width: W, out: dir, box: recipe.box, boxes: recipe.boxes });
      const r = spawnSync(PYTHON, ['-c', REF_PY], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
      assert.equal(r.status, 0, r.stderr);
      // Spy on what reaches the encoder and the decoder: the recipe's image tensor and its prompt transform.
      const encodeImage = model.encodeImage.bind(model);
      model.encodeImage = (x: Tensor) => { encoderInput = keep(x.clone()); return encodeImage(x); };
      const decode = model.decode.bind(model);
      model.decode = (emb: Tensor, p: SamPrompts, multimask: boolean) => { decodedBoxes.push(rows(p.boxes!.toArray(), 4)); return decode(emb, p, multimask); };
      predictor = new SamPredictor(model, { kind, targetLength: model.imgSize, pixelMean: SAM_PIXEL_MEAN, pixelStd: SAM_PIXEL_STD });
      predictor.setImage({ data: img, width: W, height: H, channels: 3 });
      ours.push(predictor.predict({ box: recipe.box, multimaskOutput: false, returnLogits: true }));
      ours.push(predictor.predict({ boxes: recipe.boxes, multimaskOutput: false }));
    });
    after(() => {
      for (const r of ours) dispose(Object.values(r) as Tensor[]);
      dispose(encoderInput ?? []);
      predictor?.dispose();
      model?.dispose();
      rmSync(dir, { recursive: true, force: true });
    });
    const tolOf = (k: string): number => Math.max(...Object.entries(manifest().tolerances.per_output)
      .filter(([name]) => name.endsWith(`/${k}`)).map(([, v]) => v.suggested_test_tolerance_max_abs));

    test('the encoder input equals the published preprocessing exactly', () => {
      const ref = readNpy(join(dir, 'input.npy'));
      assert.deepEqual(encoderInput!.shape, ref.shape);
      assert.equal(maxAbsDiff(encoderInput!, ref), 0);
      ref.dispose();
    });

    test('boxes reach the decoder as the published script scales them', () => {
      const ref = readNpy(join(dir, 'boxes.npy'));
      const want = rows(ref.toArray(), 4);
      assert.deepEqual(decodedBoxes, [want.slice(0, 1), want.slice(1)]);
      ref.dispose();
    });

    test('embedding and low-res logits within the fixture tolerances', (t) => {
      const emb = readNpy(join(dir, 'embedding.npy'));
      const d = maxAbsDiff(predictor.getImageEmbedding(), emb);
      emb.dispose();
      t.diagnostic(`embedding max|diff| ${d}`);
      assert.ok(d <= tolOf('image_embedding'), `embedding differs by ${d}`);
      for (const [i, r] of ours.entries()) {
        const lr = readNpy(join(dir, `${i}_lowres.npy`));
        const want = i === 0 ? lr.squeeze(0) : lr;
        const dl = maxAbsDiff(r.lowResLogits, want);
        dispose([lr, want]);
        t.diagnostic(`prediction ${i}: low-res max|diff| ${dl}`);
        assert.ok(dl <= tolOf('low_res_logits'), `low-res logits differ by ${dl}`);
      }
    });

    test('masks follow the published rule (sigmoid > 0.5); they may differ only where the probability is within noise of 0.5', (t) => {
      for (const [i, r] of ours.entries()) {
        const prob = readNpy(join(dir, `${i}_prob.npy`));
        const p = prob.toFloat32Array();
        const m = r.masks.toArray();
        assert.equal(m.length, p.length);
        assert.deepEqual(r.masks.shape.slice(-2), [H, W]);
        let differ = 0, positives = 0;
        for (let k = 0; k < p.length; k++) {
          positives += m[k]!;
          if ((p[k]! > 0.5 ? 1 : 0) !== m[k]) {
            differ++;
            assert.ok(Math.abs(p[k]! - 0.5) < 1e-4, `pixel ${k}: mask ${m[k]} but the reference probability is ${p[k]}`);
          }
        }
        prob.dispose();
        t.diagnostic(`prediction ${i}: ${positives} foreground pixels, ${differ} differing (all at p ≈ 0.5)`);
        assert.ok(positives > 0 && positives < p.length, 'a degenerate mask proves nothing');
      }
    });
  });
}

/** The published scripts' steps around the functional PyTorch SAM (arguments as JSON on stdin; .npy files out). */
const REF_PY = String.raw`import json, sys
import numpy as np
import torch
import torch.nn.functional as F
import cv2
from skimage import transform

args = json.loads(sys.stdin.read())
sys.path.insert(0, args['bench_dir'])
from sam_functional import functional_sam
sd = torch.load(args['checkpoint'], map_location='cpu')
torch.set_num_threads(2)
sam = functional_sam(sd, args['config'])
H, W, S, out = args['height'], args['width'], 1024, args['out']
img = np.fromfile(args['image'], dtype=np.uint8).reshape(H, W, 3)
boxes = np.array([args['box']] + args['boxes'], dtype=float)
with torch.no_grad():
    if args['kind'] == 'medsam':  # MedSAM_Inference.py
        img_1024 = transform.resize(img, (S, S), order=3, preserve_range=True, anti_aliasing=True).astype(np.uint8)
        img_1024 = (img_1024 - img_1024.min()) / np.clip(img_1024.max() - img_1024.min(), a_min=1e-8, a_max=None)
        x = torch.tensor(img_1024).float().permute(2, 0, 1).unsqueeze(0)
        b = torch.as_tensor(boxes / np.array([W, H, W, H]) * S, dtype=torch.float)
        def post(lr):
            return F.interpolate(torch.sigmoid(lr), size=(H, W), mode='bilinear', align_corners=False)
    else:  # CVPR24_LiteMedSAM_infer.py (target 256 there; the model's input size here)
        scale = S * 1.0 / max(H, W)
        nh, nw = int(H * scale + 0.5), int(W * scale + 0.5)
        r = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
        r = (r - r.min()) / np.clip(r.max() - r.min(), a_min=1e-8, a_max=None)
        r = np.pad(r, ((0, S - nh), (0, S - nw), (0, 0)))
        x = torch.tensor(r).float().permute(2, 0, 1).unsqueeze(0)
        ratio = S / max(H, W)
        b = torch.as_tensor(np.array([[int(v * ratio) for v in bx] for bx in boxes]), dtype=torch.float)
        def post(lr):  # postprocess_masks; at LiteMedSAM's 256 input the first resize is the identity
            m = F.interpolate(lr, size=(S, S), mode='bilinear', align_corners=False)[..., :nh, :nw]
            return torch.sigmoid(F.interpolate(m, size=(H, W), mode='bilinear', align_corners=False))
    np.save(out + '/input.npy', x.numpy())
    np.save(out + '/boxes.npy', b.numpy())
    emb = sam.encoder(x)
    np.save(out + '/embedding.npy', emb.numpy())
    for i, bx in enumerate((b[:1], b[1:])):
        sparse, dense = sam.prompt_encoder(None, bx, None)
        lr, iou = sam.decoder(emb, sparse, dense, False)
        np.save(f'{out}/{i}_lowres.npy', lr.numpy())
        np.save(f'{out}/{i}_prob.npy', post(lr).numpy())
print('ok')
`;
