// `samtutor sam predict` (runSamPredict): parity of the written files with the official SamPredictor on the
// sam-vit-small fixture (case rgb/a: one foreground point, three masks), and the user errors (UsageError → exit 2).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { F, dispose, memory, tensor } from '../../src/engine/index.ts';
import { saveSafetensors } from '../../src/engine/serialization/safetensors.ts';
import { readImage } from '../../src/data/image.ts';
import { readNpy, writeNpy } from '../../src/data/npy.ts';
import { runSamPredict } from '../../src/cli/sam.ts';
import { UsageError } from '../../src/cli/usage.ts';
import { CHECKPOINT, FIXTURE, haveFixture, manifest, maxAbsDiff, subsample } from '../models/sam/helpers.ts';

describe('samtutor sam predict', { skip: !haveFixture && 'fixture not present' }, () => {
  let dir: string;
  let image: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sam-predict-'));
    image = resolve(FIXTURE, manifest().images.rgb!.file);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('case rgb/a: scores, masks, logits and embedding match the official outputs; no tensors leak', async (t) => {
    const m = manifest();
    const c = m.cases.find((k) => k.id === 'rgb/a')!;
    const out = join(dir, 'a');
    const live0 = memory().liveTensors;
    const res = await runSamPredict({
      checkpoint: CHECKPOINT, modelType: 'auto', image, point: ['133,100,1'], multimask: true, out,
      saveEmbedding: join(out, 'embedding.npy'), saveLogits: true,
    });
    assert.equal(memory().liveTensors, live0, 'tensors leaked');
    const scores = JSON.parse(readFileSync(join(out, 'scores.json'), 'utf8'));
    assert.deepEqual(scores.image_size, { height: 320, width: 480 });
    assert.equal(scores.model_type, 'custom');
    assert.deepEqual(scores.prompts.points, [{ x: 133, y: 100, label: 1 }]);
    const refIou = readNpy(resolve(FIXTURE, c.outputs.iou_predictions.file));
    const ours = tensor(scores.iou_predictions, [3]);
    const dIou = maxAbsDiff(ours, refIou);
    const tol = (k: string): number => m.tolerances.per_output[`rgb/a/${k}`]!.suggested_test_tolerance_max_abs;
    t.diagnostic(`iou max|diff| ${dIou} (tol ${tol('iou_predictions')})`);
    assert.ok(dIou <= tol('iou_predictions'));
    assert.deepEqual(res.iouPredictions, scores.iou_predictions);
    dispose([refIou, ours]);
    for (const bm of c.outputs.binary_masks) {
      const [ref, got] = await Promise.all([readImage(resolve(FIXTURE, bm.file), { channels: 1 }), readImage(join(out, `mask_${bm.mask_index}.png`), { channels: 1 })]);
      assert.deepEqual([got.width, got.height], [480, 320]);
      const logits = readNpy(join(out, `logits_${bm.mask_index}.npy`));
      assert.deepEqual([logits.shape, logits.dtype], [[320, 480], 'float32']);
      const l = logits.toFloat32Array();
      logits.dispose();
      let outside = 0;
      ref.data.forEach((v, i) => { if (v !== got.data[i] && Math.abs(l[i]!) >= m.tolerances.logit_tolerance_for_masks) outside++; });
      assert.equal(outside, 0, `${bm.file}: pixels differ outside the logit band`);
      assert.ok(got.data.every((v) => v === 0 || v === 255));
    }
    const three = [0, 1, 2].map((i) => readNpy(join(out, `logits_${i}.npy`)));
    const stacked = F.stack(three, 0);
    const refL = readNpy(resolve(FIXTURE, c.outputs.mask_logits.file)), sub = subsample(stacked, 8);
    const dL = maxAbsDiff(sub, refL);
    t.diagnostic(`mask logits max|diff| ${dL} (tol ${tol('mask_logits')})`);
    assert.ok(dL <= tol('mask_logits'));
    const emb = readNpy(join(out, 'embedding.npy'));
    assert.deepEqual([emb.shape, emb.dtype], [[1, 128, 64, 64], 'float32']);
    const refE = readNpy(resolve(FIXTURE, c.outputs.image_embedding.file)), subE = subsample(emb, 4);
    const dE = maxAbsDiff(subE, refE);
    t.diagnostic(`embedding max|diff| ${dE} (tol ${m.tolerances.per_output['rgb/image_embedding']!.suggested_test_tolerance_max_abs})`);
    assert.ok(dE <= m.tolerances.per_output['rgb/image_embedding']!.suggested_test_tolerance_max_abs);
    dispose([...three, stacked, refL, sub, emb, refE, subE]);
  });

  test('user errors are UsageErrors (exit code 2) with a clear message', async () => {
    const notSam = join(dir, 'unet.safetensors');
    const w = tensor([1, 2, 3, 4], [2, 2]);
    saveSafetensors(notSam, { 'encoder.conv.weight': w });
    w.dispose();
    const badMask = join(dir, 'bad_mask.npy');
    const mt = tensor(new Float32Array(64 * 64), [64, 64]);
    writeNpy(badMask, mt);
    mt.dispose();
    writeFileSync(join(dir, 'not_an_image.png'), 'hello');
    const base = { checkpoint: CHECKPOINT, image, point: ['10,10,1'], out: join(dir, 'err') };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ point: ['10,10'] }, /Expected a point as "x,y,label"/],
      [{ point: ['10,abc,1'] }, /Expected a point/],
      [{ point: ['10,10,2'] }, /to be 1 \(foreground\) or 0 \(background\) but received 2/],
      [{ point: [], box: '1,2,3' }, /Expected a box as "x0,y0,x1,y1"/],
      [{ point: [], box: '50,2,10,30' }, /x0 <= x1 and y0 <= y1/],
      [{ point: [] }, /give at least one prompt/],
      [{ image: join(dir, 'missing.png') }, /--image not found/],
      [{ image: join(dir, 'not_an_image.png') }, /cannot read --image/],
      [{ checkpoint: join(dir, 'missing.pth') }, /--checkpoint not found/],
      [{ checkpoint: notSam }, /is not a usable SAM-family checkpoint/],
      [{ modelType: 'vit_z' }, /is not a usable SAM-family checkpoint.*vit_z/],
      [{ maskInput: join(dir, 'missing.npy') }, /--mask-input not found/],
      [{ maskInput: badMask }, /Expected --mask-input as float 256x256/],
      [{ saveEmbedding: join(dir, 'e.bin') }, /--save-embedding needs a .npy file/],
    ];
    const live0 = memory().liveTensors;
    for (const [over, re] of cases) {
      await assert.rejects(runSamPredict({ ...base, ...over } as never), (e: Error) => {
        assert.ok(e instanceof UsageError, `${JSON.stringify(over)}: ${e.name} ${e.message}`);
        assert.match(e.message, re);
        return true;
      });
    }
    assert.equal(memory().liveTensors, live0, 'tensors leaked on errors');
  });
});
