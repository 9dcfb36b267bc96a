// `node bin/samtutor.js evaluate ...` as users run it (from the repository root): exit codes, one-line usage errors,
// the printed table, the files written; and hippocampus label volumes scored against themselves.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor } from '../../src/engine/index.ts';
import { makeGeometry, writeMask, writeNifti } from '../../src/data/index.ts';

const REPO = join(import.meta.dirname, '..', '..');
const HIPPO = join('..', 'shared', 'data', 'mri-hippocampus'); // relative to the repository root (the cwd below)
const root = mkdtempSync(join(tmpdir(), 'samtutor-evalcli-'));
after(() => rmSync(root, { recursive: true, force: true }));

function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['bin/samtutor.js', 'evaluate', ...args], { cwd: REPO, env: { ...process.env, SAMTUTOR_THREADS: '1' } });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A 0/255 PNG with one square [r0..r1] × [c0..c1] (inclusive) of foreground. */
async function square(path: string, h: number, w: number, r0 = -1, r1 = -1, c0 = -1, c1 = -1): Promise<void> {
  const d = new Uint8Array(h * w);
  for (let r = Math.max(r0, 0); r <= r1; r++) for (let c = c0; c <= c1; c++) d[r * w + c] = 1;
  const t = tensor(d, [h, w]);
  await writeMask(path, t);
  t.dispose();
}

const usageLine = (res: { code: number | null; stderr: string }, re: RegExp): void => {
  assert.equal(res.code, 2, res.stderr);
  assert.equal(res.stderr.trimEnd().split('\n').length, 1, `one line expected: ${res.stderr}`);
  assert.match(res.stderr, re);
};

describe('samtutor evaluate (CLI)', { concurrency: true }, () => {
  const [pred, gt] = [join(root, 'pred'), join(root, 'gt')];
  before(async () => {
    // Worked example (i) of metrics.md: Dice 0.625, HD95 3 (px); plus a case scored perfectly.
    await square(join(gt, 'a.png'), 20, 20, 4, 11, 4, 11);
    await square(join(pred, 'a.png'), 20, 20, 4, 11, 7, 14);
    await square(join(gt, 'b.png'), 16, 16, 2, 9, 3, 8);
    await square(join(pred, 'b.png'), 16, 16, 2, 9, 3, 8);
    await square(join(root, 'stray', 'a.png'), 20, 20);
    await square(join(root, 'stray', 'zzz.png'), 20, 20);
    await square(join(root, 'wrong', 'a.png'), 20, 24);
  });

  test('scores a folder: exit 0, table on stdout, JSON and CSV written', async () => {
    const out = join(root, 'res', 'summary.json');
    const res = await cli('--pred', pred, '--gt', gt, '--out', out, '--tolerance', '1');
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /2 case\(s\) scored, convention default, NSD tolerance 1/);
    assert.match(res.stdout, /^label\s+n\s+Dice\s+IoU\s+HD95\s+ASSD\s+NSD@1\s+both-empty\s+failed$/m);
    assert.match(res.stdout, /^1\s+2\s+0\.813±0\.188 \[0\.813\]/m); // Dice mean of 0.625 and 1
    const json = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(json.perLabel['1'].metrics.hd95.mean, 1.5);
    assert.equal(json.missing.count, 0);
    assert.equal(readFileSync(join(root, 'res', 'summary.csv'), 'utf8').trim().split('\n').length, 3);
  });

  test('--spacing in x,y order scales distances', async () => {
    const out = join(root, 'res2', 's.json');
    const res = await cli('--pred', pred, '--gt', gt, '--out', out, '--spacing', '2,1', '--labels', '1');
    assert.equal(res.code, 0, res.stderr);
    const rows = readFileSync(join(root, 'res2', 's.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
    const a = rows.find((r) => r[0] === 'a')!;
    assert.equal(Number(a[5]), 6); // hd95: the 3 px shift along x at sx = 2
    assert.equal(a[13], '1x2'); // spacing column, tensor axis order [sy, sx]
  });

  test('a prediction without ground truth: exit 2, one line naming it', async () => {
    usageLine(await cli('--pred', join(root, 'stray'), '--gt', gt, '--out', join(root, 'x.json')), /^samtutor: 1 prediction\(s\) have no ground truth in .*: zzz\.png/);
  });

  test('a shape mismatch: exit 2, one line naming the case and both shapes', async () => {
    usageLine(await cli('--pred', join(root, 'wrong'), '--gt', gt, '--out', join(root, 'x.json')),
      /^samtutor: shape mismatch for case a: prediction a\.png is \[20, 24\] but ground truth a\.png is \[20, 20\]/);
    assert.equal(existsSync(join(root, 'x.json')), false);
  });

  test('bad flag values: exit 2, one line', async () => {
    usageLine(await cli('--pred', pred, '--gt', gt, '--out', join(root, 'x.json'), '--spacing', '1,-1'), /^samtutor: --spacing 1,-1: expected/);
  });

  test('real data: hippocampus label volumes against the MSD dataset folder, spacing from the headers', async () => {
    const hp = join(root, 'hippo');
    mkdirSync(hp);
    const ids = ['hippocampus_001', 'hippocampus_003', 'hippocampus_004'];
    for (const id of ids) copyFileSync(join(REPO, HIPPO, 'labelsTr', `${id}.nii.gz`), join(hp, `${id}.nii.gz`));
    const out = join(root, 'hippo-res', 'h.json');
    const res = await cli('--pred', hp, '--gt', HIPPO, '--out', out);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /missing: \d+ ground-truth case\(s\) have no prediction and are not scored/);
    const json = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(json.cases, 3);
    assert.deepEqual(Object.keys(json.perLabel), ['1', '2']);
    for (const l of ['1', '2']) {
      assert.equal(json.perLabel[l].metrics.dice.mean, 1);
      assert.equal(json.perLabel[l].metrics.hd95.mean, 0);
      assert.equal(json.perLabel[l].records, 3);
    }
  });
});

// A second NIfTI case written with a non-unit header spacing, through the CLI, checks that geometry reaches the
// metrics end to end (label 2 of test/cli/evaluate.test.ts: a one-voxel shift along axis 0 of 2 mm → HD95 2).
test('CLI: 3D NIfTI header spacing reaches the metrics', async () => {
  const d = join(root, 'nii');
  const shape: [number, number, number] = [8, 6, 6];
  const vol = (lo: number) => {
    const a = new Uint8Array(8 * 6 * 6);
    for (let z = lo; z <= lo + 3; z++) for (let y = 1; y <= 3; y++) for (let x = 1; x <= 4; x++) a[(z * 6 + y) * 6 + x] = 2;
    return tensor(a, shape);
  };
  for (const [dir, lo] of [['g', 2], ['p', 3]] as const) {
    const t = vol(lo);
    await writeNifti(join(d, dir, 'c.nii.gz'), t, makeGeometry(shape, [2, 1, 0.5]));
    t.dispose();
  }
  const res = await cli('--pred', join(d, 'p'), '--gt', join(d, 'g'), '--out', join(d, 'r.json'));
  assert.equal(res.code, 0, res.stderr);
  const json = JSON.parse(readFileSync(join(d, 'r.json'), 'utf8'));
  assert.equal(json.perLabel['2'].metrics.hd95.mean, 2);
  assert.equal(json.perLabel['2'].metrics.dice.mean, 0.75);
});
