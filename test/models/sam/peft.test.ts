// Parameter-efficient tuning: MSA / SC-SAM adapters and Sam_LoRA-style LoRA on a small ViT encoder (4x4 tokens,
// 3x3 windows so window padding happens), freezing by pattern, and saving / loading only the trained parameters.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Tensor, dispose, manualSeed, noGrad, randn, tidy } from '../../../src/engine/index.ts';
import { loadStateDict } from '../../../src/engine/serialization/index.ts';
import {
  ImageEncoderViT, LoRAQkv, addAdapters, addLoRA, loadSamLoRA, loadTrainable, mergeLoRA, saveSamLoRA, saveTrainable,
  trainableStateDict,
} from '../../../src/models/sam/index.ts';

const D = 32;
const encoder = (): ImageEncoderViT => {
  manualSeed(1);
  const e = new ImageEncoderViT({ imgSize: 64, patchSize: 16, embedDim: D, depth: 2, numHeads: 2, outChans: 16, windowSize: 3, globalAttnIndexes: [1], useRelPos: true });
  // Non-zero position tables and LayerNorm biases (padded tokens only differ from zero through norm1's bias).
  noGrad(() => e.namedParameters().filter(([n]) => n.includes('rel_pos') || n === 'pos_embed' || n.endsWith('norm1.bias'))
    .forEach(([, p]) => p.copy_(tidy(() => randn(p.shape).mul(0.1)))));
  return e.eval();
};
const maxDiff = (a: Tensor, b: Tensor): number => tidy(() => a.sub(b).abs().max().item());

describe('PEFT', () => {
  let dir: string;
  let x: Tensor;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'peft-'));
    manualSeed(2);
    x = randn([2, 3, 64, 64]);
  });
  after(() => {
    x.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test('adapters: published names and sizes; zero output layers leave the encoder unchanged (SAM order)', () => {
    const base = encoder(), adapted = encoder();
    try {
      const names = addAdapters(adapted, { partitionBeforeNorm: false });
      assert.equal(names.length, 2 * 3 * 4);
      assert.ok(names.includes('blocks.1.Space_Adapter.D_fc1.weight') && names.includes('blocks.0.Depth_Adapter.D_fc2.bias'));
      assert.deepEqual(adapted.getParameter('blocks.0.MLP_Adapter.D_fc1.weight').shape, [8, D]);
      assert.equal(adapted.numParameters() - base.numParameters(), 2 * 3 * (D * 8 + 8 + 8 * D + D));
      const ref = tidy(() => base.forward(x));
      const before = tidy(() => adapted.forward(x));
      assert.ok(maxDiff(before, ref) > 1e-4, 'random adapters change the output');
      noGrad(() => adapted.namedParameters().filter(([n]) => n.includes('D_fc2')).forEach(([, p]) => p.zero_()));
      const zeroed = tidy(() => adapted.forward(x));
      assert.ok(maxDiff(zeroed, ref) < 1e-5, `zero adapters: max diff ${maxDiff(zeroed, ref)}`);
      dispose([ref, before, zeroed]);
    } finally {
      base.dispose();
      adapted.dispose();
    }
  });

  test("adapters: MSA's partition-before-norm quirk changes padded windows only (switchable)", () => {
    const base = encoder(), msa = encoder();
    try {
      addAdapters(msa); // published order
      noGrad(() => msa.namedParameters().filter(([n]) => n.includes('D_fc2')).forEach(([, p]) => p.zero_()));
      const a = tidy(() => base.forward(x)), b = tidy(() => msa.forward(x));
      // 4x4 tokens in 3x3 windows: padded tokens become the LayerNorm bias and enter the attention.
      assert.ok(maxDiff(a, b) > 1e-4, 'the quirk must be visible with padded windows');
      dispose([a, b]);
    } finally {
      base.dispose();
      msa.dispose();
    }
  });

  test('adapters: freezing all but the adapters sends gradients to the adapters only', () => {
    const e = encoder().train();
    try {
      addAdapters(e);
      e.freeze(/.*/);
      e.unfreeze(/_Adapter\./);
      tidy(() => e.forward(x).square().mean().backward());
      for (const [n, p] of e.namedParameters()) {
        if (n.includes('Depth_Adapter')) assert.equal(p.grad, null, `${n} is unused in 2D`);
        else if (n.includes('_Adapter.')) assert.ok(p.grad && tidy(() => p.grad!.abs().sum().item()) > 0, `${n} has a gradient`);
        else assert.equal(p.grad, null, `${n} is frozen`);
      }
      e.zeroGrad();
    } finally {
      e.dispose();
    }
  });

  test('LoRA: starts as the identity, merges exactly, keeps official keys, round-trips in Sam_LoRA format', () => {
    const e = encoder();
    const ref = tidy(() => e.forward(x));
    try {
      const names = addLoRA(e, { rank: 4 });
      assert.equal(names.length, 2 * 4);
      assert.ok(e.blocks.at(0).attn.qkv instanceof LoRAQkv);
      assert.ok(e.stateDict().has('blocks.0.attn.qkv.weight') && e.stateDict().has('blocks.1.attn.qkv.linear_b_v.weight'));
      const start = tidy(() => e.forward(x));
      assert.equal(maxDiff(start, ref), 0, 'B = 0: LoRA starts as the identity');
      noGrad(() => e.namedParameters().filter(([n]) => n.includes('linear_b_')).forEach(([, p]) => p.copy_(tidy(() => randn(p.shape).mul(0.05)))));
      const tuned = tidy(() => e.forward(x));
      assert.ok(maxDiff(tuned, ref) > 1e-4);
      // Only the LoRA factors train; they save alone (8 tensors) and load onto a fresh LoRA model.
      e.freeze(/.*/);
      e.unfreeze(/linear_[ab]_[qv]/);
      assert.deepEqual([...trainableStateDict(e).keys()].sort(), [...names].sort());
      const file = join(dir, 'lora.safetensors');
      assert.deepEqual(saveTrainable(e, file).sort(), [...names].sort());
      const e2 = encoder();
      addLoRA(e2, { rank: 4 });
      assert.deepEqual(loadTrainable(e2, file).sort(), [...names].sort());
      const again = tidy(() => e2.forward(x));
      assert.equal(maxDiff(again, tuned), 0);
      // Sam_LoRA's own file: w_a_000..003 (q, v per block) of [r, D], w_b_### of [D, r].
      const samLora = join(dir, 'sam_lora.safetensors');
      saveSamLoRA(e, samLora);
      const sd = loadStateDict(samLora);
      assert.deepEqual([...sd.keys()], ['w_a_000', 'w_a_001', 'w_a_002', 'w_a_003', 'w_b_000', 'w_b_001', 'w_b_002', 'w_b_003']);
      assert.deepEqual([sd.get('w_a_001')!.shape, sd.get('w_b_003')!.shape], [[4, D], [D, 4]]);
      assert.equal(maxDiff(sd.get('w_b_001')!, e.getParameter('blocks.0.attn.qkv.linear_b_v.weight')), 0);
      dispose([...sd.values()]);
      const e3 = encoder();
      addLoRA(e3, { rank: 4 });
      loadSamLoRA(e3, samLora);
      const third = tidy(() => e3.forward(x));
      assert.equal(maxDiff(third, tuned), 0);
      // Merging folds B A into qkv.weight: the same function as a plain encoder with official keys.
      assert.equal(mergeLoRA(e), 2);
      assert.ok(!(e.blocks.at(0).attn.qkv instanceof LoRAQkv));
      assert.ok(![...e.stateDict().keys()].some((k) => k.includes('linear_')));
      const merged = tidy(() => e.forward(x));
      assert.ok(maxDiff(merged, tuned) < 1e-5, `merged: max diff ${maxDiff(merged, tuned)}`);
      assert.throws(() => loadSamLoRA(e, samLora), /no LoRA layers/);
      dispose([start, tuned, again, third, merged]);
      e2.dispose();
      e3.dispose();
    } finally {
      ref.dispose();
      e.dispose();
    }
  });

  test('LoRA: errors are clear', () => {
    const e = encoder();
    try {
      addLoRA(e, { blocks: [0] });
      assert.throws(() => addLoRA(e, { blocks: [0] }), /block 0 already has LoRA/);
      assert.throws(() => addLoRA(e, { blocks: [5] }), /no block 5 \(the encoder has 2\)/);
      assert.throws(() => addLoRA(e, { rank: 0, blocks: [1] }), /positive integer for the LoRA rank/);
      assert.throws(() => loadTrainable(e, join(dir, 'missing.pth')));
    } finally {
      e.dispose();
    }
  });
});
