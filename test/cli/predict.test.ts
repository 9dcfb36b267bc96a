// `samtutor train` + `samtutor predict` end to end through the CLI on tiny synthetic 2D and 3D datasets: masks,
// overlays and probabilities at the original image size; NIfTI predictions on the source grid with its geometry;
// exit-2 errors for missing paths, non-images and files that are not samtutor checkpoints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, copyFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { tidy } from '../../src/engine/index.ts';
import { saveCheckpoint } from '../../src/engine/serialization/index.ts';
import { readImage, readImageInfo, readNifti, loadSample, disposeSample } from '../../src/data/index.ts';
import { buildUNet } from '../../src/models/unet/index.ts';
import { Predictor } from '../../src/methods/predictor.ts';
import { runPredict } from '../../src/cli/predict.ts';
import { UsageError } from '../../src/cli/usage.ts';
import { AFFINE_3D, makeDataset2d, makeDataset3d, quickConfig, samtutor, tempDir, useOneThread } from '../methods/helpers.ts';

useOneThread();

test('2D: predict writes masks, overlays and probabilities at each image\'s original size', async (t) => {
  const { dir, cleanup } = tempDir('samtutor-cli-predict-');
  t.after(cleanup);
  await makeDataset2d(join(dir, 'data'), 6);
  await makeDataset2d(join(dir, 'odd'), 1, 50, 21, 9); // another size than training's images
  writeFileSync(join(dir, 'config.json'), JSON.stringify(quickConfig({ epochs: 1, valFraction: 0.34 })));
  const trained = samtutor(['train', '--method', 'supervised', '--data', join(dir, 'data'), '--out', join(dir, 'run'), '--config', join(dir, 'config.json')]);
  assert.equal(trained.status, 0, trained.stderr);
  const input = join(dir, 'input');
  mkdirSync(input);
  copyFileSync(join(dir, 'data', 'images', 'case00.png'), join(input, 'case00.png'));
  copyFileSync(join(dir, 'odd', 'images', 'case00.png'), join(input, 'wide.png'));
  writeFileSync(join(input, 'notes.txt'), 'not an image: skipped in a folder');
  const r = samtutor(['predict', '--model', join(dir, 'run'), '--input', input, '--out', join(dir, 'pred'), '--probabilities']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^predict: 2 image\(s\) with supervised \(epoch 1\)/);
  assert.deepEqual(readdirSync(join(dir, 'pred')).sort(), ['case00.png', 'case00_overlay.png', 'case00_prob.png', 'wide.png', 'wide_overlay.png', 'wide_prob.png']);
  for (const [stem, w, h] of [['case00', 40, 32], ['wide', 50, 21]] as const) {
    const mask = await readImage(join(dir, 'pred', `${stem}.png`));
    assert.deepEqual([mask.width, mask.height, mask.channels], [w, h, 1], `${stem} mask size`);
    assert.ok(mask.data.every((v) => v === 0 || v === 255), 'binary masks are 0/255');
    const overlay = await readImageInfo(join(dir, 'pred', `${stem}_overlay.png`));
    assert.deepEqual([overlay.width, overlay.height, overlay.channels], [w, h, 3]);
    const prob = await readImageInfo(join(dir, 'pred', `${stem}_prob.png`));
    assert.deepEqual([prob.width, prob.height, prob.bitDepth], [w, h, 8]);
  }
  // The CLI's mask is what the predictor computes in process (same preprocessing, same inversion).
  const predictor = Predictor.load(join(dir, 'run'));
  const s = await loadSample({ id: 'wide', imagePath: join(input, 'wide.png'), extra: {}, dims: 2, meta: {} }, { channels: 3 });
  const expected = tidy(() => predictor.predict2d(s.image, 8).labels.mul(255).toArray());
  assert.deepEqual(Array.from((await readImage(join(dir, 'pred', 'wide.png'))).data), expected);
  disposeSample(s);
  predictor.dispose();
});

test('3D: predict writes label volumes and probabilities on the source grid with its exact geometry', async (t) => {
  const { dir, cleanup } = tempDir('samtutor-cli-predict-');
  t.after(cleanup);
  await makeDataset3d(join(dir, 'data'), 5);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(quickConfig({ epochs: 1, size: null, patchSize: [8, 8, 8], valFraction: 0.2, valHd95: true })));
  const trained = samtutor(['train', '--method', 'supervised', '--data', join(dir, 'data'), '--out', join(dir, 'run'), '--config', join(dir, 'config.json')]);
  assert.equal(trained.status, 0, trained.stderr);
  assert.match(trained.stdout, /3D patch 8x8x8/);
  const r = samtutor(['predict', '--model', join(dir, 'run', 'last.pth'), '--input', join(dir, 'data'), '--out', join(dir, 'pred'), '--probabilities']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^predict: 5 volume\(s\)/);
  const source = await readNifti(join(dir, 'data', 'imagesTr', 'vol_001_0000.nii.gz'));
  const pred = await readNifti(join(dir, 'pred', 'vol_001.nii.gz'));
  assert.deepEqual(pred.data.shape, [12, 16, 14]);
  assert.equal(pred.data.dtype, 'uint8');
  assert.deepEqual(pred.geometry.affine, AFFINE_3D);
  for (const k of ['pixdim', 'qformCode', 'sformCode', 'srow', 'quatern', 'qoffset'] as const) {
    assert.deepEqual(pred.geometry.nifti![k], source.geometry.nifti![k], `NIfTI header ${k}`);
  }
  assert.ok(pred.data.toArray().every((v) => v === 0 || v === 1));
  const prob = await readNifti(join(dir, 'pred', 'vol_001_prob.nii.gz'));
  assert.equal(prob.data.dtype, 'float32');
  assert.deepEqual(prob.data.shape, [12, 16, 14]);
  assert.ok(prob.data.toArray().every((v) => v >= 0 && v <= 1));
  for (const v of [source, pred, prob]) v.data.dispose();
});

test('predict: missing paths, non-images and non-checkpoints are usage errors (exit 2, one line)', async (t) => {
  const { dir, cleanup } = tempDir('samtutor-cli-predict-');
  t.after(cleanup);
  const plain = join(dir, 'plain.pth');
  const net = buildUNet({ spatialDims: 2, inChannels: 3, outChannels: 1, widths: [2] });
  saveCheckpoint(plain, net.stateDict());
  net.dispose();
  const spawned = samtutor(['predict', '--model', plain, '--input', dir, '--out', join(dir, 'out')]);
  assert.equal(spawned.status, 2);
  assert.match(spawned.stderr, /^samtutor: .*plain.pth is not a samtutor checkpoint \(no format 'samtutor-checkpoint'; is it a plain state_dict\?\)\n$/);

  await makeDataset2d(join(dir, 'data'), 4);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(quickConfig({ epochs: 1, valFraction: 0 })));
  const trained = samtutor(['train', '--method', 'supervised', '--data', join(dir, 'data'), '--out', join(dir, 'run'), '--config', join(dir, 'config.json')]);
  assert.equal(trained.status, 0, trained.stderr);
  writeFileSync(join(dir, 'notes.txt'), 'hello');
  writeFileSync(join(dir, 'fake.png'), 'this is not a PNG');
  mkdirSync(join(dir, 'empty'));
  const run = join(dir, 'run');
  const cases: [string, string, RegExp][] = [
    [join(dir, 'nothing'), join(dir, 'data'), /^model not found: .*nothing$/],
    [join(dir, 'empty'), join(dir, 'data'), /is not a run directory: it has neither best.pth nor last.pth$/],
    [run, join(dir, 'nope.png'), /^input not found: .*nope.png$/],
    [run, join(dir, 'notes.txt'), /notes.txt is not an image \(.png, .jpg.*\), which this 2D model needs$/],
    [run, join(dir, 'empty'), /^no input files in .*empty: expected image \(.*\) files for this 2D model$/],
    [run, join(dir, 'fake.png'), /fake.png/],
  ];
  for (const [model, input, message] of cases) {
    await assert.rejects(runPredict({ model, input, out: join(dir, 'out') }), (e: Error) => e instanceof UsageError && message.test(e.message) && !e.message.includes('\n'), `${model} ${input}`);
  }
  // No best.pth without validation: the run directory falls back to last.pth.
  await runPredict({ model: run, input: join(dir, 'data', 'images', 'case01.png'), out: join(dir, 'out') });
  const info = await sharp(join(dir, 'out', 'case01.png')).metadata();
  assert.deepEqual([info.width, info.height], [40, 32]);
});
