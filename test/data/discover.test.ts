import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { join, basename } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { discoverDataset, checkDataset, pairByStem, splitName, DataError, type DatasetIndex } from '../../src/data/index.ts';
import { parseMeta } from '../../src/data/metaJson.ts';
import { tempDir, writeSynthetic, squareMask, touch } from './helpers.ts';

const { dir: base, cleanup } = tempDir();
after(cleanup);
let n = 0;
const fresh = (): string => { const d = join(base, `ds${n++}`); mkdirSync(d); return d; };
const grey = (): number => 90;
const isData = (code: string, re?: RegExp) => (e: unknown): boolean => {
  assert.ok(e instanceof DataError, `expected a DataError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  assert.ok(!e.message.includes('\n'), 'one-line message');
  if (re) assert.match(e.message, re);
  return true;
};
const ids = (idx: DatasetIndex): string[] => idx.samples.map((s) => s.id);
const maskName = (idx: DatasetIndex, id: string): string => basename(idx.samples.find((s) => s.id === id)!.maskPath!);

describe('stems and pairing rules', () => {
  test('only a known ending is stripped; dots, spaces and parentheses stay in the stem', () => {
    assert.deepEqual(splitName('SARS-10.1148rg.242035193-g04mr34g0-Fig8a-day0.png'), { stem: 'SARS-10.1148rg.242035193-g04mr34g0-Fig8a-day0', ext: '.png' });
    assert.deepEqual(splitName('benign (12).PNG'), { stem: 'benign (12)', ext: '.png' });
    assert.deepEqual(splitName('case_001.nii.gz'), { stem: 'case_001', ext: '.nii.gz' });
    assert.equal(splitName('notes.txt'), null);
    assert.equal(splitName('.DS_Store'), null);
    assert.equal(splitName('._case_001.nii.gz'), null); // macOS resource forks in MSD tarballs
  });

  test('every suffix rule pairs', async () => {
    const d = fresh();
    const pairs: [string, string][] = [
      ['same.png', 'same.png'], ['a.jpg', 'a_mask.png'], ['ISIC_1.jpg', 'ISIC_1_segmentation.png'], ['ISIC_2.jpg', 'ISIC_2_Segmentation.png'],
      ['b.png', 'b-mask.png'], ['c.png', 'c_lesion.png'], ['Image_01L.jpg', 'Image_01L_1stHO.png'], ['benign (3).png', 'benign (3)_mask.png'],
      ['x.ray.v2.png', 'x.ray.v2_mask.png'], ['21_training.tif', '21_manual1.gif'],
    ];
    for (const [img, mask] of pairs) {
      await writeSynthetic(join(d, 'images', img), 8, 6, 3, grey);
      await writeSynthetic(join(d, 'masks', mask), 8, 6, 1, squareMask(1, 1, 3));
    }
    const idx = await discoverDataset(d);
    assert.equal(idx.layout, 'images+masks');
    assert.equal(idx.samples.length, pairs.length);
    for (const [img, mask] of pairs) assert.equal(maskName(idx, splitName(img)!.stem), mask, img);
    assert.equal(idx.unlabeled.length, 0);
  });

  test('a mask fitting two images, or two images with one stem, is ambiguous', () => {
    const f = (name: string) => ({ name, path: `/x/${name}`, ...splitName(name)! });
    assert.throws(() => pairByStem([f('a.png'), f('a.jpg')], [f('a_mask.png')]), isData('AMBIGUOUS', /a\.png and a\.jpg/));
    assert.throws(() => pairByStem([f('a.png')], [f('a.png'), f('a_mask.png')]), isData('AMBIGUOUS', /several masks/));
  });
});

describe('layouts', () => {
  test('DRIVE-like: role words, GIF masks and a field-of-view folder', async () => {
    const d = fresh();
    for (const [num, role] of [['01', 'test'], ['21', 'training']]) {
      await writeSynthetic(join(d, 'images', `${num}_${role}.jpg`), 10, 12, 3, grey);
      await writeSynthetic(join(d, 'masks', `${num}_manual1.gif`), 10, 12, 1, squareMask(2, 2, 4));
      await writeSynthetic(join(d, 'fov', `${num}_${role}_mask.gif`), 10, 12, 1, () => 255);
    }
    const idx = await discoverDataset(d);
    assert.deepEqual(ids(idx), ['01_test', '21_training']);
    assert.equal(basename(idx.samples[1]!.extra.fov!), '21_training_mask.gif');
    assert.equal(maskName(idx, '01_test'), '01_manual1.gif');
  });

  test("DRIVE's original folders: 1st_manual/ is the mask, mask/ (the field of view) an extra", async () => {
    const d = fresh();
    await writeSynthetic(join(d, 'images', '21_training.png'), 6, 6, 3, grey);
    await writeSynthetic(join(d, '1st_manual', '21_manual1.gif'), 6, 6, 1, squareMask(1, 1, 2));
    await writeSynthetic(join(d, 'mask', '21_training_mask.gif'), 6, 6, 1, () => 255);
    const idx = await discoverDataset(d);
    assert.equal(maskName(idx, '21_training'), '21_manual1.gif');
    assert.equal(basename(idx.samples[0]!.extra.mask!), '21_training_mask.gif');
  });

  test('several masks of one image (BUSI original _mask, _mask_1) are listed together', async () => {
    const d = fresh();
    await writeSynthetic(join(d, 'images', 'benign (4).png'), 8, 8, 1, grey);
    await writeSynthetic(join(d, 'masks', 'benign (4)_mask.png'), 8, 8, 1, squareMask(0, 0, 2));
    await writeSynthetic(join(d, 'masks', 'benign (4)_mask_1.png'), 8, 8, 1, squareMask(5, 5, 2));
    const idx = await discoverDataset(d);
    assert.equal(basename(idx.samples[0]!.maskPath!), 'benign (4)_mask.png');
    assert.deepEqual(idx.samples[0]!.extraMaskPaths!.map((p) => basename(p)), ['benign (4)_mask_1.png']);
  });

  test('mixed folders: masks beside images, class sub-folders become meta.class', async () => {
    const d = fresh();
    for (const cls of ['benign', 'normal']) {
      for (const i of [1, 2]) {
        await writeSynthetic(join(d, cls, `${cls} (${i}).png`), 6, 6, 1, grey);
        await writeSynthetic(join(d, cls, `${cls} (${i})_mask.png`), 6, 6, 1, cls === 'normal' ? () => 0 : squareMask(1, 1, 2));
      }
    }
    const idx = await discoverDataset(d);
    assert.equal(idx.layout, 'mixed');
    assert.deepEqual(ids(idx), ['benign (1)', 'benign (2)', 'normal (1)', 'normal (2)']);
    assert.deepEqual(idx.samples.map((s) => s.meta.class), ['benign', 'benign', 'normal', 'normal']);
    const flat = fresh();
    await writeSynthetic(join(flat, 'p1.png'), 6, 6, 1, grey);
    await writeSynthetic(join(flat, 'p1_segmentation.png'), 6, 6, 1, grey);
    assert.deepEqual(ids(await discoverDataset(flat)), ['p1']);
  });

  test('allowUnlabeled keeps images without masks; masks without images always fail', async () => {
    const d = fresh();
    await writeSynthetic(join(d, 'images', 'a.png'), 4, 4, 1, grey);
    await writeSynthetic(join(d, 'images', 'b.png'), 4, 4, 1, grey);
    await writeSynthetic(join(d, 'masks', 'a_mask.png'), 4, 4, 1, grey);
    await assert.rejects(discoverDataset(d), isData('UNPAIRED', /1 image\(s\) have no mask in masks\/: "b\.png".*allowUnlabeled/));
    const idx = await discoverDataset(d, { allowUnlabeled: true });
    assert.deepEqual(ids(idx), ['a']);
    assert.deepEqual(idx.unlabeled.map((s) => [s.id, s.meta.source]), [['b', 'unpaired']]);
    await writeSynthetic(join(d, 'masks', 'zz_mask.png'), 4, 4, 1, grey);
    await assert.rejects(discoverDataset(d, { allowUnlabeled: true }), isData('UNPAIRED', /mask\(s\) match no image.*"zz_mask\.png".*suffixes tried/));
  });

  test('unpaired lists show the first few names and a count', async () => {
    const d = fresh();
    await writeSynthetic(join(d, 'images', 'keep.png'), 4, 4, 1, grey);
    await writeSynthetic(join(d, 'masks', 'keep.png'), 4, 4, 1, grey);
    for (let i = 0; i < 8; i++) await writeSynthetic(join(d, 'images', `lonely${i}.png`), 4, 4, 1, grey);
    await assert.rejects(discoverDataset(d), isData('UNPAIRED', /8 image\(s\).*"lonely0\.png".*and 3 more/));
  });

  test('non-image files are ignored with a warning; custom folder names and suffixes', async () => {
    const d = fresh();
    await writeSynthetic(join(d, 'img', 'a.png'), 4, 4, 1, grey);
    await writeSynthetic(join(d, 'gt', 'a_ann.png'), 4, 4, 1, grey);
    touch(join(d, 'img', 'Thumbs.db'));
    touch(join(d, 'img', '.DS_Store'));
    touch(join(d, 'img', 'list.txt'));
    await assert.rejects(discoverDataset(d), isData('UNPAIRED', /a_ann\.png/));
    const idx = await discoverDataset(d, { extraMaskSuffixes: ['_ann'] });
    assert.deepEqual(ids(idx), ['a']);
    assert.match(idx.warnings.join(' '), /ignored 2 non-image file\(s\): "Thumbs\.db", "list\.txt"/);
  });
});

describe('clean failures', () => {
  test('missing root, a file as root, empty root, empty images folder', async () => {
    await assert.rejects(discoverDataset(join(base, 'does-not-exist')), isData('NOT_FOUND'));
    const f = join(base, 'file.txt');
    writeFileSync(f, 'x');
    await assert.rejects(discoverDataset(f), isData('INVALID', /is a file/));
    await assert.rejects(discoverDataset(fresh()), isData('EMPTY_FOLDER', /empty/));
    const d = fresh();
    mkdirSync(join(d, 'images'));
    mkdirSync(join(d, 'masks'));
    touch(join(d, 'images', 'readme.md'));
    await assert.rejects(discoverDataset(d), isData('EMPTY_FOLDER', /no image files in .*images.*readme\.md/));
  });

  test('unknown layout names what it found', async () => {
    const d = fresh();
    mkdirSync(join(d, 'stuff'));
    touch(join(d, 'stuff', 'a.txt'));
    touch(join(d, 'notes.csv'));
    await assert.rejects(discoverDataset(d), isData('UNKNOWN_LAYOUT', /expected images\/ \+ masks\/.*found "notes\.csv", "stuff\/"/));
    const onlyImages = fresh();
    await writeSynthetic(join(onlyImages, 'images', 'a.png'), 4, 4, 1, grey);
    await assert.rejects(discoverDataset(onlyImages), isData('UNKNOWN_LAYOUT', /found images\/ but no masks\//));
    assert.equal((await discoverDataset(onlyImages, { allowUnlabeled: true })).unlabeled.length, 1);
  });

  test('size mismatch and unreadable files are reported by checkDataset with the file and both sizes', async () => {
    const d = fresh();
    await writeSynthetic(join(d, 'images', 'ok.png'), 8, 6, 1, grey);
    await writeSynthetic(join(d, 'masks', 'ok_mask.png'), 8, 6, 1, grey);
    await writeSynthetic(join(d, 'images', 'wide.png'), 8, 6, 1, grey);
    await writeSynthetic(join(d, 'masks', 'wide_mask.png'), 9, 6, 1, grey);
    await assert.rejects(discoverDataset(d, { check: true }), isData('SIZE_MISMATCH', /wide_mask\.png is 9x6 but image images\/wide\.png is 8x6/));
    const idx = await discoverDataset(d);
    writeFileSync(join(d, 'images', 'ok.png'), 'garbage');
    const problems = await checkDataset(idx, { all: true });
    assert.deepEqual(problems.map((p) => p.code).sort(), ['SIZE_MISMATCH', 'UNREADABLE']);
    assert.ok(problems.some((p) => p.message.includes('ok.png')));
  });
});

test('meta.json: labels, encoding, classes, sequences, near-duplicates, official split', async () => {
  const meta = parseMeta({
    name: 'x', labels: { 0: 'background', 255: 'lung', encoding: '0/255' }, classes: { a: 'benign' },
    sequences: { ranges: { 1: [1, 3], 2: [4, 5] } },
    notes: { near_duplicates: 'keep together: [p, q], [r, s]. Found with thumbnails.' },
    split: { train: ['1'], test: ['2'] },
  });
  assert.deepEqual(meta.labels, { 0: 'background', 1: 'lung' });
  assert.equal(meta.encoding, '0/255');
  assert.equal(meta.groups!['2'], 'sequence-1');
  assert.equal(meta.groups!['4'], 'sequence-2');
  assert.equal(meta.groups!.p, meta.groups!.q);
  assert.notEqual(meta.groups!.p, meta.groups!.r);
  assert.deepEqual(meta.officialSplit, { train: ['1'], test: ['2'] });
  assert.equal(parseMeta({ labels: { encoding: '0/255 grayscale JPEG (compression noise kept; threshold at 128 to binarize)' } }).encoding, 'threshold');
  const d = fresh();
  await writeSynthetic(join(d, 'images', 'a.png'), 4, 4, 1, grey);
  await writeSynthetic(join(d, 'masks', 'a.png'), 4, 4, 1, grey);
  writeFileSync(join(d, 'meta.json'), '{ not json');
  await assert.rejects(discoverDataset(d), isData('INVALID', /meta\.json is not valid JSON/));
  assert.equal((await discoverDataset(d, { useMeta: false })).samples.length, 1);
});
