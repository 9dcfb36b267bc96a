import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tensor, arange, memory } from '../../src/engine/index.ts';
import {
  discoverDataset, loadSample, disposeSample, writeNifti, makeGeometry, writeImage, DataError, type SampleRecord, type LoadOptions,
} from '../../src/data/index.ts';
import { tempDir, writeSynthetic, squareMask } from './helpers.ts';

const { dir: base, cleanup } = tempDir();
after(cleanup);
let n = 0;
const fresh = (): string => { const d = join(base, `ds${n++}`); mkdirSync(d); return d; };
const values = (t: { toArray(): number[] }): number[] => [...new Set(t.toArray())].sort((a, b) => a - b);
const rec2d = (imagePath: string, maskPath?: string): SampleRecord => ({ id: 'x', imagePath, ...(maskPath ? { maskPath } : {}), extra: {}, dims: 2, meta: {} });

describe('2D mask encodings', () => {
  test('auto: 0/1 kept, 0/255 → 0/1, multi-label kept, JPEG thresholded at 128', async () => {
    const d = fresh();
    const img = join(d, 'img.png');
    await writeSynthetic(img, 16, 16, 3, (x, y, c) => x * 10 + y + c);
    const cases: [string, (x: number, y: number) => number, number[]][] = [
      ['m01.png', (x) => (x < 8 ? 0 : 1), [0, 1]],
      ['m255.png', (x) => (x < 8 ? 0 : 255), [0, 1]],
      ['multi.png', (x) => Math.floor(x / 4), [0, 1, 2, 3]],
      ['noisy.jpg', (x, y) => (x >= 4 && x < 12 && y >= 4 && y < 12 ? 255 : 0), [0, 1]],
    ];
    for (const [name, fill, expected] of cases) {
      await writeSynthetic(join(d, name), 16, 16, 1, fill);
      const s = await loadSample(rec2d(img, join(d, name)));
      assert.deepEqual(s.image.shape, [3, 16, 16]);
      assert.equal(s.image.dtype, 'float32');
      assert.deepEqual(s.mask!.shape, [16, 16]);
      assert.equal(s.mask!.dtype, 'uint8');
      assert.deepEqual(values(s.mask!), expected, name);
      if (name === 'noisy.jpg') assert.equal(s.mask!.sum().item(), 64); // the 8x8 square survives JPEG noise
      disposeSample(s);
    }
  });

  test('explicit encodings: threshold level, nonzero, 0/1 refuses 255, labels > 255 become int64', async () => {
    const d = fresh();
    const img = join(d, 'img.png');
    await writeSynthetic(img, 4, 1, 1, () => 7);
    const m = join(d, 'm.png');
    await writeImage(m, { data: new Uint8Array([0, 60, 130, 255]), width: 4, height: 1, channels: 1, bitDepth: 8 });
    const load = async (encoding: LoadOptions['encoding']): Promise<number[]> => {
      const s = await loadSample(rec2d(img, m), { encoding });
      const v = s.mask!.toArray();
      disposeSample(s);
      return v;
    };
    assert.deepEqual(await load('0/255'), [0, 0, 1, 1]);
    assert.deepEqual(await load({ kind: 'threshold', threshold: 50 }), [0, 1, 1, 1]);
    assert.deepEqual(await load('nonzero'), [0, 1, 1, 1]);
    assert.deepEqual(await load('labels'), [0, 60, 130, 255]);
    await assert.rejects(load('0/1'), (e: unknown) => e instanceof DataError && /values 0\.\.255 but the encoding is 0\/1/.test(e.message));
    await assert.rejects(load('bogus' as never), /Expected one of auto/);
    const m16 = join(d, 'm16.png');
    await writeImage(m16, { data: new Uint16Array([0, 1, 300, 2]), width: 4, height: 1, channels: 1, bitDepth: 16 });
    const s = await loadSample(rec2d(img, m16));
    assert.equal(s.mask!.dtype, 'int64');
    assert.deepEqual(s.mask!.toArray(), [0, 1, 300, 2]);
    disposeSample(s);
  });

  test('RGB masks use the maximum over channels (a red-only annotation is foreground)', async () => {
    const d = fresh();
    const img = join(d, 'img.png');
    await writeSynthetic(img, 2, 1, 1, () => 7);
    const m = join(d, 'm.png');
    await writeImage(m, { data: new Uint8Array([0, 0, 0, 255, 0, 0]), width: 2, height: 1, channels: 3, bitDepth: 8 });
    const s = await loadSample(rec2d(img, m), { encoding: '0/255' });
    assert.deepEqual(s.mask!.toArray(), [0, 1]);
    disposeSample(s);
  });

  test('extra masks are merged; fov is binary; instances keep ids; image channels option', async () => {
    const d = fresh();
    await writeSynthetic(join(d, 'images', 'a.png'), 8, 8, 3, () => 50);
    await writeSynthetic(join(d, 'masks', 'a_mask.png'), 8, 8, 1, squareMask(0, 0, 2));
    await writeSynthetic(join(d, 'masks', 'a_mask_1.png'), 8, 8, 1, squareMask(6, 6, 2));
    await writeSynthetic(join(d, 'fov', 'a_mask.png'), 8, 8, 1, (x) => (x < 4 ? 255 : 0));
    mkdirSync(join(d, 'instances'));
    await writeImage(join(d, 'instances', 'a_instances.png'), { data: new Uint16Array(64).map((_, i) => (i < 4 ? 1000 : i < 8 ? 2 : 0)), width: 8, height: 8, channels: 1, bitDepth: 16 });
    const idx = await discoverDataset(d);
    const s = await loadSample(idx.samples[0]!, { channels: 1 }, idx);
    assert.deepEqual(s.image.shape, [1, 8, 8]);
    assert.equal(s.mask!.sum().item(), 8);
    assert.equal(s.extras.fov!.dtype, 'uint8');
    assert.equal(s.extras.fov!.sum().item(), 32);
    assert.equal(s.extras.instances!.dtype, 'int64');
    assert.deepEqual(values(s.extras.instances!), [0, 2, 1000]);
    assert.deepEqual(s.spacing, [1, 1]);
    assert.deepEqual(s.geometry, { kind: 'image', width: 8, height: 8, channels: 3, bitDepth: 8 });
    disposeSample(s);
  });

  test('size mismatch and unreadable mask at load time; no tensors leak on failure', async () => {
    const d = fresh();
    await writeSynthetic(join(d, 'img.png'), 8, 6, 1, () => 1);
    await writeSynthetic(join(d, 'small.png'), 8, 5, 1, () => 0);
    writeFileSync(join(d, 'broken.png'), 'nope');
    const before = memory().liveTensors;
    await assert.rejects(loadSample(rec2d(join(d, 'img.png'), join(d, 'small.png'))),
      (e: unknown) => e instanceof DataError && e.code === 'SIZE_MISMATCH' && /small\.png is 8x5 but image .*img\.png is 8x6/.test(e.message));
    await assert.rejects(loadSample(rec2d(join(d, 'img.png'), join(d, 'broken.png'))), (e: unknown) => e instanceof DataError && e.code === 'UNREADABLE');
    assert.ok(memory().liveTensors <= before); // (garbage collection may free earlier handles meanwhile)
  });
});

describe('volumes: MSD and nnU-Net layouts', () => {
  const geom = makeGeometry([3, 4, 5], [2, 1, 1]);
  const vol = (v: number, dtype: 'float32' | 'uint8' = 'float32') => arange(0, 60, 1, { dtype: 'float32' }).reshape(3, 4, 5).mul(v).to(dtype);
  const label = () => tensor(Uint8Array.from({ length: 60 }, (_, i) => i % 3), [3, 4, 5]);

  test('nnU-Net v2: channel files stack into [C, D, H, W]; labels keep their values', async () => {
    const d = fresh();
    writeFileSync(join(d, 'dataset.json'), JSON.stringify({ channel_names: { 0: 'T1', 1: 'T2' }, labels: { background: 0, head: 1, tail: 2 }, numTraining: 2, file_ending: '.nii.gz' }));
    for (const c of ['case_1', 'case_2']) {
      await writeNifti(join(d, 'imagesTr', `${c}_0000.nii.gz`), vol(1), geom);
      await writeNifti(join(d, 'imagesTr', `${c}_0001.nii.gz`), vol(2, 'uint8'), geom);
      await writeNifti(join(d, 'labelsTr', `${c}.nii.gz`), label(), geom);
    }
    await writeNifti(join(d, 'imagesTs', 'case_9_0000.nii.gz'), vol(1), geom);
    await writeNifti(join(d, 'imagesTs', 'case_9_0001.nii.gz'), vol(1), geom);
    const idx = await discoverDataset(d);
    assert.equal(idx.layout, 'nnunet');
    assert.equal(idx.dims, 3);
    assert.deepEqual(idx.labels, { 0: 'background', 1: 'head', 2: 'tail' });
    assert.equal(idx.encoding, 'labels');
    assert.deepEqual(idx.unlabeled.map((u) => [u.id, u.channelPaths?.length, u.meta.source]), [['case_9', 2, 'imagesTs']]);
    const s = await loadSample(idx.samples[1]!, {}, idx);
    assert.deepEqual(s.image.shape, [2, 3, 4, 5]);
    assert.equal(s.image.dtype, 'float32');
    assert.equal(s.image.select(0, 1).max().item(), 118); // uint8 channel, 59 * 2
    assert.deepEqual(s.mask!.shape, [3, 4, 5]);
    assert.deepEqual(values(s.mask!), [0, 1, 2]);
    assert.deepEqual(s.spacing, [2, 1, 1]);
    assert.equal(s.geometry.kind, 'volume');
    disposeSample(s);
  });

  test('nnU-Net v2: a missing channel file or an unlabeled case fails with names', async () => {
    const d = fresh();
    writeFileSync(join(d, 'dataset.json'), JSON.stringify({ channel_names: { 0: 'a', 1: 'b' }, labels: { background: 0, x: 1 }, file_ending: '.nii.gz' }));
    await writeNifti(join(d, 'imagesTr', 'c1_0000.nii.gz'), vol(1), geom);
    await writeNifti(join(d, 'labelsTr', 'c1.nii.gz'), label(), geom);
    await assert.rejects(discoverDataset(d), (e: unknown) => e instanceof DataError && e.code === 'UNPAIRED' && /c1_0001\.nii\.gz/.test(e.message));
    await writeNifti(join(d, 'imagesTr', 'c1_0001.nii.gz'), vol(1), geom);
    await writeNifti(join(d, 'imagesTr', 'c2_0000.nii.gz'), vol(1), geom);
    await writeNifti(join(d, 'imagesTr', 'c2_0001.nii.gz'), vol(1), geom);
    await assert.rejects(discoverDataset(d), (e: unknown) => e instanceof DataError && e.code === 'UNPAIRED' && /"c2"/.test(e.message));
    writeFileSync(join(d, 'imagesTr', 'stray.nii.gz'), 'x');
    await assert.rejects(discoverDataset(d, { allowUnlabeled: true }), /not named CASE_XXXX/);
  });

  test('nnU-Net v2 with PNG files is 2D', async () => {
    const d = fresh();
    writeFileSync(join(d, 'dataset.json'), JSON.stringify({ channel_names: { 0: 'R', 1: 'G', 2: 'B' }, labels: { background: 0, road: 1 }, file_ending: '.png' }));
    for (const c of [0, 1, 2]) await writeSynthetic(join(d, 'imagesTr', `img_${String(c).padStart(4, '0')}.png`), 5, 4, 1, () => c * 10);
    await writeSynthetic(join(d, 'labelsTr', 'img.png'), 5, 4, 1, (x) => (x > 2 ? 1 : 0));
    const idx = await discoverDataset(d);
    assert.equal(idx.dims, 2);
    assert.equal(idx.samples[0]!.channelPaths!.length, 3);
  });

  test('MSD: dataset.json training list, 4-D multi-modal image, missing files named', async () => {
    const d = fresh();
    const entry = (id: string) => ({ image: `./imagesTr/${id}.nii.gz`, label: `./labelsTr/${id}.nii.gz` });
    writeFileSync(join(d, 'dataset.json'), JSON.stringify({ name: 'Prostate', labels: { 0: 'background', 1: 'PZ' }, modality: { 0: 'T2', 1: 'ADC' }, numTraining: 2, training: [entry('p_1'), entry('p_2')] }));
    const four = arange(0, 120, 1, { dtype: 'float32' }).reshape(2, 3, 4, 5);
    await writeNifti(join(d, 'imagesTr', 'p_1.nii.gz'), four, geom);
    await writeNifti(join(d, 'labelsTr', 'p_1.nii.gz'), label(), geom);
    writeFileSync(join(d, 'imagesTr', '._p_1.nii.gz'), 'resource fork'); // macOS tar debris is ignored
    await assert.rejects(discoverDataset(d), (e: unknown) => e instanceof DataError && e.code === 'NOT_FOUND' && /p_2\.nii\.gz/.test(e.message));
    await writeNifti(join(d, 'imagesTr', 'p_2.nii.gz'), four, geom);
    await writeNifti(join(d, 'labelsTr', 'p_2.nii.gz'), label(), geom);
    const idx = await discoverDataset(d);
    assert.equal(idx.layout, 'msd');
    assert.equal(idx.name, 'Prostate');
    const s = await loadSample(idx.samples[0]!, {}, idx);
    assert.deepEqual(s.image.shape, [2, 3, 4, 5]);
    disposeSample(s);
  });

  test('label volumes: shape and affine mismatches, float labels, non-integer labels', async () => {
    const d = fresh();
    const img = join(d, 'img.nii.gz');
    await writeNifti(img, vol(1), geom);
    const rec = (maskPath: string): SampleRecord => ({ id: 'v', imagePath: img, maskPath, extra: {}, dims: 3, meta: {} });
    const small = join(d, 'small.nii.gz');
    await writeNifti(small, tensor(new Uint8Array(3 * 4 * 4), [3, 4, 4]), makeGeometry([3, 4, 4], [2, 1, 1]));
    await assert.rejects(loadSample(rec(small)), (e: unknown) => e instanceof DataError && e.code === 'SIZE_MISMATCH' && /3x4x4 but image .* 3x4x5/.test(e.message));
    const moved = join(d, 'moved.nii.gz');
    await writeNifti(moved, label(), makeGeometry([3, 4, 5], [2, 1, 1], [[1, 0, 0, 5], [0, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1]]));
    await assert.rejects(loadSample(rec(moved)), (e: unknown) => e instanceof DataError && e.code === 'GEOMETRY_MISMATCH');
    const ok = await loadSample(rec(moved), { checkGeometry: false });
    disposeSample(ok);
    const floatLab = join(d, 'float.nii.gz');
    await writeNifti(floatLab, label().float(), geom); // hippocampus has two float32 label files
    const f = await loadSample(rec(floatLab));
    assert.equal(f.mask!.dtype, 'uint8');
    assert.deepEqual(values(f.mask!), [0, 1, 2]);
    disposeSample(f);
    const frac = join(d, 'frac.nii.gz');
    await writeNifti(frac, label().float().mul(0.5), geom);
    await assert.rejects(loadSample(rec(frac)), /non-integer/);
  });
});
