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
import { CHECKPOINT, haveFixture, manifest, maxAbsDiff } from './helpers.ts';

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
    const input = JSON.stringify({ checkpoint: CHECKPOINT, config, image: join(dir, 'image.bin'), height: H, width: W, out: dir, cases: CASES });
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
const REF_PY = String.raw`# A functional PyTorch re-statement of the official segment-anything forward (ImageEncoderViT, PromptEncoder,
# MaskDecoder, TwoWayTransformer) and SamPredictor's pre/post-processing, reading the state dict directly.
import json, math, sys
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

args = json.loads(sys.stdin.read())
sd = torch.load(args['checkpoint'], map_location='cpu')
cfg = args['config']
torch.set_num_threads(2)
W_ = lambda k: sd[k]

def ln2d(x, p, eps=1e-6):
    u = x.mean(1, keepdim=True); s = (x - u).pow(2).mean(1, keepdim=True)
    x = (x - u) / torch.sqrt(s + eps)
    return W_(p + '.weight')[:, None, None] * x + W_(p + '.bias')[:, None, None]

def lin(x, p): return F.linear(x, W_(p + '.weight'), sd.get(p + '.bias'))

def get_rel_pos(q, k, rp):
    qc = torch.arange(q)[:, None] * max(k / q, 1.0); kc = torch.arange(k)[None, :] * max(q / k, 1.0)
    return rp[((qc - kc) + (k - 1) * max(q / k, 1.0)).long()]

def vit_attn(x, p, heads):
    B, H, Wd, _ = x.shape
    qkv = lin(x, p + '.qkv').reshape(B, H * Wd, 3, heads, -1).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.reshape(3, B * heads, H * Wd, -1).unbind(0)
    scale = q.shape[-1] ** -0.5
    attn = (q * scale) @ k.transpose(-2, -1)
    Rh = get_rel_pos(H, H, W_(p + '.rel_pos_h')); Rw = get_rel_pos(Wd, Wd, W_(p + '.rel_pos_w'))
    r_q = q.reshape(B * heads, H, Wd, -1)
    rel_h = torch.einsum('bhwc,hkc->bhwk', r_q, Rh); rel_w = torch.einsum('bhwc,wkc->bhwk', r_q, Rw)
    attn = (attn.view(B * heads, H, Wd, H, Wd) + rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]).view(B * heads, H * Wd, H * Wd)
    attn = attn.softmax(dim=-1)
    x = (attn @ v).view(B, heads, H, Wd, -1).permute(0, 2, 3, 1, 4).reshape(B, H, Wd, -1)
    return lin(x, p + '.proj')

def encoder(x):
    e = cfg['encoder']; ws = e['window']
    x = F.conv2d(x, W_('image_encoder.patch_embed.proj.weight'), W_('image_encoder.patch_embed.proj.bias'), stride=16).permute(0, 2, 3, 1)
    x = x + W_('image_encoder.pos_embed')
    for i in range(e['depth']):
        p = f'image_encoder.blocks.{i}'
        sc = x
        x = F.layer_norm(x, (x.shape[-1],), W_(p + '.norm1.weight'), W_(p + '.norm1.bias'), 1e-6)
        win = i not in e['global']
        if win:
            B, H, Wd, C = x.shape
            ph = (ws - H % ws) % ws; pw = (ws - Wd % ws) % ws
            x = F.pad(x, (0, 0, 0, pw, 0, ph)); Hp, Wp = H + ph, Wd + pw
            x = x.view(B, Hp // ws, ws, Wp // ws, ws, C).permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, C)
        x = vit_attn(x, p + '.attn', e['heads'])
        if win:
            x = x.view(B, Hp // ws, Wp // ws, ws, ws, -1).permute(0, 1, 3, 2, 4, 5).contiguous().view(B, Hp, Wp, -1)[:, :H, :Wd, :].contiguous()
        x = sc + x
        y = F.layer_norm(x, (x.shape[-1],), W_(p + '.norm2.weight'), W_(p + '.norm2.bias'), 1e-6)
        x = x + lin(F.gelu(lin(y, p + '.mlp.lin1')), p + '.mlp.lin2')
    x = x.permute(0, 3, 1, 2)
    x = ln2d(F.conv2d(x, W_('image_encoder.neck.0.weight')), 'image_encoder.neck.1')
    return ln2d(F.conv2d(x, W_('image_encoder.neck.2.weight'), padding=1), 'image_encoder.neck.3')

G = W_('prompt_encoder.pe_layer.positional_encoding_gaussian_matrix')
def pe_enc(c):
    c = (2 * c - 1) @ G; c = 2 * np.pi * c
    return torch.cat([torch.sin(c), torch.cos(c)], dim=-1)
def pe_coords(c):
    c = c.clone(); c[..., 0] = c[..., 0] / 1024; c[..., 1] = c[..., 1] / 1024
    return pe_enc(c.to(torch.float))
pemb = lambda i: W_(f'prompt_encoder.point_embeddings.{i}.weight')

def prompt_encoder(points, boxes, masks):
    bs = points[0].shape[0] if points is not None else boxes.shape[0] if boxes is not None else masks.shape[0] if masks is not None else 1
    sparse = torch.empty((bs, 0, G.shape[1] * 2))
    if points is not None:
        pts, labels = points; pts = pts + 0.5
        if boxes is None:
            pts = torch.cat([pts, torch.zeros((pts.shape[0], 1, 2))], dim=1)
            labels = torch.cat([labels, -torch.ones((labels.shape[0], 1))], dim=1)
        pe = pe_coords(pts)
        pe[labels == -1] = 0.0
        pe[labels == -1] += W_('prompt_encoder.not_a_point_embed.weight')
        pe[labels == 0] += pemb(0); pe[labels == 1] += pemb(1)
        sparse = torch.cat([sparse, pe], dim=1)
    if boxes is not None:
        ce = pe_coords((boxes + 0.5).reshape(-1, 2, 2))
        ce[:, 0, :] += pemb(2); ce[:, 1, :] += pemb(3)
        sparse = torch.cat([sparse, ce], dim=1)
    if masks is not None:
        p = 'prompt_encoder.mask_downscaling'
        x = F.gelu(ln2d(F.conv2d(masks, W_(p + '.0.weight'), W_(p + '.0.bias'), stride=2), p + '.1'))
        x = F.gelu(ln2d(F.conv2d(x, W_(p + '.3.weight'), W_(p + '.3.bias'), stride=2), p + '.4'))
        dense = F.conv2d(x, W_(p + '.6.weight'), W_(p + '.6.bias'))
    else:
        dense = W_('prompt_encoder.no_mask_embed.weight').reshape(1, -1, 1, 1).expand(bs, -1, 64, 64)
    return sparse, dense

def dense_pe():
    g = torch.ones((64, 64)); y = (g.cumsum(0) - 0.5) / 64; x = (g.cumsum(1) - 0.5) / 64
    return pe_enc(torch.stack([x, y], dim=-1)).permute(2, 0, 1).unsqueeze(0)

def dattn(q, k, v, p, heads):
    q, k, v = lin(q, p + '.q_proj'), lin(k, p + '.k_proj'), lin(v, p + '.v_proj')
    sep = lambda x: x.reshape(x.shape[0], x.shape[1], heads, x.shape[2] // heads).transpose(1, 2)
    q, k, v = sep(q), sep(k), sep(v)
    a = (q @ k.permute(0, 1, 3, 2)) / math.sqrt(q.shape[-1])
    o = torch.softmax(a, dim=-1) @ v
    o = o.transpose(1, 2); o = o.reshape(o.shape[0], o.shape[1], -1)
    return lin(o, p + '.out_proj')

def lnorm(x, p): return F.layer_norm(x, (x.shape[-1],), W_(p + '.weight'), W_(p + '.bias'), 1e-5)

def transformer(img, img_pe, pt):
    t = 'mask_decoder.transformer'; h = cfg['dec_heads']
    img = img.flatten(2).permute(0, 2, 1); img_pe = img_pe.flatten(2).permute(0, 2, 1)
    q, k = pt, img
    for i in range(cfg['dec_depth']):
        p = f'{t}.layers.{i}'
        if i == 0: q = dattn(q, q, q, p + '.self_attn', h)
        else: qq = q + pt; q = q + dattn(qq, qq, q, p + '.self_attn', h)
        q = lnorm(q, p + '.norm1')
        q = lnorm(q + dattn(q + pt, k + img_pe, k, p + '.cross_attn_token_to_image', h), p + '.norm2')
        q = lnorm(q + lin(F.relu(lin(q, p + '.mlp.lin1')), p + '.mlp.lin2'), p + '.norm3')
        k = lnorm(k + dattn(k + img_pe, q + pt, q, p + '.cross_attn_image_to_token', h), p + '.norm4')
    q = lnorm(q + dattn(q + pt, k + img_pe, k, f'{t}.final_attn_token_to_image', h), f'{t}.norm_final_attn')
    return q, k

def mlp(x, p, n):
    for j in range(n):
        x = lin(x, f'{p}.layers.{j}'); x = F.relu(x) if j < n - 1 else x
    return x

def decoder(emb, sparse, dense, multimask):
    m = 'mask_decoder'; nmt = 4
    out_tok = torch.cat([W_(m + '.iou_token.weight'), W_(m + '.mask_tokens.weight')], dim=0).unsqueeze(0).expand(sparse.shape[0], -1, -1)
    tokens = torch.cat((out_tok, sparse), dim=1)
    src = torch.repeat_interleave(emb, tokens.shape[0], dim=0) + dense
    pos = torch.repeat_interleave(dense_pe(), tokens.shape[0], dim=0)
    b, c, h, w = src.shape
    hs, src = transformer(src, pos, tokens)
    src = src.transpose(1, 2).view(b, c, h, w)
    u = m + '.output_upscaling'
    up = F.gelu(ln2d(F.conv_transpose2d(src, W_(u + '.0.weight'), W_(u + '.0.bias'), stride=2), u + '.1'))
    up = F.gelu(F.conv_transpose2d(up, W_(u + '.3.weight'), W_(u + '.3.bias'), stride=2))
    hyper = torch.stack([mlp(hs[:, 1 + i, :], f'{m}.output_hypernetworks_mlps.{i}', 3) for i in range(nmt)], dim=1)
    b, c, h, w = up.shape
    masks = (hyper @ up.view(b, c, h * w)).view(b, -1, h, w)
    iou = mlp(hs[:, 0, :], m + '.iou_prediction_head', 3)
    s = slice(1, None) if multimask else slice(0, 1)
    return masks[:, s], iou[:, s]

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
