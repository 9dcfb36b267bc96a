// "Any other image and prompts": SamPredictor against a PyTorch computation on a new synthetic image (1300x900,
// so the Pillow resize shrinks it) and new prompts (points, box + point, a chained mask input, batched boxes).
// The reference is a functional PyTorch re-statement of the official forward and SamPredictor (segment_anything
// is not installed), run in /usr/bin/python3 on the sam-vit-small checkpoint; skipped without torch + PIL.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Tensor, dispose } from '../../../src/engine/index.ts';
import { readNpy } from '../../../src/data/npy.ts';
import { type Sam, loadSamCheckpoint } from '../../../src/models/sam/index.ts';
import { SamPredictor, type SamPrediction } from '../../../src/models/sam/predictor.ts';
import { PYTHON } from '../../helpers/torchRef.ts';
import { CHECKPOINT, haveFixture, manifest, maxAbsDiff, repoRoot } from './helpers.ts';

// REF_PY (at the end of this file) is hoisted as a const: used only inside before().
const haveTorch = spawnSync(PYTHON, ['-c', 'import torch, PIL, numpy'], { encoding: 'utf8' }).status === 0;
const W = 1300, H = 900;

interface RefCase { points?: number[][]; labels?: number[]; box?: number[]; boxes?: number[][]; mask_from?: number; multimask: boolean }
const CASES: RefCase[] = [
  { points: [[100.3, 200.7], [900, 50]], labels: [1, 0], multimask: true },
  { points: [[300, 400]], labels: [1], box: [50.5, 60, 700, 800], multimask: false },
  { points: [[650, 450]], labels: [1], mask_from: 0, multimask: false },
  { boxes: [[10, 10, 500, 500], [600, 100, 1200, 880]], multimask: true },
];

function synthetic(): Uint8Array {
  const out = new Uint8Array(W * H * 3);
  let s = 12345;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const inside = (x - 600) ** 2 / 300 ** 2 + (y - 450) ** 2 / 200 ** 2 < 1;
      for (let k = 0; k < 3; k++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        out[(y * W + x) * 3 + k] = ((inside ? 200 - k * 40 : 30 + k * 50) + ((x + 2 * y) % 37) + (s >>> 29)) & 255;
      }
    }
  }
  return out;
}

describe('SamPredictor vs a PyTorch reference on a new image and prompts', { skip: (!haveFixture || !haveTorch) && 'needs the fixture and torch + PIL' }, () => {
  let dir: string;
  let model: Sam;
  let predictor: SamPredictor;
  const ours: SamPrediction[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sam-official-'));
    const img = synthetic();
    writeFileSync(join(dir, 'image.bin'), img);
    const loaded = loadSamCheckpoint(CHECKPOINT, { modelType: 'auto' });
    model = loaded.model;
    const e = loaded.config.imageEncoder, md = loaded.config.maskDecoder;
    assert.equal(e.type, 'vit');
    const config = e.type === 'vit' ? { encoder: { depth: e.depth, heads: e.numHeads, window: e.windowSize, global: e.globalAttnIndexes }, dec_heads: md.transformerNumHeads, dec_depth: md.transformerDepth } : {};
    const input = JSON.stringify({ bench_dir: join(repoRoot, 'bench', 'sam'), checkpoint: CHECKPOINT, config, image: join(dir, 'image.bin'), height: H, width: W, out: dir, cases: CASES });
    const r = spawnSync(PYTHON, ['-c', REF_PY], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, r.stderr);
    predictor = new SamPredictor(model, loaded.config);
    predictor.setImage({ data: img, width: W, height: H, channels: 3 });
    for (const c of CASES) {
      const prev = c.mask_from === undefined ? undefined : ours[0]!.lowResLogits.select(0, c.mask_from);
      ours.push(predictor.predict({
        ...(c.points ? { pointCoords: c.points, pointLabels: c.labels! } : {}), ...(c.box ? { box: c.box } : {}),
        ...(c.boxes ? { boxes: c.boxes } : {}), ...(prev ? { maskInput: prev } : {}), multimaskOutput: c.multimask, returnLogits: true,
      }));
      dispose(prev ?? []);
    }
  });
  after(() => {
    for (const r of ours) dispose(Object.values(r) as Tensor[]);
    predictor?.dispose();
    model?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The largest suggested tolerance of an output kind over the fixture's cases. */
  const tolOf = (kind: string): number => Math.max(...Object.entries(manifest().tolerances.per_output)
    .filter(([k]) => k.endsWith(`/${kind}`)).map(([, v]) => v.suggested_test_tolerance_max_abs));

  test('image embedding', (t) => {
    const ref = readNpy(join(dir, 'embedding.npy'));
    const d = maxAbsDiff(predictor.getImageEmbedding(), ref);
    ref.dispose();
    t.diagnostic(`embedding max|diff| ${d} (tol ${tolOf('image_embedding')})`);
    assert.ok(d <= tolOf('image_embedding'));
  });

  for (const [i, c] of CASES.entries()) {
    test(`case ${i}: ${JSON.stringify(c)}`, (t) => {
      const r = ours[i]!;
      const batched = c.boxes !== undefined;
      for (const [name, kind, t2] of [['iou', 'iou_predictions', r.iouPredictions], ['lowres', 'low_res_logits', r.lowResLogits], ['logits', 'mask_logits', r.logits!]] as const) {
        const ref = readNpy(join(dir, `${i}_${name}.npy`));
        const refB = batched ? ref : ref.squeeze(0);
        const d = maxAbsDiff(t2, refB);
        dispose([ref, refB]);
        t.diagnostic(`${name}: max|diff| ${d} (tol ${tolOf(kind)})`);
        assert.ok(d <= tolOf(kind), `${name} differs by ${d}`);
      }
    });
  }
});

/** The PyTorch reference (reads its arguments as JSON on stdin, writes .npy files to args.out). */
const REF_PY = String.raw`# SamPredictor's pre/post-processing around bench/sam/sam_functional.py (the official forward re-stated).
import json, sys
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

args = json.loads(sys.stdin.read())
sys.path.insert(0, args['bench_dir'])
from sam_functional import functional_sam
sd = torch.load(args['checkpoint'], map_location='cpu')
torch.set_num_threads(2)
_sam = functional_sam(sd, args['config'])
encoder, prompt_encoder, decoder = _sam.encoder, _sam.prompt_encoder, _sam.decoder

with torch.no_grad():
    H, Wd = args['height'], args['width']
    img = np.fromfile(args['image'], dtype=np.uint8).reshape(H, Wd, 3)
    sc = 1024 / max(H, Wd); nh, nw = int(H * sc + 0.5), int(Wd * sc + 0.5)
    res = np.array(Image.fromarray(img).resize((nw, nh), Image.BILINEAR))
    x = torch.as_tensor(res).permute(2, 0, 1).contiguous()[None].float()
    x = (x - torch.tensor([123.675, 116.28, 103.53]).view(-1, 1, 1)) / torch.tensor([58.395, 57.12, 57.375]).view(-1, 1, 1)
    emb = encoder(F.pad(x, (0, 1024 - nw, 0, 1024 - nh)))
    np.save(args['out'] + '/embedding.npy', emb.numpy())
    def post(lr):
        m = F.interpolate(lr, (1024, 1024), mode='bilinear', align_corners=False)[..., :nh, :nw]
        return F.interpolate(m, (H, Wd), mode='bilinear', align_corners=False)
    def coords(a):
        a = np.array(a, dtype=float).copy(); a[..., 0] *= nw / Wd; a[..., 1] *= nh / H
        return a
    prev = None
    for i, c in enumerate(args['cases']):
        pts = (torch.as_tensor(coords(c['points']), dtype=torch.float)[None], torch.as_tensor(c['labels'], dtype=torch.int)[None]) if 'points' in c else None
        box = torch.as_tensor(coords(np.array(c['box']).reshape(-1, 2, 2)).reshape(-1, 4), dtype=torch.float) if 'box' in c else None
        if 'boxes' in c:
            bx = torch.tensor(c['boxes'], dtype=torch.float).reshape(-1, 2, 2)
            bx[..., 0] = bx[..., 0] * (nw / Wd); bx[..., 1] = bx[..., 1] * (nh / H)
            box = bx.reshape(-1, 4)
        mi = prev[c['mask_from']][None, None] if 'mask_from' in c else None
        sparse, dense = prompt_encoder(pts, box, mi)
        lr, iou = decoder(emb, sparse, dense, c['multimask'])
        if i == 0: prev = lr[0]  # mask_from: a mask index of case 0
        for name, t in (('lowres', lr), ('iou', iou), ('logits', post(lr))):
            np.save(f"{args['out']}/{i}_{name}.npy", t.numpy())
print('ok')
`;
