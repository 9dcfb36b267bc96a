import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as nifti from 'nifti-reader-js';
import { tensor, arange, type DType } from '../../src/engine/index.ts';
import {
  readNifti, readNiftiInfo, writeNifti, makeGeometry, affineDistance, quaternToAffine, orientationCodes, DataError, type Mat4,
} from '../../src/data/index.ts';
import { tempDir, hasPythonNumpy, pythonNiftiHeader, PYTHON, SHARED_DATA } from './helpers.ts';

const { dir, cleanup } = tempDir();
after(cleanup);
const py = hasPythonNumpy();

// an oblique affine: 30° about z, anisotropic voxels, a flipped axis and an origin
const c = Math.cos(Math.PI / 6), s = Math.sin(Math.PI / 6);
const AFFINE: Mat4 = [
  [0.7 * c, -0.8 * s, 0, -90.5],
  [0.7 * s, 0.8 * c, 0, 12.25],
  [0, 0, -2.5, 40],
  [0, 0, 0, 1],
];

const close = (a: number, b: number, tol = 1e-5): boolean => Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));

test('write → read keeps data, affine, spacing and orientation (.nii.gz)', async () => {
  const [D, H, W] = [4, 5, 6];
  const data = arange(0, D * H * W, 1, { dtype: 'float32' }).reshape(D, H, W).mul(0.5);
  const geom = makeGeometry([D, H, W], [2.5, 0.8, 0.7], AFFINE);
  const path = join(dir, 'oblique.nii.gz');
  await writeNifti(path, data, geom);
  const back = await readNifti(path);
  assert.deepEqual(back.data.shape, [D, H, W]);
  assert.equal(back.data.dtype, 'float32');
  assert.ok(back.data.eq(data).all().item());
  assert.ok(affineDistance(back.geometry.affine, AFFINE) < 1e-4, JSON.stringify(back.geometry.affine));
  back.geometry.spacing.forEach((v, i) => assert.ok(close(v, [2.5, 0.8, 0.7][i]!), `spacing ${back.geometry.spacing}`));
  assert.equal(back.geometry.orientation, orientationCodes(AFFINE));
  assert.equal(back.geometry.orientation, 'RAI');
  // the qform written beside the sform encodes the same affine
  const h = back.geometry.nifti!;
  assert.equal(h.qformCode, 1);
  assert.equal(h.sformCode, 1);
  const q = quaternToAffine(h.quatern, h.qoffset, [h.pixdim[1]!, h.pixdim[2]!, h.pixdim[3]!], h.qfac);
  assert.ok(affineDistance(q, AFFINE) < 1e-4, JSON.stringify(q));
  data.dispose(); back.data.dispose();
});

test('nifti-reader-js reads our file: header fields, affine and voxels', async () => {
  const data = arange(0, 2 * 3 * 4, 1, { dtype: 'int16' }).reshape(2, 3, 4);
  const path = join(dir, 'plain.nii');
  await writeNifti(path, data, makeGeometry([2, 3, 4], [3, 2, 1], AFFINE));
  const buf = readFileSync(path);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  assert.ok(nifti.isNIFTI1(ab));
  const h = nifti.readHeader(ab) as nifti.NIFTI1;
  assert.deepEqual(h.dims.slice(0, 4), [3, 4, 3, 2]);
  assert.equal(h.datatypeCode, nifti.NIFTI1.TYPE_INT16);
  assert.equal(h.vox_offset, 352);
  assert.ok(affineDistance(h.affine, AFFINE) < 1e-4);
  const voxels = new Int16Array(nifti.readImage(h, ab));
  assert.deepEqual(Array.from(voxels), Array.from({ length: 24 }, (_, i) => i));
  data.dispose();
});

test('an independent reader (python struct + numpy) agrees with the header and the voxel order', { skip: !py && 'python3 with numpy not available' }, async () => {
  const [D, H, W] = [5, 6, 7];
  const data = arange(0, D * H * W, 1, { dtype: 'int32' }).reshape(D, H, W);
  const path = join(dir, 'py.nii.gz');
  await writeNifti(path, data, makeGeometry([D, H, W], [2.5, 0.8, 0.7], AFFINE));
  const r = pythonNiftiHeader(path) as { sizeof_hdr: number; magic: string; dim: number[]; datatype: number; bitpix: number; pixdim: number[]; vox_offset: number; qform_code: number; sform_code: number; srow: number[]; sum: number; value_at_ijk_123: number };
  assert.equal(r.sizeof_hdr, 348);
  assert.equal(r.magic, 'n+1\0');
  assert.deepEqual(r.dim.slice(0, 4), [3, W, H, D]);
  assert.equal(r.datatype, 8);
  assert.equal(r.bitpix, 32);
  assert.equal(r.vox_offset, 352);
  assert.deepEqual([r.qform_code, r.sform_code], [1, 1]);
  r.pixdim.slice(1, 4).forEach((v, i) => assert.ok(close(v, [0.7, 0.8, 2.5][i]!)));
  r.srow.forEach((v, i) => assert.ok(close(v, AFFINE[Math.floor(i / 4)]![i % 4]!, 1e-6)));
  const n = D * H * W;
  assert.equal(r.sum, (n * (n - 1)) / 2);
  // numpy a[i=1, j=2, k=3] is tensor [k=3, j=2, i=1]
  assert.equal(r.value_at_ijk_123, data.select(0, 3).select(0, 2).select(0, 1).item());
  data.dispose();
});

test('every writable dtype round-trips; bool is stored as uint8', async () => {
  for (const dtype of ['uint8', 'int8', 'int16', 'int32', 'int64', 'float32', 'float64'] as DType[]) {
    const t = tensor([0, 1, 2, 3, 4, 5, 6, 7], [2, 2, 2], { dtype });
    const path = join(dir, `dt_${dtype}.nii`);
    await writeNifti(path, t, null);
    const back = await readNifti(path);
    assert.equal(back.data.dtype, dtype, dtype);
    assert.deepEqual(back.data.toArray(), [0, 1, 2, 3, 4, 5, 6, 7]);
    t.dispose(); back.data.dispose();
  }
  const b = tensor([1, 0, 1, 1], [1, 2, 2], { dtype: 'bool' });
  await writeNifti(join(dir, 'bool.nii'), b);
  const back = await readNifti(join(dir, 'bool.nii'));
  assert.equal(back.data.dtype, 'uint8');
  assert.equal(back.geometry.nifti!.datatype, 'uint8');
  b.dispose(); back.data.dispose();
});

test('4-D volumes [T, D, H, W] keep their frames', async () => {
  const t = arange(0, 2 * 3 * 4 * 5, 1, { dtype: 'float32' }).reshape(2, 3, 4, 5);
  const path = join(dir, 'four.nii.gz');
  await writeNifti(path, t, makeGeometry([3, 4, 5]));
  const back = await readNifti(path);
  assert.deepEqual(back.data.shape, [2, 3, 4, 5]);
  assert.ok(back.data.eq(t).all().item());
  t.dispose(); back.data.dispose();
});

const HIPPO = join(SHARED_DATA, 'mri-hippocampus', 'imagesTr', 'hippocampus_001.nii.gz');
test('a prediction written with a real source geometry copies its header geometry exactly', { skip: !existsSync(HIPPO) && '../shared/data not present' }, async () => {
  const src = HIPPO;
  const vol = await readNifti(src);
  const pred = vol.data.gt(60).to('uint8');
  const out = join(dir, 'pred_001.nii.gz');
  await writeNifti(out, pred, vol.geometry);
  const back = await readNifti(out);
  const a = vol.geometry.nifti!, b = back.geometry.nifti!;
  for (const key of ['pixdim', 'qformCode', 'sformCode', 'quatern', 'qoffset', 'qfac', 'srow', 'xyztUnits', 'dimInfo'] as const) {
    assert.deepEqual(b[key], a[key], key);
  }
  assert.deepEqual(back.geometry.affine, vol.geometry.affine);
  assert.deepEqual(back.geometry.spacing, vol.geometry.spacing);
  assert.ok(back.data.eq(pred).all().item());
  // header-only read gives the same geometry without voxels
  const info = await readNiftiInfo(out);
  assert.deepEqual(info.geometry.shape, vol.geometry.shape);
  assert.equal(info.datatype, 'uint8');
  vol.data.dispose(); pred.dispose(); back.data.dispose();
});

test('files from another writer: big-endian, uint16, scl_slope/inter, qform only', { skip: !py && 'python3 with numpy not available' }, async () => {
  const script = `
import struct, sys, numpy as np
def write(path, endian, code, np_dtype, slope, inter):
    e = '>' if endian == 'be' else '<'
    h = bytearray(352)
    struct.pack_into(e + 'i', h, 0, 348)
    struct.pack_into(e + '8h', h, 40, 3, 4, 5, 6, 1, 1, 1, 1)
    struct.pack_into(e + 'hh', h, 70, code, np.dtype(np_dtype).itemsize * 8)
    struct.pack_into(e + '8f', h, 76, 1, 1.5, 2, 3, 1, 1, 1, 1)
    struct.pack_into(e + 'fff', h, 108, 352, slope, inter)
    struct.pack_into(e + 'hh', h, 252, 1, 0)
    struct.pack_into(e + '6f', h, 256, 0, 0, 0.7071068, 10, 20, 30)  # 90 degrees about z
    h[344:348] = b'n+1\\0'
    a = (np.arange(4 * 5 * 6) * 300).astype(np.dtype(np_dtype).newbyteorder(e))
    open(path, 'wb').write(bytes(h) + a.tobytes())
write(sys.argv[1], 'be', 4, 'int16', 2.0, -10.0)
write(sys.argv[2], 'le', 512, 'uint16', 0.0, 0.0)
`;
  const be = join(dir, 'be.nii'), u16 = join(dir, 'u16.nii');
  const r = spawnSync(PYTHON, ['-c', script, be, u16], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const a = await readNifti(be);
  assert.equal(a.data.dtype, 'float32'); // scaled
  assert.deepEqual(a.data.shape, [6, 5, 4]);
  const expected = Array.from({ length: 120 }, (_, i) => ((i * 300) << 16 >> 16) * 2 - 10); // int16 wraps
  assert.deepEqual(a.data.toArray(), expected);
  assert.equal(a.geometry.orientation, 'ALS'); // i → +y, j → -x, k → +z
  assert.ok(affineDistance(a.geometry.affine, [[0, -2, 0, 10], [1.5, 0, 0, 20], [0, 0, 3, 30], [0, 0, 0, 1]]) < 1e-5);
  assert.deepEqual(a.geometry.spacing, [3, 2, 1.5]);
  const b = await readNifti(u16);
  assert.equal(b.data.dtype, 'int32');
  assert.deepEqual(b.data.toArray(), Array.from({ length: 120 }, (_, i) => (i * 300) % 65536));
  const raw = await readNifti(be, { scale: false });
  assert.equal(raw.data.dtype, 'int16');
  a.data.dispose(); b.data.dispose(); raw.data.dispose();
});

test('broken NIfTI files fail cleanly', async () => {
  const notNii = join(dir, 'junk.nii');
  writeFileSync(notNii, Buffer.alloc(400, 7));
  await assert.rejects(readNifti(notNii), (e: unknown) => e instanceof DataError && e.code === 'UNREADABLE' && /magic/.test(e.message));
  const t = arange(0, 1000, 1, { dtype: 'float32' }).reshape(10, 10, 10);
  const good = join(dir, 'good.nii');
  await writeNifti(good, t);
  const bytes = readFileSync(good);
  const trunc = join(dir, 'trunc.nii');
  writeFileSync(trunc, bytes.subarray(0, 2000));
  await assert.rejects(readNifti(trunc), (e: unknown) => e instanceof DataError && /truncated/.test(e.message));
  const gz = join(dir, 'badgz.nii.gz');
  writeFileSync(gz, Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5]));
  await assert.rejects(readNifti(gz), (e: unknown) => e instanceof DataError && /gzip/.test(e.message));
  const rgb = Buffer.from(bytes);
  rgb.writeInt16LE(128, 70);
  writeFileSync(join(dir, 'rgb.nii'), rgb);
  await assert.rejects(readNifti(join(dir, 'rgb.nii')), (e: unknown) => e instanceof DataError && e.code === 'UNSUPPORTED' && /rgb24/.test(e.message));
  await assert.rejects(readNifti(join(dir, 'missing.nii.gz')), (e: unknown) => e instanceof DataError && e.code === 'NOT_FOUND');
  await assert.rejects(writeNifti(join(dir, 'x.nii'), t, makeGeometry([10, 10, 9])), /differs from the geometry/);
  await assert.rejects(writeNifti(join(dir, 'x.png'), t), /\.nii/);
  t.dispose();
});
