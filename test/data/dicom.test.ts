import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { readDicomSeries, writeNifti, readNifti, affineDistance, DataError, readVolume } from '../../src/data/index.ts';
import { tempDir, writeDicomSlice, TS, type DicomSliceSpec } from './helpers.ts';

const { dir, cleanup } = tempDir();
after(cleanup);

const ROWS = 4, COLS = 6;
const tilt = Math.PI / 9; // 20° about x: rows along +x, columns tilted in y/z
const ROW: [number, number, number] = [1, 0, 0];
const COL: [number, number, number] = [0, Math.cos(tilt), Math.sin(tilt)];
const NORMAL: [number, number, number] = [0, -Math.sin(tilt), Math.cos(tilt)]; // ROW × COL
const ORIGIN: [number, number, number] = [-100, 50, 20];
const DZ = 3, DY = 0.9, DX = 0.6;

/** Writes a series of n slices whose file names run opposite to their positions, with scrambled instance numbers. */
function writeSeries(folder: string, n: number, extra: Partial<DicomSliceSpec> = {}, value = (k: number, i: number): number => k * 100 + i - 7): void {
  mkdirSync(folder, { recursive: true });
  for (let k = 0; k < n; k++) {
    const pixels = new Int16Array(ROWS * COLS).map((_, i) => value(k, i));
    writeDicomSlice(join(folder, `IM${String(n - k).padStart(4, '0')}.dcm`), {
      rows: ROWS, cols: COLS, pixels, signed: true, instance: (k * 7) % n + 1,
      position: ORIGIN.map((o, a) => o + k * DZ * NORMAL[a]!) as [number, number, number],
      orientation: [...ROW, ...COL], pixelSpacing: [DY, DX], slope: 2, intercept: -1024, ...extra,
    });
  }
}

for (const [name, ts, part10] of [
  ['explicit VR little endian', TS.explicitLE, true], ['implicit VR little endian', TS.implicitLE, true],
  ['explicit VR big endian', TS.explicitBE, true], ['deflated explicit VR', TS.deflated, true], ['bare dataset without preamble', TS.implicitLE, false],
] as const) {
  test(`series (${name}): slice order, rescale, spacing and affine`, async () => {
    const folder = join(dir, `series-${name.replace(/\W+/g, '-')}`);
    writeSeries(folder, 5, { transferSyntax: ts, part10 });
    const { data, geometry } = await readDicomSeries(folder);
    assert.deepEqual(data.shape, [5, ROWS, COLS]);
    assert.equal(data.dtype, 'float32');
    for (let k = 0; k < 5; k++) {
      assert.deepEqual(data.select(0, k).flatten().toArray(), Array.from({ length: ROWS * COLS }, (_, i) => (k * 100 + i - 7) * 2 - 1024));
    }
    geometry.spacing.forEach((v, i) => assert.ok(Math.abs(v - [DZ, DY, DX][i]!) < 1e-6, `spacing ${geometry.spacing}`));
    // (i, j, k) → RAS: LPS directions with x and y negated
    const ras = (v: number[]): number[] => [-v[0]!, -v[1]!, v[2]!];
    const expected = [0, 1, 2].map((r) => [ras(ROW)[r]! * DX, ras(COL)[r]! * DY, ras(NORMAL)[r]! * DZ, ras(ORIGIN)[r]!]);
    assert.ok(affineDistance(geometry.affine, [...expected, [0, 0, 0, 1]]) < 1e-6, JSON.stringify(geometry.affine));
    assert.equal(geometry.orientation, 'LPS');
    assert.equal(geometry.dicom!.files[0]!.endsWith('IM0005.dcm'), true); // lowest position first, not name order
    assert.equal(geometry.dicom!.irregularSpacing, false);
    data.dispose();
  });
}

test('a DICOM volume written as NIfTI keeps its world geometry', async () => {
  const folder = join(dir, 'to-nifti');
  writeSeries(folder, 4);
  const vol = await readVolume(folder);
  const out = join(dir, 'from-dicom.nii.gz');
  await writeNifti(out, vol.data, vol.geometry);
  const back = await readNifti(out);
  assert.ok(affineDistance(back.geometry.affine, vol.geometry.affine) < 1e-4);
  assert.ok(back.data.eq(vol.data).all().item());
  vol.data.dispose(); back.data.dispose();
});

test('12-bit stored values: unsigned masked, signed sign-extended', async () => {
  const u = join(dir, 'u12');
  mkdirSync(u);
  const stored = new Uint16Array([0xf000 | 4095, 0xa000 | 2048, 1, 0]);
  writeDicomSlice(join(u, 'a.dcm'), { rows: 2, cols: 2, pixels: stored, signed: false, bitsStored: 12, instance: 1 });
  const a = await readDicomSeries(u);
  assert.deepEqual(a.data.flatten().toArray(), [4095, 2048, 1, 0]);
  const sgn = join(dir, 's12');
  mkdirSync(sgn);
  const neg = new Uint16Array([0xa000 | 0xffb, 0x0005, 0x5800, 0x07ff]); // -5, 5, -2048, 2047 with junk high bits
  writeDicomSlice(join(sgn, 'a.dcm'), { rows: 2, cols: 2, pixels: new Int16Array(neg.buffer), signed: true, bitsStored: 12, instance: 1 });
  const b = await readDicomSeries(sgn);
  assert.deepEqual(b.data.flatten().toArray(), [-5, 5, -2048, 2047]);
  const u8 = join(dir, 'u8');
  mkdirSync(u8);
  writeDicomSlice(join(u8, 'a.dcm'), { rows: 1, cols: 3, pixels: new Uint8Array([0, 128, 255]), signed: false, instance: 1 });
  assert.deepEqual((await readDicomSeries(u8)).data.flatten().toArray(), [0, 128, 255]);
  a.data.dispose(); b.data.dispose();
});

test('compressed transfer syntaxes are rejected naming the syntax', async () => {
  for (const [ts, name] of [[TS.jpegBaseline, 'JPEG Baseline'], [TS.jpeg2000, 'JPEG 2000']] as const) {
    const folder = join(dir, `jpeg-${ts}`);
    writeSeries(folder, 2, { transferSyntax: ts });
    await assert.rejects(readDicomSeries(folder), (e: unknown) =>
      e instanceof DataError && e.code === 'UNSUPPORTED' && e.message.includes(ts) && e.message.includes(name) && !e.message.includes('\n'));
  }
});

test('several series need a choice; seriesUid picks one', async () => {
  const folder = join(dir, 'two-series');
  writeSeries(folder, 3, { seriesUid: '1.2.3.100' });
  for (let k = 0; k < 2; k++) {
    writeDicomSlice(join(folder, `other${k}.dcm`), { rows: ROWS, cols: COLS, pixels: new Int16Array(ROWS * COLS), signed: true, instance: k + 1, seriesUid: '1.2.3.200', position: [0, 0, k] });
  }
  await assert.rejects(readDicomSeries(folder), /holds 2 series.*1\.2\.3\.100.*1\.2\.3\.200.*seriesUid/);
  const one = await readDicomSeries(folder, { seriesUid: '1.2.3.200' });
  assert.deepEqual(one.data.shape, [2, ROWS, COLS]);
  await assert.rejects(readDicomSeries(folder, { seriesUid: '9.9' }), /series 9\.9 not found/);
  one.data.dispose();
});

test('broken series fail cleanly', async () => {
  const dup = join(dir, 'dup');
  writeSeries(dup, 2);
  writeDicomSlice(join(dup, 'copy.dcm'), { rows: ROWS, cols: COLS, pixels: new Int16Array(ROWS * COLS), signed: true, instance: 9, position: ORIGIN, orientation: [...ROW, ...COL] });
  await assert.rejects(readDicomSeries(dup), /same slice position/);

  const junk = join(dir, 'junk');
  writeSeries(junk, 2);
  writeFileSync(join(junk, 'notes'), 'not dicom at all, just text');
  await assert.rejects(readDicomSeries(junk), (e: unknown) => e instanceof DataError && e.code === 'UNREADABLE' && e.message.includes('notes'));

  const sizes = join(dir, 'sizes');
  writeSeries(sizes, 2);
  writeDicomSlice(join(sizes, 'big.dcm'), { rows: ROWS + 1, cols: COLS, pixels: new Int16Array((ROWS + 1) * COLS), signed: true, instance: 5, position: [0, 0, 99] });
  await assert.rejects(readDicomSeries(sizes), (e: unknown) => e instanceof DataError && e.code === 'SIZE_MISMATCH');

  const empty = join(dir, 'empty');
  mkdirSync(empty);
  writeFileSync(join(empty, 'readme.txt'), 'x');
  await assert.rejects(readDicomSeries(empty), (e: unknown) => e instanceof DataError && e.code === 'EMPTY_FOLDER');
  await assert.rejects(readDicomSeries(join(dir, 'nowhere')), (e: unknown) => e instanceof DataError && e.code === 'NOT_FOUND');
});

test('slices without positions fall back to InstanceNumber and SliceThickness', async () => {
  const folder = join(dir, 'nopos');
  mkdirSync(folder);
  for (const k of [2, 0, 1]) {
    writeDicomSlice(join(folder, `s${k}.dcm`), { rows: 1, cols: 2, pixels: new Int16Array([k, k]), signed: true, instance: k + 1 });
  }
  const v = await readDicomSeries(folder);
  assert.deepEqual(v.data.flatten().toArray(), [0, 0, 1, 1, 2, 2]);
  assert.equal(v.geometry.spacing[0], 2.5); // SliceThickness written by the helper
  v.data.dispose();
});
