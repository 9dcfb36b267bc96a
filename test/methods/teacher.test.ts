// The teacher method: a tiny ViT SAM trained a few steps through `samtutor teacher train` on a synthetic 2D set;
// the run directory follows the supervised conventions, the loss falls, --resume continues exactly, and best.pth
// loads as a SAM checkpoint in `sam predict`. Also: adapting a 1024² checkpoint to 256² for --init, and the
// option errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { dispose, memory, tidy } from '../../src/engine/index.ts';
import { loadStateDict } from '../../src/engine/serialization/index.ts';
import { buildSam, loadSamCheckpoint, loadSamStateDict } from '../../src/models/sam/index.ts';
import { disposeCheckpoint, readCheckpoint } from '../../src/methods/index.ts';
import { resizeSamStateDict, teacherOptions, teacherSamConfig } from '../../src/methods/teacher.ts';
import { runSamPredict } from '../../src/cli/sam.ts';
import { REPO, makeDataset2d, samtutor, tempDir, useOneThread } from './helpers.ts';

useOneThread();

const TINY = { embedDim: 32, depth: 2, numHeads: 2, globalAttnIndexes: [1], windowSize: 2, promptEmbedDim: 32, decoderMlpDim: 64, iouHeadHiddenDim: 32, decoderNumHeads: 2 };

test('teacher train: run directory, falling loss, exact resume, and best.pth works in sam predict', async (t) => {
  const { dir, cleanup } = tempDir('samtutor-teacher-');
  t.after(cleanup);
  await makeDataset2d(join(dir, 'data'), 10, 64, 64);
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ batch: 2, valFraction: 0.2, testFraction: 0, methodOptions: { vit: TINY }, lr: 2e-3 }));
  const common = ['teacher', 'train', '--arch', 'custom', '--data', join(dir, 'data'), '--size', '64', '--config', config];
  const straight = samtutor([...common, '--epochs', '4', '--out', join(dir, 'straight')]);
  assert.equal(straight.status, 0, straight.stderr);
  assert.match(straight.stdout, /^samtutor train: teacher, 8 training \/ 2 validation cases, 2D 64px, batch 2, 4 iterations\/epoch/);
  for (const f of ['config.json', 'split.json', 'last.pth', 'best.pth', 'metrics.jsonl', 'curves.png']) assert.ok(existsSync(join(dir, 'straight', f)), f);
  const lines = readFileSync(join(dir, 'straight', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  for (const k of ['trainLoss', 'trainDiceLoss', 'trainCeLoss', 'trainIouLoss', 'valDice']) assert.equal(typeof lines[0]![k], 'number', k);
  assert.ok(lines[3]!.trainLoss < lines[0]!.trainLoss, `loss ${lines[0]!.trainLoss} → ${lines[3]!.trainLoss}`);
  const saved = JSON.parse(readFileSync(join(dir, 'straight', 'config.json'), 'utf8')) as { weightDecay: number; methodOptions: { arch: string; init: null } };
  assert.equal(saved.weightDecay, 0.01);
  assert.deepEqual([saved.methodOptions.arch, saved.methodOptions.init], ['custom', null]);

  // Stopped by a tiny time budget after one epoch, then --resume to four: bit-identical to the straight run.
  const part = samtutor([...common, '--epochs', '4', '--time-budget', '0.00001', '--out', join(dir, 'resumed')]);
  assert.equal(part.status, 0, part.stderr);
  const rest = samtutor(['teacher', 'train', '--arch', 'custom', '--data', join(dir, 'data'), '--out', join(dir, 'resumed'), '--resume', '--epochs', '4']);
  assert.equal(rest.status, 0, rest.stderr);
  const a = readCheckpoint(join(dir, 'straight', 'last.pth')), b = readCheckpoint(join(dir, 'resumed', 'last.pth'));
  assert.deepEqual(Object.keys(a.models), ['sam']);
  for (const [k, w] of a.models.sam!) assert.equal(tidy(() => w.sub(b.models.sam!.get(k)!).abs().max().item()), 0, `weight ${k} differs after resume`);
  disposeCheckpoint(a);
  disposeCheckpoint(b);

  // best.pth is a SAM checkpoint: the architecture is detected from the shapes; sam predict takes a box.
  const { model, config: detected } = loadSamCheckpoint(join(dir, 'straight', 'best.pth'));
  assert.equal(detected.imageEncoder.type === 'vit' && detected.imageEncoder.imgSize, 64);
  model.dispose();
  const live = memory().liveTensors;
  const image = join(dir, 'data', 'images', 'case00.png');
  const res = await runSamPredict({ checkpoint: join(dir, 'straight', 'best.pth'), image, box: '5,5,40,40', out: join(dir, 'pred') });
  assert.equal(res.iouPredictions.length, 1);
  assert.equal(memory().liveTensors, live);

  const bad = samtutor(['teacher', 'train', '--arch', 'vit_q', '--data', join(dir, 'data'), '--out', join(dir, 'bad')]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^samtutor: methodOptions.arch must be one of vit_b, vit_t, mobile_sam, custom, got "vit_q"\n$/);
  assert.equal(existsSync(join(dir, 'bad')), false);
  const tiny = samtutor(['teacher', 'train', '--arch', 'vit_t', '--data', join(dir, 'data'), '--out', join(dir, 'bad2')]);
  assert.equal(tiny.status, 2);
  assert.match(tiny.stderr, /takes 1024² inputs/);
});

test('teacher --init: a 1024² ViT checkpoint adapts to 256² (pos_embed bicubic, global rel-pos linear)', () => {
  const ckpt = resolve(REPO, '../shared/fixtures/sam-vit-small/sam_vit_small.pth');
  const sd = loadStateDict(ckpt);
  const full = loadSamCheckpoint(ckpt);
  try {
    const e = full.config.imageEncoder;
    assert.equal(e.type, 'vit');
    if (e.type !== 'vit') return;
    const spec = { embedDim: e.embedDim, depth: e.depth, numHeads: e.numHeads, globalAttnIndexes: [...e.globalAttnIndexes], windowSize: e.windowSize,
      promptEmbedDim: full.config.promptEncoder.embedDim, decoderMlpDim: full.config.maskDecoder.transformerMlpDim, decoderNumHeads: full.config.maskDecoder.transformerNumHeads,
      decoderDepth: full.config.maskDecoder.transformerDepth, iouHeadHiddenDim: full.config.maskDecoder.iouHeadHiddenDim };
    const target = teacherSamConfig(teacherOptions({ arch: 'custom', vit: spec }), 256);
    resizeSamStateDict(sd, target);
    assert.deepEqual(sd.get('image_encoder.pos_embed')!.shape, [1, 16, 16, e.embedDim]);
    const g = e.globalAttnIndexes[0]!;
    assert.deepEqual(sd.get(`image_encoder.blocks.${g}.attn.rel_pos_h`)!.shape[0], 31);
    const sam = buildSam(target);
    loadSamStateDict(sam, sd);
    sam.dispose();
  } finally {
    full.model.dispose();
    dispose([...sd.values()]);
  }
  assert.throws(() => teacherOptions({ arch: 'custom', pointProb: 2 }), /pointProb must be in \[0, 1\], got 2/);
  assert.throws(() => teacherOptions({ arch: 'custom', colour: 'red' }), /unknown methodOptions key "colour"/);
});
