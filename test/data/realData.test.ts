// Smoke test on every folder of ../shared/data (relative to the repository root): discover all pairs, check every
// header, load a few samples and check shapes, dtypes and label values, and exercise each set's quirks.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, basename } from 'node:path';
import {
  discoverDataset, checkDataset, loadSample, disposeSample, makeSplit, readNiftiInfo, type DatasetIndex, type LoadedSample,
} from '../../src/data/index.ts';
import { SHARED_DATA } from './helpers.ts';

const have = existsSync(SHARED_DATA);
const hippoCount = have ? (JSON.parse(readFileSync(join(SHARED_DATA, 'mri-hippocampus', 'dataset.json'), 'utf8')) as { numTraining: number }).numTraining : 0;
const EXPECTED: Record<string, { count: number; dims: 2 | 3; layout: string; channels: number }> = {
  'polyp-kvasir-256': { count: 1000, dims: 2, layout: 'images+masks', channels: 3 },
  'polyp-cvc-clinicdb': { count: 612, dims: 2, layout: 'images+masks', channels: 3 },
  'derm-isic2017': { count: 400, dims: 2, layout: 'images+masks', channels: 3 },
  'fundus-drive': { count: 40, dims: 2, layout: 'images+masks', channels: 3 },
  'nuclei-dsb2018': { count: 200, dims: 2, layout: 'images+masks', channels: 3 },
  'us-busi': { count: 263, dims: 2, layout: 'images+masks', channels: 1 },
  'xray-lungs': { count: 98, dims: 2, layout: 'images+masks', channels: 1 },
  'mri-hippocampus': { count: hippoCount, dims: 3, layout: 'msd', channels: 1 },
};

const indexes = new Map<string, Promise<DatasetIndex>>();
const index = (name: string): Promise<DatasetIndex> => {
  if (!indexes.has(name)) indexes.set(name, discoverDataset(join(SHARED_DATA, name)));
  return indexes.get(name)!;
};
const values = (t: { toArray(): number[] }): number[] => [...new Set(t.toArray())].sort((a, b) => a - b);

async function withSample<T>(idx: DatasetIndex, id: string, fn: (s: LoadedSample) => T): Promise<T> {
  const rec = idx.samples.find((r) => r.id === id);
  assert.ok(rec, `sample ${id} not found`);
  const s = await loadSample(rec, {}, idx);
  try {
    return fn(s);
  } finally {
    disposeSample(s);
  }
}

describe('real datasets in ../shared/data', { skip: !have && '../shared/data not present' }, () => {
  test('every folder has an expectation here', () => {
    const folders = readdirSync(SHARED_DATA, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    assert.deepEqual(folders, Object.keys(EXPECTED).sort());
  });

  for (const [name, exp] of Object.entries(EXPECTED)) {
    test(`${name}: discovers ${exp.count || 'all'} pairs, every header checks, samples load`, async () => {
      const idx = await index(name);
      assert.equal(idx.layout, exp.layout);
      assert.equal(idx.dims, exp.dims);
      assert.equal(idx.samples.length, exp.count);
      assert.equal(idx.unlabeled.length, 0);
      assert.deepEqual(idx.warnings, []);
      assert.equal(new Set(idx.samples.map((s) => s.id)).size, exp.count);
      await checkDataset(idx, { concurrency: 16 });
      const picks = [idx.samples[0]!, idx.samples[Math.floor(exp.count / 2)]!, idx.samples[exp.count - 1]!];
      for (const rec of picks) {
        const s = await loadSample(rec, {}, idx);
        try {
          const hw = exp.dims === 2 ? s.image.shape.slice(1) : s.image.shape.slice(1);
          assert.equal(s.image.shape[0], exp.channels, `${rec.id} channels`);
          assert.equal(s.image.dtype, 'float32');
          assert.deepEqual(s.mask!.shape, hw);
          assert.equal(s.mask!.dtype, 'uint8');
          const labels = values(s.mask!);
          const allowed = exp.dims === 3 ? [0, 1, 2] : [0, 1];
          assert.ok(labels.every((v) => allowed.includes(v)), `${rec.id} labels ${labels}`);
          assert.equal(s.spacing.length, exp.dims);
          assert.equal(s.sourcePath, rec.imagePath);
        } finally {
          disposeSample(s);
        }
      }
    });
  }

  test('polyp-kvasir-256: JPEG masks threshold to binary; near-duplicate pairs share a group and a split', async () => {
    const idx = await index('polyp-kvasir-256');
    assert.equal(idx.encoding, 'threshold');
    assert.equal(basename(idx.samples[0]!.maskPath!).endsWith('.jpg'), true);
    await withSample(idx, 'cju0qkwl35piu0993l0dewei2', (s) => {
      assert.deepEqual(s.image.shape, [3, 256, 256]);
      assert.deepEqual(values(s.mask!), [0, 1]);
    });
    const pairs = [['cju76lsehyia10987u54vn8rb', 'cju772304yw5t0818vbw8kkjf'], ['cju30bmab08bi0835mvlr6e0r', 'cju77k828z46w0871r0avuoo9'], ['cju886ryxnsl50801r93jai7q', 'cju8amfdtqi4x09871tygrgqe']];
    for (const [a, b] of pairs) assert.equal(idx.groups![a!], idx.groups![b!]);
    for (const seed of [0, 1, 2, 3, 4]) {
      const split = makeSplit(idx.samples.map((s) => s.id), { seed, fractions: { train: 0.8, val: 0.1, test: 0.1 }, groups: idx.groups });
      for (const [a, b] of pairs) for (const part of ['train', 'val', 'test'] as const) assert.equal(split[part].includes(a!), split[part].includes(b!));
    }
  });

  test('polyp-cvc-clinicdb: 29 video sequences as groups; a split never cuts a sequence', async () => {
    const idx = await index('polyp-cvc-clinicdb');
    assert.equal(Object.keys(idx.groups!).length, 612);
    assert.equal(new Set(Object.values(idx.groups!)).size, 29);
    assert.equal(idx.groups!['25'], idx.groups!['1']);
    assert.notEqual(idx.groups!['26'], idx.groups!['25']);
    const split = makeSplit(idx.samples.map((s) => s.id), { seed: 2024, fractions: { train: 0.7, val: 0.1, test: 0.2 }, groups: idx.groups });
    const seqParts = new Map<string, Set<string>>();
    for (const part of ['train', 'val', 'test'] as const) for (const id of split[part]) seqParts.set(idx.groups![id]!, (seqParts.get(idx.groups![id]!) ?? new Set()).add(part));
    assert.ok([...seqParts.values()].every((p) => p.size === 1));
    await withSample(idx, '1', (s) => assert.deepEqual(s.image.shape, [3, 192, 256]));
  });

  test('derm-isic2017: _segmentation masks, variable aspect ratios', async () => {
    const idx = await index('derm-isic2017');
    assert.ok(idx.samples.every((s) => s.maskPath!.endsWith('_segmentation.png')));
    const shapes = new Set<string>();
    for (const id of ['ISIC_0000000', 'ISIC_0000001', 'ISIC_0000013']) {
      await withSample(idx, id, (s) => { shapes.add(s.image.shape.join('x')); assert.ok(s.mask!.sum().item() > 0); });
    }
    assert.ok(shapes.size >= 1);
  });

  test('fundus-drive: GIF masks, fov/ extra for every image, the official 20/20 split', async () => {
    const idx = await index('fundus-drive');
    assert.ok(idx.samples.every((s) => s.extra.fov && s.maskPath!.endsWith('_manual1.gif')));
    assert.equal(idx.officialSplit!.train.length, 20);
    assert.equal(idx.officialSplit!.test.length, 20);
    assert.equal(idx.samples.find((s) => s.id === '21_training')!.meta.officialSplit, 'train');
    await withSample(idx, '21_training', (s) => {
      assert.deepEqual(s.image.shape, [3, 584, 565]);
      assert.deepEqual(values(s.extras.fov!), [0, 1]);
      // vessels lie inside the field of view, up to a few annotated pixels on its rim (31 of 40 images have some)
      const outside = s.mask!.logicalAnd(s.extras.fov!.logicalNot()).sum().item();
      assert.ok(outside < 0.001 * s.mask!.sum().item(), `${outside} vessel pixels outside the fov`);
    });
    const split = makeSplit(idx.samples.map((s) => s.id), { seed: 0, fractions: { train: 0.4, val: 0.1, test: 0.5 }, fixed: { test: idx.officialSplit!.test } });
    assert.deepEqual(split.test, [...idx.officialSplit!.test].sort());
    assert.ok(split.train.concat(split.val).every((id) => id.endsWith('_training')));
  });

  test('nuclei-dsb2018: 16-bit instance labels; the binary mask is their union', async () => {
    const idx = await index('nuclei-dsb2018');
    assert.ok(idx.samples.every((s) => s.extra.instances));
    for (const rec of idx.samples.slice(0, 3)) {
      await withSample(idx, rec.id, (s) => {
        const inst = s.extras.instances!;
        assert.equal(inst.dtype, 'int64');
        assert.ok(inst.max().item() > 1, 'several nuclei');
        assert.ok(s.mask!.eq(inst.gt(0)).all().item(), 'mask == instances > 0');
      });
    }
  });

  test('us-busi: names with spaces and parentheses, classes, empty masks for normal cases', async () => {
    const idx = await index('us-busi');
    const counts: Record<string, number> = {};
    for (const s of idx.samples) counts[s.meta.class!] = (counts[s.meta.class!] ?? 0) + 1;
    assert.deepEqual(counts, { benign: 147, malignant: 71, normal: 45 });
    await withSample(idx, 'normal (1)', (s) => { assert.equal(s.mask!.sum().item(), 0); assert.equal(s.image.shape[0], 1); });
    await withSample(idx, 'benign (4)', (s) => assert.ok(s.mask!.sum().item() > 0));
  });

  test('xray-lungs: stems with dots stay whole', async () => {
    const idx = await index('xray-lungs');
    const dotted = idx.samples.filter((s) => s.id.includes('.'));
    assert.ok(dotted.length > 0);
    for (const rec of dotted.slice(0, 2)) {
      assert.equal(basename(rec.maskPath!), `${rec.id}_mask.png`);
      await withSample(idx, rec.id, (s) => assert.deepEqual(values(s.mask!), [0, 1]));
    }
  });

  test('mri-hippocampus: labels 1 anterior / 2 posterior, mixed float32/uint8 files, 1 mm spacing', async () => {
    const idx = await index('mri-hippocampus');
    assert.deepEqual(idx.labels, { 0: 'background', 1: 'Anterior', 2: 'Posterior' });
    const labelTypes = await Promise.all(idx.samples.map(async (s) => [s.id, (await readNiftiInfo(s.maskPath!)).datatype] as const));
    const floatLabel = labelTypes.find(([, t]) => t === 'float32');
    assert.ok(floatLabel, 'a float32 label file');
    const imageTypes = new Set<string>();
    for (const s of idx.samples.slice(0, 12)) imageTypes.add((await readNiftiInfo(s.imagePath)).datatype);
    assert.deepEqual([...imageTypes].sort(), ['float32', 'uint8']);
    for (const id of [floatLabel[0], idx.samples[0]!.id]) {
      await withSample(idx, id, (s) => {
        assert.equal(s.image.ndim, 4);
        assert.equal(s.mask!.dtype, 'uint8');
        assert.deepEqual(values(s.mask!), [0, 1, 2]);
        assert.deepEqual(s.spacing, [1, 1, 1]);
        assert.equal(s.geometry.kind === 'volume' && s.geometry.orientation, 'RAS');
      });
    }
  });
});
