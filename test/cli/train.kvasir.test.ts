// Real-data smoke: `samtutor train` on ../shared/data/polyp-kvasir-256 (16 training images at 64 px, one epoch)
// and `samtutor predict` on two of its images, whose masks must come back at the images' own sizes. Skipped, saying
// why, when the shared data is not there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readImageInfo } from '../../src/data/index.ts';
import { REPO, samtutor, tempDir } from '../methods/helpers.ts';

const KVASIR = '../shared/data/polyp-kvasir-256'; // relative to the repository root (the CLI runs there)

test('kvasir smoke: train 1 epoch on 16 images at 64 px, predict at the original sizes', async (t) => {
  if (!existsSync(join(REPO, KVASIR, 'images'))) {
    t.skip(`${KVASIR} is not present (the shared datasets live beside the repository)`);
    return;
  }
  const { dir, cleanup } = tempDir('samtutor-kvasir-');
  t.after(cleanup);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ size: 64, batch: 8, epochs: 1, maxTrainCases: 16, maxValCases: 4 }));
  const r = samtutor(['train', '--method', 'supervised', '--data', KVASIR, '--out', join(dir, 'run'), '--config', join(dir, 'config.json')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /16 training \/ 4 validation cases, 2D 64px, batch 8, 2 iterations\/epoch/);
  const split = JSON.parse(readFileSync(join(dir, 'run', 'split.json'), 'utf8')) as { train: string[]; val: string[]; test: string[] };
  assert.equal(split.train.length + split.val.length + split.test.length, 1000);
  const input = join(dir, 'input');
  mkdirSync(input);
  for (const id of split.test.slice(0, 2)) copyFileSync(join(REPO, KVASIR, 'images', `${id}.jpg`), join(input, `${id}.jpg`));
  const p = samtutor(['predict', '--model', join(dir, 'run'), '--input', input, '--out', join(dir, 'pred')]);
  assert.equal(p.status, 0, p.stderr);
  for (const id of split.test.slice(0, 2)) {
    const [src, mask] = await Promise.all([readImageInfo(join(input, `${id}.jpg`)), readImageInfo(join(dir, 'pred', `${id}.png`))]);
    assert.deepEqual([mask.width, mask.height], [src.width, src.height], id);
  }
});
