// Unit tests of the SAM parts without the fixture: relative-position tables against PyTorch (including the
// interpolation and q ≠ k paths the fixture does not reach), window partition round trips, prompt-encoder
// semantics, registry validation, Sam.forward's wiring on a tiny random model (batched images of different
// sizes) and tensor-handle hygiene.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { F, dispose, inferenceMode, keep, manualSeed, memory, rand, randn, tensor, tidy } from '../../../src/engine/index.ts';
import {
  Attention, type Sam, SAM_MODEL_CONFIGS, buildSam, getRelPos, relPosIndex, samConfig, samVitConfig, windowPartition, windowUnpartition,
} from '../../../src/models/sam/index.ts';
import { runTorch, skipWithoutTorch } from '../../nn/torch_ref.ts';
import { maxAbsDiff } from './helpers.ts';

const TINY = samVitConfig({
  name: 'tiny', imgSize: 128, embedDim: 32, depth: 2, numHeads: 2, globalAttnIndexes: [1], windowSize: 3,
  promptEmbedDim: 32, decoderMlpDim: 64, iouHeadHiddenDim: 32, decoderNumHeads: 4,
});

describe('relative positions', () => {
  const cases: [number, number, number][] = [[14, 14, 27], [14, 14, 127], [8, 14, 27], [14, 8, 27], [5, 9, 11], [64, 64, 127], [7, 7, 20]];

  test('get_rel_pos equals PyTorch (direct, interpolated, q != k)', (t) => {
    if (skipWithoutTorch(t)) return;
    manualSeed(3);
    const tables = new Map(cases.map(([q, k, L]) => [`${q}_${k}_${L}`, randn([L, 6])]));
    const { tensors } = runTorch(`
for name, table in IN.items():
    q, k, L = map(int, name.split('_'))
    m = int(2 * max(q, k) - 1)
    r = table
    if table.shape[0] != m:
        r = F.interpolate(table.reshape(1, table.shape[0], -1).permute(0, 2, 1), size=m, mode="linear").reshape(-1, m).permute(1, 0)
    qc = torch.arange(q)[:, None] * max(k / q, 1.0)
    kc = torch.arange(k)[None, :] * max(q / k, 1.0)
    rc = (qc - kc) + (k - 1) * max(q / k, 1.0)
    OUT[name] = r[rc.long()]
    OUT[name + '/idx'] = rc.long()
`, { tensors: tables });
    for (const [name, table] of tables) {
      const [q, k] = name.split('_').map(Number) as [number, number];
      const ours = getRelPos(q, k, table);
      assert.equal(maxAbsDiff(ours, tensors.get(name)!), 0, `get_rel_pos ${name}`);
      assert.deepEqual(Array.from(relPosIndex(q, k)), tensors.get(`${name}/idx`)!.toArray(), `indices ${name}`);
      ours.dispose();
    }
    dispose([...tables.values(), ...tensors.values()]);
  });
});

test('window partition pads bottom/right with zeros and round-trips', () => {
  tidy(() => {
    const x = randn([2, 10, 11, 3]);
    const { windows, padHw } = windowPartition(x, 4);
    assert.deepEqual(padHw, [12, 12]);
    assert.deepEqual(windows.shape, [2 * 9, 4, 4, 3]);
    // Window (0, 2) of image 0 holds columns 8..11: the last one is padding.
    assert.equal(windows.select(0, 2).select(1, 3).abs().sum().item(), 0);
    assert.equal(maxAbsDiff(windowUnpartition(windows, 4, padHw, [10, 11]), x), 0);
  });
});

test('decoder attention: many queries over few keys (computed transposed) equals softmax(q kᵀ / √d) v per head', () => {
  manualSeed(21);
  const attn = new Attention(32, 4, 2);
  inferenceMode(() => tidy(() => {
    const explicit = (q: ReturnType<typeof randn>, k: ReturnType<typeof randn>, v: ReturnType<typeof randn>) => {
      const heads = (t: ReturnType<typeof randn>) => t.reshape(t.shape[0]!, t.shape[1]!, 4, 4).transpose(1, 2);
      const o = F.attention(heads(attn.qProj.forward(q)), heads(attn.kProj.forward(k)), heads(attn.vProj.forward(v)), { scale: 1 / 2 });
      return attn.outProj.forward(o.transpose(1, 2).reshape(q.shape[0]!, q.shape[1]!, 16));
    };
    for (const [nq, nk] of [[50, 3], [3, 50], [9, 9]] as const) {
      const q = randn([2, nq, 32]), k = randn([2, nk, 32]), v = randn([2, nk, 32]);
      const got = attn.forward(q, k, v), want = explicit(q, k, v);
      assert.deepEqual(got.shape, [2, nq, 32]);
      assert.ok(maxAbsDiff(got, want) < 1e-5, `${nq} queries, ${nk} keys: max |diff| ${maxAbsDiff(got, want)}`);
    }
  }));
  attn.dispose();
});

describe('prompt encoder', () => {
  let sam: Sam;
  before(() => { manualSeed(0); sam = buildSam(TINY); });
  after(() => sam.dispose());

  test('token layout: points (+ padding point without a box), then box corners; dense no-mask embedding', () => {
    inferenceMode(() => tidy(() => {
      const pe = sam.promptEncoder;
      const coords = tensor([10, 20, 30, 40], [1, 2, 2]);
      const labels = tensor(Int32Array.from([1, 0]), [1, 2]);
      const box = tensor([5, 6, 50, 60], [1, 4]);
      assert.deepEqual(pe.forward({ coords, labels }, null, null).sparseEmbeddings.shape, [1, 3, 32]);
      assert.deepEqual(pe.forward({ coords, labels }, box, null).sparseEmbeddings.shape, [1, 4, 32]);
      assert.deepEqual(pe.forward(null, box, null).sparseEmbeddings.shape, [1, 2, 32]);
      const none = pe.forward(null, null, null);
      assert.deepEqual(none.sparseEmbeddings.shape, [1, 0, 32]);
      assert.deepEqual(none.denseEmbeddings.shape, [1, 32, 8, 8]);
      assert.equal(maxAbsDiff(none.denseEmbeddings.select(0, 0).select(1, 3).select(1, 5), pe.noMaskEmbed.weight.squeeze(0)), 0);
      // The padding point is exactly not_a_point_embed; label 1 adds point_embeddings.1 to the encoding.
      const s = pe.forward({ coords, labels }, null, null).sparseEmbeddings;
      assert.equal(maxAbsDiff(s.select(1, 2), pe.notAPointEmbed.weight), 0);
      const enc = pe.peLayer.forwardWithCoords(coords.add(0.5), pe.inputImageSize);
      assert.equal(maxAbsDiff(s.select(1, 0), enc.select(1, 0).add(pe.pointEmbeddings.at(1).weight)), 0);
      // Box corners: top-left + point_embeddings.2, bottom-right + point_embeddings.3.
      const b = pe.forward(null, box, null).sparseEmbeddings;
      const corners = pe.peLayer.forwardWithCoords(box.add(0.5).reshape(1, 2, 2), pe.inputImageSize);
      assert.equal(maxAbsDiff(b.select(1, 1), corners.select(1, 1).add(pe.pointEmbeddings.at(3).weight)), 0);
      return null;
    }));
  });

  test('dense positional encoding: (x, y) of cell centres, sin then cos, 2π', () => {
    inferenceMode(() => tidy(() => {
      const pe = sam.promptEncoder.getDensePe();
      assert.deepEqual(pe.shape, [1, 32, 8, 8]);
      const G = sam.promptEncoder.peLayer.positionalEncodingGaussianMatrix.toArray();
      const i = 2, j = 5, x = 2 * ((j + 0.5) / 8) - 1, y = 2 * ((i + 0.5) / 8) - 1;
      const p = Array.from({ length: 16 }, (_, f) => 2 * Math.PI * (x * G[f]! + y * G[16 + f]!));
      const want = [...p.map(Math.sin), ...p.map(Math.cos)];
      const got = pe.select(0, 0).select(1, i).select(1, j).toArray();
      got.forEach((v, c) => assert.ok(Math.abs(v - want[c]!) < 1e-5, `channel ${c}: ${v} vs ${want[c]}`));
      return null;
    }));
  });

  test('bad prompt and image shapes are rejected naming the argument', () => {
    assert.throws(() => sam.promptEncoder.forward(null, tensor([1, 2, 3], [1, 3]), null), /Expected a Bx4 tensor for boxes but received shape \[1, 3\]/);
    assert.throws(() => sam.promptEncoder.forward(null, null, rand([1, 1, 16, 16])), /Expected a Bx1x32x32 tensor for masks/);
    assert.throws(() => sam.decode(rand([1, 32, 8, 8]), { pointCoords: rand([1, 1, 2]) }, false), /pointCoords and pointLabels must be given together/);
    assert.throws(() => sam.encodeImage(rand([1, 3, 64, 64])), /Expected a Bx3x128x128 tensor for x but received shape \[1, 3, 64, 64\]/);
  });
});

describe('Sam wiring on a tiny random model', () => {
  let sam: Sam;
  before(() => { manualSeed(1); sam = buildSam(TINY); });
  after(() => sam.dispose());

  test('forward = preprocess, batched encode, decode and postprocess per image; handles are freed', () => {
    const images = [rand([3, 96, 128]).mul(255), rand([3, 128, 70]).mul(255)].map((t) => keep(t));
    const prompts = [
      { pointCoords: tensor([10, 20, 60, 30], [2, 1, 2]), pointLabels: tensor(Int32Array.from([1, 1]), [2, 1]) },
      { boxes: tensor([4, 8, 50, 100], [1, 4]) },
    ].map((p) => { Object.values(p).forEach((t) => keep(t)); return p; });
    const sizes: [number, number][] = [[192, 256], [256, 140]];
    const live = memory().liveTensors;
    const out = sam.forward(images.map((image, i) => ({ image, originalSize: sizes[i]!, ...prompts[i] })), true);
    assert.deepEqual(out.map((o) => o.masks.shape), [[2, 3, 192, 256], [1, 3, 256, 140]]);
    assert.deepEqual(out.map((o) => o.lowResLogits.shape), [[2, 3, 32, 32], [1, 3, 32, 32]]);
    assert.equal(out[0]!.masks.dtype, 'bool');
    inferenceMode(() => tidy(() => {
      images.forEach((image, i) => {
        const emb = sam.encodeImage(sam.preprocess(image.unsqueeze(0)));
        const d = sam.decode(emb, prompts[i]!, true);
        assert.ok(maxAbsDiff(d.lowResLogits, out[i]!.lowResLogits) < 1e-5, 'batched encode = single encode');
        assert.ok(maxAbsDiff(d.iouPredictions, out[i]!.iouPredictions) < 1e-5);
        const logits = sam.postprocessMasks(d.lowResLogits, [image.shape[1]!, image.shape[2]!], sizes[i]!);
        const agree = logits.gt(0).eq(out[i]!.masks).logicalOr(logits.abs().lt(1e-4)).all().item();
        assert.ok(agree, 'masks = postprocessed logits > 0');
      });
      return null;
    }));
    dispose(out);
    assert.equal(memory().liveTensors, live, 'forward leaves no tensor handles behind');
    dispose([...images, ...prompts.flatMap((p) => Object.values(p))]);
  });

  test('decode without multimask returns token 0; handles are freed', () => {
    inferenceMode(() => {
      const emb = keep(rand([1, 32, 8, 8]));
      const boxes = keep(tensor([1, 2, 30, 40], [1, 4]));
      const live = memory().liveTensors;
      const d = sam.decode(emb, { boxes }, false);
      assert.deepEqual(d.lowResLogits.shape, [1, 1, 32, 32]);
      assert.deepEqual(d.iouPredictions.shape, [1, 1]);
      dispose(d);
      assert.equal(memory().liveTensors, live);
      dispose([emb, boxes]);
    });
  });

  test('gradients reach the encoder (rel-pos tables of windowed and global blocks), prompt encoder and decoder', () => {
    sam.train();
    try {
      const loss = tidy(() => {
        const x = sam.preprocess(rand([1, 3, 128, 100]).mul(255));
        const emb = sam.encodeImage(x);
        const d = sam.decode(emb, { pointCoords: tensor([30, 40], [1, 1, 2]), pointLabels: tensor(Int32Array.from([1]), [1, 1]) }, true);
        return d.lowResLogits.square().mean().add(d.iouPredictions.sum());
      });
      loss.backward();
      loss.dispose();
      const names = ['image_encoder.pos_embed', 'image_encoder.patch_embed.proj.weight', 'image_encoder.blocks.0.attn.rel_pos_h',
        'image_encoder.blocks.1.attn.rel_pos_w', 'image_encoder.neck.3.weight', 'prompt_encoder.point_embeddings.1.weight',
        'prompt_encoder.no_mask_embed.weight', 'mask_decoder.transformer.layers.0.cross_attn_image_to_token.v_proj.weight',
        'mask_decoder.output_hypernetworks_mlps.2.layers.2.bias', 'mask_decoder.iou_prediction_head.layers.0.weight'];
      for (const n of names) {
        const g = sam.getParameter(n).grad;
        assert.ok(g, `${n} has no gradient`);
        const s = g.abs().sum();
        assert.ok(Number.isFinite(s.item()) && s.item() > 0, `${n}: gradient ${s.item()}`);
        dispose([g, s]);
      }
    } finally {
      sam.zeroGrad();
      sam.eval();
    }
  });

  test('preprocess normalises with the pixel statistics and pads right/bottom with zeros', () => {
    tidy(() => {
      const x = sam.preprocess(tensor(Uint8Array.from([0, 255, 100, 7, 1, 2, 3, 4, 5, 6, 7, 8]), [3, 2, 2]));
      assert.deepEqual(x.shape, [3, 128, 128]);
      assert.ok(Math.abs(x.select(0, 0).select(0, 0).select(0, 1).item() - (255 - 123.675) / 58.395) < 1e-6);
      assert.equal(x.slice(1, 2).abs().sum().item() + x.slice(2, 2).abs().sum().item(), 0);
      assert.throws(() => sam.preprocess(rand([3, 130, 10])), /Expected a 3xHxW or Bx3xHxW image with H, W <= 128/);
      return null;
    });
  });
});

describe('registry', () => {
  test('entries are frozen configs; the small fixture size is data, not code', () => {
    assert.ok(Object.isFrozen(SAM_MODEL_CONFIGS) && Object.isFrozen(SAM_MODEL_CONFIGS.vit_b));
    const enc = SAM_MODEL_CONFIGS.vit_h!.imageEncoder;
    assert.ok(enc.type === 'vit' && Object.isFrozen(enc.globalAttnIndexes));
    assert.deepEqual(enc.type === 'vit' && [enc.embedDim, enc.depth, enc.numHeads, enc.globalAttnIndexes], [1280, 32, 16, [7, 15, 23, 31]]);
    assert.equal(SAM_MODEL_CONFIGS.lite_medsam!.preprocessing, 'lite_medsam');
  });

  test('invalid configs fail naming the field', () => {
    assert.throws(() => samVitConfig({ embedDim: 100, depth: 2, numHeads: 3, globalAttnIndexes: [] }), /imageEncoder\.embedDim 100 is not divisible by numHeads 3/);
    assert.throws(() => samVitConfig({ embedDim: 96, depth: 2, numHeads: 3, globalAttnIndexes: [2] }),
      /Expected a list of block indexes between 0 and 1 for imageEncoder\.globalAttnIndexes but received \[2\] of type object/);
    const bad = { ...TINY, promptEncoder: { ...TINY.promptEncoder, embedDim: 16 } };
    assert.throws(() => samConfig(bad), /encoder output channels \(32\), prompt embedDim \(16\) and decoder transformerDim \(32\) must be equal/);
    assert.throws(() => buildSam('vit_z'), /^TypeError: Expected one of vit_h, vit_l, vit_b, medsam, mobile_sam, lite_medsam, default, vit_t, medsam_vit_b/);
  });
});


