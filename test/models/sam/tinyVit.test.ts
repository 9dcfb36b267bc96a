// TinyViT structure and behaviour without the 1024² forward: state_dict names/order/shapes against the MobileSAM
// fixture's key list, parameter counts of both presets (sam.md §1), the attention-bias index rule, configs, input
// checks, and that the attention bias follows the loaded weights (the reference's stale-cache trap). A small
// config (64² input) exercises the padded-window paths quickly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Tensor, inferenceMode, manualSeed, memory, noGrad, randn, tidy } from '../../../src/engine/index.ts';
import {
  TinyViT, TinyViTAttention, MOBILE_SAM_TINYVIT, LITE_MEDSAM_TINYVIT, attentionBiasIndex, tinyVitConfig, type TinyViTConfig,
} from '../../../src/models/sam/tinyVit.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const MANIFEST = join(REPO, '..', 'shared', 'fixtures', 'mobile-sam', 'manifest.json');

/** A small TinyViT: 64² input → stem 16² → 8² → 4² → 4²; every window stage pads (8 → 14 for ws 7, 4 → 14, ...). */
const SMALL: Partial<TinyViTConfig> = {
  imgSize: 64, embedDims: [8, 16, 24, 32], depths: [1, 2, 2, 1], numHeads: [1, 2, 3, 4], outChans: 16, numClasses: 10,
};

const maxAbsDiff = (a: Tensor, b: Tensor): number => tidy(() => a.sub(b).abs().max().item());

test('MobileSAM preset: state_dict keys, order and shapes equal the official checkpoint (image_encoder.*)', () => {
  const keys = (JSON.parse(readFileSync(MANIFEST, 'utf8')) as { keys: Record<string, number[]> }).keys;
  const official = Object.entries(keys).filter(([k]) => k.startsWith('image_encoder.')).map(([k, s]) => [k.slice('image_encoder.'.length), s]);
  const m = new TinyViT(MOBILE_SAM_TINYVIT);
  const ours = [...m.stateDict()].map(([k, t]) => [k, t.shape]);
  assert.equal(ours.length, 302);
  assert.deepEqual(ours, official);
  // attention_bias_idxs is a non-persistent buffer: present on the module, absent from the state_dict
  assert.ok(m.namedBuffers().some(([k]) => k === 'layers.1.blocks.0.attn.attention_bias_idxs'));
  assert.equal(m.numParameters(), 6065532);
  assert.equal(m.numParameters() - m.normHead!.numParameters() - m.head!.numParameters(), 5743892);
  assert.equal(m.embeddingSize, 64);
  m.dispose();
});

test('LiteMedSAM preset: 1×1 stride-1 stem, no classifier, 5,726,740 parameters, 256² → 64×64', () => {
  const m = new TinyViT(LITE_MEDSAM_TINYVIT);
  const sd = m.stateDict();
  assert.equal(sd.size, 298);
  assert.deepEqual(sd.get('patch_embed.seq.0.c.weight')!.shape, [32, 3, 1, 1]);
  assert.deepEqual(sd.get('patch_embed.seq.2.c.weight')!.shape, [64, 32, 1, 1]);
  assert.ok(![...sd.keys()].some((k) => k.startsWith('head.') || k.startsWith('norm_head.')));
  assert.equal(m.numParameters(), 5726740);
  assert.equal(m.embeddingSize, 64);
  m.dispose();
});

test('attention-bias index: first-seen numbering of (|Δrow|, |Δcol|) equals |Δrow|·ws + |Δcol|', () => {
  for (const ws of [1, 2, 7, 14]) {
    const { idxs, numOffsets } = attentionBiasIndex(ws);
    assert.equal(numOffsets, ws * ws);
    const n = ws * ws;
    for (let p = 0; p < n; p++) {
      for (let q = 0; q < n; q++) {
        const want = Math.abs(Math.floor(p / ws) - Math.floor(q / ws)) * ws + Math.abs((p % ws) - (q % ws));
        if (Number(idxs[p * n + q]) !== want) assert.fail(`ws ${ws}: idx[${p},${q}] = ${idxs[p * n + q]}, want ${want}`);
      }
    }
  }
});

test('configs: presets are frozen; validation names the field', () => {
  for (const c of [MOBILE_SAM_TINYVIT, LITE_MEDSAM_TINYVIT]) {
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.embedDims) && Object.isFrozen(c.mergeStrides));
  }
  assert.deepEqual(tinyVitConfig({}), MOBILE_SAM_TINYVIT);
  assert.throws(() => tinyVitConfig({ embedDim: 3 } as Partial<TinyViTConfig>), /unknown TinyViT config key "embedDim"/);
  assert.throws(() => tinyVitConfig({ embedDims: [64, 128, 160] }), /Expected a list of 4 integers >= 1 for embedDims but received \[64, 128, 160\]/);
  assert.throws(() => tinyVitConfig({ numHeads: [2, 3, 5, 10] }), /embedDims\[1\] = 128 is not divisible by numHeads\[1\] = 3/);
  assert.throws(() => tinyVitConfig({ mergeStrides: [2, 2, 3] }), /Expected a list of 3 strides \(1 or 2\) for mergeStrides/);
  assert.throws(() => tinyVitConfig({ stemKernel: 2 as 1 }), /Expected 1 or 3 for stemKernel but received 2/);
  assert.throws(() => tinyVitConfig({ localConvSize: 4 }), /Expected an odd integer for localConvSize/);
});

test('forward: shape, input check, batch independence, no leaked tensors', () => {
  manualSeed(1);
  const m = new TinyViT(SMALL).eval();
  const x = randn([2, 3, 64, 64]);
  const live = memory().liveTensors;
  const y = inferenceMode(() => m.forward(x));
  assert.deepEqual(y.shape, [2, 16, 4, 4]);
  assert.equal(memory().liveTensors, live + 1, 'only the output remains');
  const y1 = inferenceMode(() => tidy(() => m.forward(x.slice(0, 1, 2))));
  assert.ok(maxAbsDiff(y.slice(0, 1, 2), y1) < 1e-5, 'sample 1 of a batch equals the sample alone');
  assert.throws(() => m.forward(randn([1, 3, 32, 32])), /TinyViT: expected input \[B, 3, 64, 64\] but received \[1, 3, 32, 32\]/);
  assert.throws(() => m.forward(randn([3, 64, 64])), /expected input \[B, 3, 64, 64\]/);
  for (const t of [x, y, y1]) t.dispose();
  m.dispose();
});

test('the attention bias follows the weights: loading after eval() + forward is never stale', () => {
  manualSeed(2);
  const a = new TinyViT(SMALL).eval();
  const b = new TinyViT(SMALL).eval();
  noGrad(() => {
    for (const [k, p] of b.namedParameters()) if (k.endsWith('attention_biases')) p.normal_(0, 1);
  });
  const x = randn([1, 3, 64, 64]);
  const before = inferenceMode(() => a.forward(x)); // the reference would cache `ab` (zeros) by now
  a.loadStateDict(b.stateDict());
  const after = inferenceMode(() => a.forward(x));
  const want = inferenceMode(() => b.forward(x));
  assert.ok(maxAbsDiff(before, want) > 1e-2, 'the biases matter');
  assert.equal(maxAbsDiff(after, want), 0);
  // and in place: an optimizer-style update is seen by the next forward
  const attn = a.modules().find((m): m is TinyViTAttention => m instanceof TinyViTAttention)!;
  const bias0 = attn.attentionBias();
  noGrad(() => attn.attentionBiases.add_(1));
  const bias1 = attn.attentionBias();
  assert.ok(Math.abs(maxAbsDiff(bias1, bias0) - 1) < 1e-6);
  assert.deepEqual(bias1.shape, [attn.numHeads, 49, 49]);
  for (const t of [x, before, after, want, bias0, bias1]) t.dispose();
  a.dispose();
  b.dispose();
});

test('train mode: gradients reach every parameter used by forward (attention biases included); float64 works', () => {
  manualSeed(3);
  const m = new TinyViT(SMALL);
  noGrad(() => {
    for (const [k, p] of m.namedParameters()) if (k.endsWith('bn.weight')) p.fill_(1); // MBConv conv3 starts at 0
  });
  const x = randn([2, 3, 64, 64]);
  tidy(() => m.forward(x).pow(2).mean().backward());
  const unused = new Set(['norm_head.weight', 'norm_head.bias', 'head.weight', 'head.bias']);
  for (const [k, p] of m.namedParameters()) {
    const g = p.grad;
    if (unused.has(k)) assert.equal(g, null, k);
    else assert.ok(g && tidy(() => g.abs().sum().item()) > 0, `no gradient for ${k}`);
    g?.dispose();
  }
  m.zeroGrad();
  m.eval().to('float64');
  const y = inferenceMode(() => tidy(() => m.forward(x.double())));
  assert.equal(y.dtype, 'float64');
  for (const t of [x, y]) t.dispose();
  m.dispose();
});
